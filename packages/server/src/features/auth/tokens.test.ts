import { createLocalJWKSet, decodeJwt, type JWK, jwtVerify, SignJWT } from 'jose';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../../app.js';
import { createTestServer, PUBLIC_URL, TEST_PASSWORD, type TestServer } from '../../testing/test-server.js';

let server: TestServer;
beforeAll(async () => {
  server = await createTestServer({ GATEHOUSE_REVOCATION_POLL_INTERVAL: '100ms' });
});
afterAll(async () => {
  await server.close();
});

const me = (token: string) =>
  server.app.inject({ method: 'GET', url: '/users/me', headers: { authorization: `Bearer ${token}` } });
const codeOf = (response: { json(): { errors: { extensions: { code: string } }[] } }) =>
  response.json().errors[0]?.extensions.code;
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('access tokens', () => {
  it('verify against the published JWKS, as a resource server would', async () => {
    const { accessToken } = await server.user();
    const jwks = (await server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: JWK[] };
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
    const { payload } = await jwtVerify(accessToken, createLocalJWKSet(jwks), {
      issuer: PUBLIC_URL,
      audience: 'gatehouse',
    });
    expect(payload.token_use).toBe('access');
    const discovery = (await server.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' })).json();
    expect(discovery).toMatchObject({ issuer: PUBLIC_URL, jwks_uri: `${PUBLIC_URL}/.well-known/jwks.json` });
  });

  it('refuses a tampered token with 403 INVALID_TOKEN', async () => {
    const { accessToken } = await server.user();
    const [header, payload, signature] = accessToken.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const forged = `${header}.${b64({ ...claims, role: 'admin', permissions: ['*'] })}.${signature}`;
    const response = await me(forged);
    expect(response.statusCode).toBe(403);
    expect(codeOf(response)).toBe('INVALID_TOKEN');
  });

  it('refuses an alg:none token', async () => {
    const { accessToken } = await server.user();
    const claims = decodeJwt(accessToken);
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    const response = await me(none);
    expect(response.statusCode).toBe(403);
    expect(codeOf(response)).toBe('INVALID_TOKEN');
  });

  it("refuses a token signed by another issuer's key, and one with the wrong issuer", async () => {
    const other = await createTestServer({ GATEHOUSE_PUBLIC_URL: 'http://other.example' });
    try {
      const { accessToken } = await other.user();
      const response = await me(accessToken);
      expect(response.statusCode).toBe(403);
      expect(codeOf(response)).toBe('INVALID_TOKEN');
    } finally {
      await other.close();
    }
    const forged = await new SignJWT({ sid: 'x', token_use: 'access' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(PUBLIC_URL)
      .setAudience('gatehouse')
      .setSubject('someone')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('guessable'));
    expect(codeOf(await me(forged))).toBe('INVALID_TOKEN');
  });

  it('answers 401 TOKEN_EXPIRED once the access token has expired', async () => {
    const { accessToken } = await server.user();
    expect((await me(accessToken)).statusCode).toBe(200);
    server.clock.advance(15 * 60 * 1000 + 1000);
    const response = await me(accessToken);
    expect(response.statusCode).toBe(401);
    expect(codeOf(response)).toBe('TOKEN_EXPIRED');
  });

  it('refuses a session token sent as a bearer token', async () => {
    const { email } = await server.user();
    const login = await server.login(email, TEST_PASSWORD, 'session');
    const sessionToken = login.cookies.find((c) => c.name === 'gatehouse_session_token')!.value;
    const response = await me(sessionToken);
    expect(response.statusCode).toBe(403);
    expect(codeOf(response)).toBe('INVALID_TOKEN');
  });

  it('refuses an unknown opaque bearer token with 401', async () => {
    const response = await me('not-a-jwt');
    expect(response.statusCode).toBe(401);
    expect(codeOf(response)).toBe('INVALID_CREDENTIALS');
  });

  it.each(['EdDSA', 'RS256'])('can sign with %s', async (alg) => {
    const other = await createTestServer({ GATEHOUSE_JWT_ALGORITHM: alg });
    try {
      const { accessToken } = await other.user();
      const jwks = (await other.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: JWK[] };
      const { protectedHeader } = await jwtVerify(accessToken, createLocalJWKSet(jwks));
      expect(protectedHeader.alg).toBe(alg);
      const response = await other.app.inject({
        method: 'GET',
        url: '/users/me',
        headers: { authorization: `Bearer ${accessToken}` },
      });
      expect(response.statusCode).toBe(200);
    } finally {
      await other.close();
    }
  });
});

describe('revocation', () => {
  it('reaches another node sharing the database within the poll interval, without a read per request', async () => {
    const nodeB = await buildApp(server.config, server.database, {
      clock: server.clock,
      logger: pino({ level: 'silent' }),
    });
    try {
      const { accessToken, refreshToken } = await server.user();
      const onB = () =>
        nodeB.app.inject({ method: 'GET', url: '/users/me', headers: { authorization: `Bearer ${accessToken}` } });
      expect((await onB()).statusCode).toBe(200);
      await server.app.inject({ method: 'POST', url: '/auth/logout', payload: { refresh_token: refreshToken } });
      await new Promise((resolve) => setTimeout(resolve, 400));
      const response = await onB();
      expect(response.statusCode).toBe(401);
    } finally {
      await nodeB.close();
    }
  });
});

describe('secrets at rest and in logs', () => {
  it('stores only hashes and sealed keys, and logs no password or token', async () => {
    const email = 'secretive@example.com';
    const password = 'a very particular password 1234';
    await server.signup(email, password);
    const login = (await server.login(email, password)).json().data;
    const refreshed = (
      await server.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: login.refresh_token } })
    ).json().data;
    await server.app.inject({ method: 'GET', url: `/users/me?access_token=${refreshed.access_token}` });
    await server.app.inject({
      method: 'GET',
      url: '/users/me',
      headers: { authorization: `Bearer ${refreshed.access_token}` },
    });
    await server.app.inject({
      method: 'POST',
      url: '/auth/logout',
      payload: { refresh_token: refreshed.refresh_token },
    });

    const db = server.database.db;
    const dump = JSON.stringify([
      await db.selectFrom('users').selectAll().execute(),
      await db.selectFrom('sessions').selectAll().execute(),
      await db.selectFrom('refresh_tokens').selectAll().execute(),
      await db.selectFrom('signing_keys').selectAll().execute(),
    ]);
    const logs = server.logs();
    expect(logs).toContain('/users/me');
    for (const secret of [
      password,
      login.refresh_token,
      login.access_token,
      refreshed.refresh_token,
      refreshed.access_token,
    ]) {
      expect(dump).not.toContain(secret);
      expect(logs).not.toContain(secret);
    }
    const keys = await db.selectFrom('signing_keys').selectAll().execute();
    for (const key of keys) {
      expect(key.private_jwk).toMatch(/^v1\./);
      expect(key.private_jwk).not.toContain('"d"');
    }
  });
});

