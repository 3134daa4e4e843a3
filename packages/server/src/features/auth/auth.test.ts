import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, PUBLIC_URL, TEST_PASSWORD, type TestServer } from '../../testing/test-server.js';

let server: TestServer;
beforeAll(async () => {
  server = await createTestServer();
});
afterAll(async () => {
  await server.close();
});

const json = (body: unknown) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

function cookie(response: { cookies: { name: string; value: string }[] }, name: string) {
  return response.cookies.find((c) => c.name === name);
}

describe('sign-up', () => {
  it('answers 204 for a new and for an existing e-mail alike', async () => {
    const first = await server.app.inject({
      method: 'POST',
      url: '/auth/signup',
      payload: { email: 'ada@example.com', password: TEST_PASSWORD },
    });
    const again = await server.app.inject({
      method: 'POST',
      url: '/auth/signup',
      payload: { email: 'Ada@Example.com', password: 'another password' },
    });
    expect(first.statusCode).toBe(204);
    expect(first.body).toBe('');
    expect(again.statusCode).toBe(204);
    expect(again.body).toBe('');
    // The second sign-up did not replace the first account's password.
    expect((await server.login('ada@example.com')).statusCode).toBe(200);
    expect((await server.login('ada@example.com', 'another password')).statusCode).toBe(401);
  });

  it.each([
    ['a short password', { email: 'short@example.com', password: 'seven77' }],
    ['a 257-character password', { email: 'long@example.com', password: 'x'.repeat(257) }],
    ['a malformed e-mail', { email: 'not-an-email', password: TEST_PASSWORD }],
    ['a number for the password', { email: 'num@example.com', password: 12345678 }],
    ['an unknown field', { email: 'role@example.com', password: TEST_PASSWORD, role: 'admin' }],
  ])('refuses %s with 400 INVALID_PAYLOAD', async (_name, payload) => {
    const response = await server.app.inject({ method: 'POST', url: '/auth/signup', payload });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors[0].extensions.code).toBe('INVALID_PAYLOAD');
  });
});

describe('login', () => {
  it('answers access token, refresh token and expires in milliseconds in json mode', async () => {
    const { email } = await server.user();
    const response = await server.login(email);
    expect(response.statusCode).toBe(200);
    const { data } = response.json();
    expect(Object.keys(data).sort()).toEqual(['access_token', 'expires', 'refresh_token']);
    expect(data.expires).toBe(15 * 60 * 1000);
    expect(response.cookies).toHaveLength(0);
    const header = decodeProtectedHeader(data.access_token);
    expect(header.alg).toBe('ES256');
    expect(header.kid).toEqual(expect.any(String));
    const claims = decodeJwt(data.access_token);
    expect(claims).toMatchObject({
      iss: PUBLIC_URL,
      aud: 'gatehouse',
      role: 'user',
      permissions: [],
      project: server.projectId,
      amr: ['pwd'],
      token_use: 'access',
    });
    expect(claims.exp! - claims.iat!).toBe(900);
    for (const claim of ['sub', 'jti', 'sid', 'auth_time']) expect(claims[claim]).toBeDefined();
  });

  it('sets an HttpOnly refresh cookie in cookie mode and leaves the token out of the body', async () => {
    const { email } = await server.user();
    const response = await server.login(email, TEST_PASSWORD, 'cookie');
    expect(response.statusCode).toBe(200);
    const { data } = response.json();
    expect(Object.keys(data).sort()).toEqual(['access_token', 'expires']);
    const refresh = cookie(response, 'gatehouse_refresh_token');
    expect(refresh).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/auth', maxAge: 7 * 24 * 3600 });
    expect(refresh && 'secure' in refresh ? refresh.secure : undefined).toBeFalsy();
  });

  it('sets only a session cookie in session mode', async () => {
    const { email } = await server.user();
    const response = await server.login(email, TEST_PASSWORD, 'session');
    expect(response.statusCode).toBe(200);
    expect(response.json().data).toEqual({ expires: 24 * 3600 * 1000 });
    const session = cookie(response, 'gatehouse_session_token');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/', maxAge: 24 * 3600 });
    expect(cookie(response, 'gatehouse_refresh_token')).toBeUndefined();
  });

  it('answers the same 401 for an unknown e-mail, a wrong password and a suspended account', async () => {
    const { email } = await server.user();
    const suspended = await server.user();
    await server.database.db
      .updateTable('users')
      .set({ status: 'suspended' })
      .where('email', '=', suspended.email)
      .execute();
    const answers = await Promise.all([
      server.login('nobody@example.com'),
      server.login(email, 'wrong password'),
      server.login(suspended.email),
    ]);
    for (const answer of answers) {
      expect(answer.statusCode).toBe(401);
      expect(answer.json()).toEqual({
        errors: [{ message: 'Invalid user credentials.', extensions: { code: 'INVALID_CREDENTIALS' } }],
      });
    }
  });

  it.each([
    ['an unknown mode', { mode: 'bearer' }],
    ['a missing password', { password: undefined }],
    ['an array for the e-mail', { email: ['a@example.com'] }],
  ])('refuses %s with 400', async (_name, patch) => {
    const payload = { email: 'x@example.com', password: TEST_PASSWORD, ...patch };
    const response = await server.app.inject({ method: 'POST', url: '/auth/login', payload });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors[0].extensions.code).toBe('INVALID_PAYLOAD');
  });

  it('refuses malformed JSON with 400 and an oversized body with 413, without a stack trace', async () => {
    const malformed = await server.app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': 'application/json' },
      body: '{"email":',
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().errors[0].extensions.code).toBe('INVALID_PAYLOAD');
    const huge = await server.app.inject({
      method: 'POST',
      url: '/auth/login',
      ...json({ email: 'a@example.com', password: 'x'.repeat(100_000) }),
    });
    expect(huge.statusCode).toBe(413);
    expect(huge.json().errors[0].extensions.code).toBe('CONTENT_TOO_LARGE');
    expect(huge.body).not.toMatch(/at .*\.(ts|js):\d+/);
  });

  it('rehashes a password stored with other argon2 parameters', async () => {
    const { hashPassword } = await import('../../crypto/password.js');
    const { email } = await server.user();
    const old = await hashPassword(TEST_PASSWORD, { memoryCost: 2048, timeCost: 1, parallelism: 1 });
    await server.database.db.updateTable('users').set({ password_hash: old }).where('email', '=', email).execute();
    expect((await server.login(email)).statusCode).toBe(200);
    const row = await server.database.db
      .selectFrom('users')
      .select('password_hash')
      .where('email', '=', email)
      .executeTakeFirstOrThrow();
    expect(row.password_hash).not.toBe(old);
    expect(row.password_hash).toContain('m=1024,t=1,p=1');
    expect((await server.login(email)).statusCode).toBe(200);
  });
});

