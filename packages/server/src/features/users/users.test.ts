import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../db/index.js';
import { createTestServer, PUBLIC_URL, TEST_PASSWORD, type TestServer } from '../../testing/test-server.js';
import { iso } from './service.js';

let server: TestServer;
beforeAll(async () => {
  server = await createTestServer();
});
afterAll(async () => {
  await server.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('iso', () => {
  it('writes what Date#toISOString writes, including its edge years and invalid times', () => {
    const times = [0, -1, 1, 951_782_400_000, 1_764_061_200_123, -62_167_219_200_000, 253_402_300_799_999];
    for (const millis of [...times, 253_402_300_800_000, -62_167_219_200_001, 8.64e15]) {
      expect(iso(millis)).toBe(new Date(millis).toISOString());
    }
    expect(() => iso(Number.NaN)).toThrow(RangeError);
  });
});

describe('GET /users/me', () => {
  it('answers the caller without secrets', async () => {
    const { email, accessToken } = await server.user();
    const response = await server.app.inject({ method: 'GET', url: '/users/me', headers: bearer(accessToken) });
    expect(response.statusCode).toBe(200);
    const { data } = response.json();
    expect(data).toMatchObject({ email, role: 'user', status: 'active', email_verified: false, provider: 'default' });
    expect(data.last_access).toEqual(expect.stringMatching(/Z$/));
    expect(JSON.stringify(data)).not.toMatch(/argon2|password/);
  });

  it('accepts the token in the access_token query parameter', async () => {
    const { accessToken } = await server.user();
    const response = await server.app.inject({ method: 'GET', url: `/users/me?access_token=${accessToken}` });
    expect(response.statusCode).toBe(200);
  });

  it('refuses a token in both the header and the query with 400', async () => {
    const { accessToken } = await server.user();
    const response = await server.app.inject({
      method: 'GET',
      url: `/users/me?access_token=${accessToken}`,
      headers: bearer(accessToken),
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors[0].extensions.code).toBe('INVALID_PAYLOAD');
  });

  it('is 401 without a credential', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/users/me' });
    expect(response.statusCode).toBe(401);
    expect(response.json().errors[0].extensions.code).toBe('INVALID_CREDENTIALS');
  });

  it('is 401 USER_SUSPENDED for a suspended user holding a token', async () => {
    const { email, accessToken } = await server.user();
    await server.database.db.updateTable('users').set({ status: 'suspended' }).where('email', '=', email).execute();
    const response = await server.app.inject({ method: 'GET', url: '/users/me', headers: bearer(accessToken) });
    expect(response.statusCode).toBe(401);
    expect(response.json().errors[0].extensions.code).toBe('USER_SUSPENDED');
  });

  it('sees a change made on this node at once, though it keeps accounts in memory', async () => {
    const { id, accessToken } = await server.user();
    const me = () => server.app.inject({ method: 'GET', url: '/users/me', headers: bearer(accessToken) });
    expect((await me()).json().data.first_name).toBeNull();
    await server.database.db.updateTable('users').set({ first_name: 'Ada' }).where('id', '=', id).execute();
    expect((await me()).json().data.first_name).toBe('Ada');
    await server.database.db.transaction().execute(async (trx) => {
      await trx.updateTable('users').set({ status: 'suspended' }).where('id', '=', id).execute();
    });
    const refused = await me();
    expect(refused.statusCode).toBe(401);
    expect(refused.json().errors[0].extensions.code).toBe('USER_SUSPENDED');
  });

  it('sees a change made by another node or process within GATEHOUSE_REVOCATION_POLL_INTERVAL', async () => {
    const { id, accessToken } = await server.user();
    const me = () => server.app.inject({ method: 'GET', url: '/users/me', headers: bearer(accessToken) });
    expect((await me()).json().data.first_name).toBeNull();
    // A write this node's database layer does not see: the SQLite handle directly, or a second PostgreSQL pool.
    if (server.database.sqlite) {
      server.database.sqlite.prepare('update users set first_name = ? where id = ?').run('Elsewhere', id);
    } else {
      const other = await openDatabase(server.config.databaseUrl);
      await other.db.updateTable('users').set({ first_name: 'Elsewhere' }).where('id', '=', id).execute();
      await other.close();
    }
    // Served from memory until the interval has passed since it was read; not a read per request.
    expect((await me()).json().data.first_name).toBeNull();
    server.clock.advance(server.config.revocationPollInterval);
    expect((await me()).json().data.first_name).toBe('Elsewhere');
  });

  it('prefers a header credential over the session cookie', async () => {
    const a = await server.user();
    const b = await server.user();
    const login = await server.login(b.email, TEST_PASSWORD, 'session');
    const sessionCookie = login.cookies.find((c) => c.name === 'gatehouse_session_token')!.value;
    const response = await server.app.inject({
      method: 'GET',
      url: '/users/me',
      headers: bearer(a.accessToken),
      cookies: { gatehouse_session_token: sessionCookie },
    });
    expect(response.json().data.email).toBe(a.email);
  });
});

describe('PATCH /users/me', () => {
  it('updates profile fields', async () => {
    const { accessToken } = await server.user();
    const response = await server.app.inject({
      method: 'PATCH',
      url: '/users/me',
      headers: bearer(accessToken),
      payload: { first_name: 'Ada', last_name: 'Lovelace', language: 'en-GB' },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json().data).toMatchObject({ first_name: 'Ada', last_name: 'Lovelace', language: 'en-GB' });
  });

  it.each([
    ['role', { role: 'admin' }],
    ['status', { status: 'active' }],
    ['email', { email: 'new@example.com' }],
    ['an empty body', {}],
    ['a too long name', { first_name: 'x'.repeat(101) }],
    ['a number for a name', { first_name: 42 }],
  ])('refuses %s with 400 and changes nothing', async (_name, payload) => {
    const { accessToken } = await server.user();
    const before = (await server.app.inject({ method: 'GET', url: '/users/me', headers: bearer(accessToken) })).json()
      .data;
    const response = await server.app.inject({
      method: 'PATCH',
      url: '/users/me',
      headers: bearer(accessToken),
      payload,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors[0].extensions.code).toBe('INVALID_PAYLOAD');
    const after = (await server.app.inject({ method: 'GET', url: '/users/me', headers: bearer(accessToken) })).json()
      .data;
    expect(after).toEqual(before);
  });

  it('needs a trusted Origin when authenticated by the session cookie', async () => {
    const { email } = await server.user();
    const login = await server.login(email, TEST_PASSWORD, 'session');
    const cookies = { gatehouse_session_token: login.cookies.find((c) => c.name === 'gatehouse_session_token')!.value };
    const refused = await server.app.inject({
      method: 'PATCH',
      url: '/users/me',
      cookies,
      payload: { first_name: 'Eve' },
    });
    expect(refused.statusCode).toBe(403);
    const foreign = await server.app.inject({
      method: 'PATCH',
      url: '/users/me',
      cookies,
      headers: { origin: 'http://localhost:4001' },
      payload: { first_name: 'Eve' },
    });
    expect(foreign.statusCode).toBe(403);
    const allowed = await server.app.inject({
      method: 'PATCH',
      url: '/users/me',
      cookies,
      headers: { origin: PUBLIC_URL },
      payload: { first_name: 'Ada' },
    });
    expect(allowed.statusCode).toBe(200);
    // Reads need no Origin.
    expect((await server.app.inject({ method: 'GET', url: '/users/me', cookies })).statusCode).toBe(200);
  });
});

describe('sessions', () => {
  it('records the client address from X-Forwarded-For only behind a trusted proxy', async () => {
    const behindProxy = await createTestServer({ GATEHOUSE_TRUST_PROXY: '127.0.0.1' });
    try {
      for (const [gatehouse, expected] of [
        [server, '127.0.0.1'],
        [behindProxy, '203.0.113.7'],
      ] as const) {
        const email = `proxy-${expected}@example.com`;
        await gatehouse.signup(email);
        const login = await gatehouse.app.inject({
          method: 'POST',
          url: '/auth/login',
          headers: { 'x-forwarded-for': '203.0.113.7' },
          payload: { email, password: TEST_PASSWORD },
        });
        const token = login.json().data.access_token;
        const list = await gatehouse.app.inject({ method: 'GET', url: '/users/me/sessions', headers: bearer(token) });
        expect(list.json().data[0].ip).toBe(expected);
      }
    } finally {
      await behindProxy.close();
    }
  });

  it("lists the caller's active sessions and marks the current one", async () => {
    const { email, accessToken } = await server.user();
    await server.login(email);
    const response = await server.app.inject({
      method: 'GET',
      url: '/users/me/sessions',
      headers: { ...bearer(accessToken), 'user-agent': 'test-agent' },
    });
    expect(response.statusCode).toBe(200);
    const sessions = response.json().data;
    expect(sessions).toHaveLength(2);
    expect(sessions.filter((s: { current: boolean }) => s.current)).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ mode: 'json', ip: '127.0.0.1' });
  });

  it("ends one of the caller's sessions, and refuses another user's", async () => {
    const { email, accessToken } = await server.user();
    const second = (await server.login(email)).json().data;
    const other = await server.user();
    const list = (
      await server.app.inject({ method: 'GET', url: '/users/me/sessions', headers: bearer(accessToken) })
    ).json().data;
    const target = list.find((s: { current: boolean }) => !s.current);
    const otherSession = (
      await server.app.inject({ method: 'GET', url: '/users/me/sessions', headers: bearer(other.accessToken) })
    ).json().data[0];

    const foreign = await server.app.inject({
      method: 'DELETE',
      url: `/users/me/sessions/${otherSession.id}`,
      headers: bearer(accessToken),
    });
    expect(foreign.statusCode).toBe(403);
    expect(
      (await server.app.inject({ method: 'GET', url: '/users/me', headers: bearer(other.accessToken) })).statusCode,
    ).toBe(200);

    const ended = await server.app.inject({
      method: 'DELETE',
      url: `/users/me/sessions/${target.id}`,
      headers: bearer(accessToken),
    });
    expect(ended.statusCode).toBe(204);
    expect(
      (await server.app.inject({ method: 'GET', url: '/users/me', headers: bearer(second.access_token) })).statusCode,
    ).toBe(401);
    expect(
      (await server.app.inject({ method: 'GET', url: '/users/me', headers: bearer(accessToken) })).statusCode,
    ).toBe(200);
  });
});