describe('expired refresh tokens', () => {
  it('are deleted a day after they expire, used or not, in batches; live ones and sessions stay', async () => {
    const own = await createTestServer();
    try {
      const { db } = own.database;
      const day = 24 * 60 * 60_000;
      const refresh = (token: string) =>
        own.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: token } });
      const stored = async () => (await db.selectFrom('refresh_tokens').select('token_hash').execute()).length;

      const old = await own.user();
      const rotated = await refresh(old.refreshToken);
      expect(rotated.statusCode).toBe(200);
      const successor = rotated.json().data.refresh_token as string;
      // Both of the old session's tokens (the used one and its successor) expire with the refresh lifetime.
      own.clock.advance(own.config.refreshTokenTtl + day - 60_000);
      const fresh = await own.user();
      // 2,500 more that expired long ago: more than one batch.
      const session = await db.selectFrom('sessions').select(['id', 'project_id']).executeTakeFirstOrThrow();
      const now = own.clock.now();
      for (let start = 0; start < 2500; start += 500) {
        await db
          .insertInto('refresh_tokens')
          .values(
            Array.from({ length: 500 }, (_, i) => ({
              token_hash: `expired-${start + i}`,
              session_id: session.id,
              project_id: session.project_id,
              created_at: now - 30 * day,
              expires_at: now - 2 * day,
            })),
          )
          .execute();
      }
      const before = await stored();

      // Expired less than a day ago: kept, and answered as expired.
      expect(await own.sessions.prune()).toBe(2500);
      expect(await stored()).toBe(before - 2500);
      expect(codeOf(await refresh(successor))).toBe('TOKEN_EXPIRED');

      own.clock.advance(60_001);
      expect(await own.sessions.prune()).toBe(2);
      expect(await stored()).toBe(before - 2502);
      // Gone now: refused like any unknown token. The replay of the used one can no longer revoke anything.
      expect(codeOf(await refresh(successor))).toBe('INVALID_CREDENTIALS');
      expect(codeOf(await refresh(old.refreshToken))).toBe('INVALID_CREDENTIALS');
      expect(await db.selectFrom('sessions').select('id').where('user_id', '=', old.id).execute()).toHaveLength(1);
      // A live token is untouched and still rotates.
      expect((await refresh(fresh.refreshToken)).statusCode).toBe(200);
    } finally {
      await own.close();
    }
  });
});