describe('refresh', () => {
  it('rotates the refresh token on every use', async () => {
    const { refreshToken } = await server.user();
    const first = await server.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refresh_token: refreshToken },
    });
    expect(first.statusCode).toBe(200);
    const { data } = first.json();
    expect(data.refresh_token).not.toBe(refreshToken);
    expect(data.expires).toBe(900_000);
    const second = await server.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refresh_token: data.refresh_token },
    });
    expect(second.statusCode).toBe(200);
  });

  it('gives concurrent refreshes with one token the same successor', async () => {
    const { refreshToken } = await server.user();
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        server.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: refreshToken } }),
      ),
    );
    const successors = new Set(answers.map((answer) => answer.json().data.refresh_token));
    expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(successors.size).toBe(1);
  });

  it('within the grace window answers the same successor again; after it, reuse ends the whole session', async () => {
    const { refreshToken, accessToken } = await server.user();
    const first = (
      await server.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: refreshToken } })
    ).json().data;
    server.clock.advance(9_000);
    const again = (
      await server.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: refreshToken } })
    ).json().data;
    expect(again.refresh_token).toBe(first.refresh_token);

    server.clock.advance(2_000);
    const replay = await server.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refresh_token: refreshToken },
    });
    expect(replay.statusCode).toBe(401);
    expect(replay.json().errors[0].extensions.code).toBe('INVALID_CREDENTIALS');
    // The legitimate holder's successor is dead too, and so are the session's access tokens.
    const successor = await server.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refresh_token: first.refresh_token },
    });
    expect(successor.statusCode).toBe(401);
    for (const token of [accessToken, first.access_token]) {
      const me = await server.app.inject({
        method: 'GET',
        url: '/users/me',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(me.statusCode).toBe(401);
    }
  });

  it('refuses an unknown token with 401 and a missing one with 400', async () => {
    const unknown = await server.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refresh_token: 'nope' },
    });
    expect(unknown.statusCode).toBe(401);
    const missing = await server.app.inject({ method: 'POST', url: '/auth/refresh', payload: { mode: 'json' } });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().errors[0].extensions.code).toBe('INVALID_PAYLOAD');
  });

  it('expires a refresh token after its lifetime', async () => {
    const { refreshToken } = await server.user();
    server.clock.advance(7 * 24 * 3600 * 1000 + 1);
    const response = await server.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refresh_token: refreshToken },
    });
    expect(response.statusCode).toBe(401);
    expect(response.json().errors[0].extensions.code).toBe('TOKEN_EXPIRED');
  });

  it('uses the refresh cookie in cookie mode, with a trusted Origin only', async () => {
    const { email } = await server.user();
    const login = await server.login(email, TEST_PASSWORD, 'cookie');
    const token = cookie(login, 'gatehouse_refresh_token')!.value;
    const cookies = { gatehouse_refresh_token: token };
    const noOrigin = await server.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      cookies,
      payload: { mode: 'cookie' },
    });
    expect(noOrigin.statusCode).toBe(403);
    const foreign = await server.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      cookies,
      headers: { origin: 'https://evil.example' },
      payload: { mode: 'cookie' },
    });
    expect(foreign.statusCode).toBe(403);
    expect(foreign.json().errors[0].extensions.code).toBe('FORBIDDEN');
    const ok = await server.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      cookies,
      headers: { origin: PUBLIC_URL },
    });
    expect(ok.statusCode).toBe(200);
    expect(Object.keys(ok.json().data).sort()).toEqual(['access_token', 'expires']);
    expect(cookie(ok, 'gatehouse_refresh_token')!.value).not.toBe(token);
  });

  it('renews the session cookie in session mode', async () => {
    const { email } = await server.user();
    const login = await server.login(email, TEST_PASSWORD, 'session');
    const token = cookie(login, 'gatehouse_session_token')!.value;
    server.clock.advance(60_000);
    const response = await server.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      cookies: { gatehouse_session_token: token },
      headers: { origin: PUBLIC_URL },
      payload: { mode: 'session' },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json().data).toEqual({ expires: 24 * 3600 * 1000 });
    expect(cookie(response, 'gatehouse_session_token')!.value).not.toBe(token);
  });
});

describe('logout', () => {
  it('ends the session at once: its access token and refresh token stop working', async () => {
    const { accessToken, refreshToken } = await server.user();
    const me = () =>
      server.app.inject({ method: 'GET', url: '/users/me', headers: { authorization: `Bearer ${accessToken}` } });
    expect((await me()).statusCode).toBe(200);
    const logout = await server.app.inject({
      method: 'POST',
      url: '/auth/logout',
      payload: { refresh_token: refreshToken },
    });
    expect(logout.statusCode).toBe(204);
    expect(logout.body).toBe('');
    expect((await me()).statusCode).toBe(401);
    const refresh = await server.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refresh_token: refreshToken },
    });
    expect(refresh.statusCode).toBe(401);
  });

  it('ends a session-mode session from its cookie and clears the cookie', async () => {
    const { email } = await server.user();
    const login = await server.login(email, TEST_PASSWORD, 'session');
    const cookies = { gatehouse_session_token: cookie(login, 'gatehouse_session_token')!.value };
    const logout = await server.app.inject({
      method: 'POST',
      url: '/auth/logout',
      cookies,
      headers: { origin: PUBLIC_URL },
      payload: { mode: 'session' },
    });
    expect(logout.statusCode).toBe(204);
    expect(cookie(logout, 'gatehouse_session_token')?.value).toBe('');
    const me = await server.app.inject({ method: 'GET', url: '/users/me', cookies });
    expect(me.statusCode).toBe(401);
  });

  it('logout/all ends every session of the caller and no one else', async () => {
    const { email, accessToken } = await server.user();
    const other = await server.user();
    const second = (await server.login(email)).json().data;
    const all = await server.app.inject({
      method: 'POST',
      url: '/auth/logout/all',
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(all.statusCode).toBe(204);
    for (const token of [accessToken, second.access_token]) {
      expect(
        (await server.app.inject({ method: 'GET', url: '/users/me', headers: { authorization: `Bearer ${token}` } }))
          .statusCode,
      ).toBe(401);
    }
    const otherMe = await server.app.inject({
      method: 'GET',
      url: '/users/me',
      headers: { authorization: `Bearer ${other.accessToken}` },
    });
    expect(otherMe.statusCode).toBe(200);
  });

  it('logout/all without a credential is 401', async () => {
    const response = await server.app.inject({ method: 'POST', url: '/auth/logout/all' });
    expect(response.statusCode).toBe(401);
    expect(response.json().errors[0].extensions.code).toBe('INVALID_CREDENTIALS');
  });
});

describe('providers', () => {
  it('lists enabled providers in the Directus shape', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/auth' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ data: [], disableDefault: false });
  });
});