describe('housekeeping', () => {
  it('deletes expired refresh and one-time tokens a minute after start, then every hour', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    // A slow revocation poll, so that the fake hour below does not also run 3,600 polls.
    const own = await createTestServer({ GATEHOUSE_REVOCATION_POLL_INTERVAL: '10m' });
    try {
      const { db } = own.database;
      const day = 24 * 60 * 60_000;
      const { refreshToken } = await own.user();
      const session = await db.selectFrom('sessions').select(['id', 'project_id']).executeTakeFirstOrThrow();
      const expiredRefreshToken = (hash: string) =>
        db
          .insertInto('refresh_tokens')
          .values({
            token_hash: hash,
            session_id: session.id,
            project_id: session.project_id,
            created_at: own.clock.now() - 9 * day,
            expires_at: own.clock.now() - 2 * day,
          })
          .execute();
      const expiredOneTimeToken = (id: string) =>
        db
          .insertInto('one_time_tokens')
          .values({
            id,
            project_id: session.project_id,
            purpose: 'test',
            user_id: null,
            identifier: `${id}@example.com`,
            channel: 'email',
            secret_hash: id,
            attempts: 0,
            max_attempts: 1,
            data: '{}',
            created_at: own.clock.now() - 3 * day,
            expires_at: own.clock.now() - 2 * day,
            used_at: null,
          })
          .execute();
      const left = async () => ({
        refresh: (await db.selectFrom('refresh_tokens').select('token_hash').execute()).map((r) => r.token_hash),
        oneTime: (await db.selectFrom('one_time_tokens').select('id').execute()).map((r) => r.id),
      });
      await expiredRefreshToken('expired-1');
      await expiredOneTimeToken('00000000-0000-4000-8000-000000000001');

      await vi.advanceTimersByTimeAsync(59_000);
      expect((await left()).refresh).toContain('expired-1');
      await vi.advanceTimersByTimeAsync(1_000);
      await vi.waitFor(async () => expect(await left()).toEqual({ refresh: [expect.any(String)], oneTime: [] }), 5000);
      expect(own.logs()).toMatch(/expired refresh tokens deleted/);

      await expiredRefreshToken('expired-2');
      await expiredOneTimeToken('00000000-0000-4000-8000-000000000002');
      await vi.advanceTimersByTimeAsync(60 * 60_000);
      await vi.waitFor(async () => expect(await left()).toEqual({ refresh: [expect.any(String)], oneTime: [] }), 5000);
      // The live token is the one left, and it still rotates.
      const refreshed = await own.app.inject({
        method: 'POST',
        url: '/auth/refresh',
        payload: { refresh_token: refreshToken },
      });
      expect(refreshed.statusCode).toBe(200);
    } finally {
      vi.useRealTimers();
      await own.close();
    }
  });
});
