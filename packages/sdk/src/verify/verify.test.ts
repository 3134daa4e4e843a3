import { createServer, type Server } from 'node:http';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBrowserFetch } from '../../../server/src/testing/cookie-jar.js';
import { TEST_PASSWORD } from '../../../server/src/testing/test-server.js';
import { createClient } from '../client.js';
import { countingFetch } from '../testing/helpers.js';
import { type LiveServer, signedInUser, startLiveServer } from '../testing/live-server.js';
import {
  type AccessTokenClaims,
  createVerifier,
  expressGuard,
  fastifyGuard,
  hasPermission,
  honoGuard,
  requirePermission,
} from './index.js';

/** The verifier against the JWKS of a real Gatehouse, including a signing-key rotation across a restart. */
let live: LiveServer;

beforeAll(async () => {
  live = await startLiveServer();
});
afterAll(async () => {
  await live.close();
});

async function tokenOf(options: { role?: string } = {}): Promise<{ token: string; userId: string }> {
  if (options.role) {
    const user = await live.server.user(undefined, { role: options.role });
    return { token: user.accessToken, userId: user.id };
  }
  const user = await signedInUser(live, 'verify');
  return { token: user.token, userId: user.id };
}

async function forged(claims: Record<string, unknown>, kid = 'not-a-gatehouse-key'): Promise<string> {
  const { privateKey } = await generateKeyPair('ES256');
  return new SignJWT({ sid: 's', role: 'admin', permissions: ['*'], project: 'p', ...claims })
    .setProtectedHeader({ alg: 'ES256', kid })
    .setIssuer(live.url)
    .setAudience('gatehouse')
    .setSubject('someone')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(privateKey);
}

describe('createVerifier', () => {
  it('verifies a Gatehouse access token and answers typed claims', async () => {
    const { token, userId } = await tokenOf();
    const jwks = countingFetch();
    const verifier = createVerifier({ issuer: live.url, fetch: jwks.fetch });
    const result = await verifier.verify(token);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const claims: AccessTokenClaims = result.claims;
    expect(claims).toMatchObject({ iss: live.url, aud: 'gatehouse', sub: userId, role: 'user', amr: ['pwd'] });
    expect(claims.permissions).toEqual(expect.any(Array));
    expect(claims.sid).toEqual(expect.any(String));

    const more = await Promise.all(Array.from({ length: 5 }, () => tokenOf()));
    for (const other of more) expect((await verifier.verify(other.token)).ok).toBe(true);
    expect(jwks.count('/.well-known/jwks.json')).toBe(1);
  });

  it('refuses missing, expired, tampered, foreign-issuer and wrong-audience tokens with registry codes', async () => {
    const { token } = await tokenOf();
    const verifier = createVerifier({ issuer: live.url });
    const code = async (candidate: string | null, v = verifier) => {
      const result = await v.verify(candidate);
      return result.ok ? 'ok' : `${result.error.status} ${result.error.code}`;
    };
    expect(await code(null)).toBe('401 INVALID_CREDENTIALS');
    expect(await code('not.a.jwt')).toBe('403 INVALID_TOKEN');
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as Record<string, unknown>;
    const elevated = Buffer.from(JSON.stringify({ ...claims, role: 'admin' })).toString('base64url');
    expect(await code(`${header}.${elevated}.${signature}`)).toBe('403 INVALID_TOKEN');
    expect(
      await code(
        token,
        createVerifier({ issuer: 'https://elsewhere.example', jwksUrl: `${live.url}/.well-known/jwks.json` }),
      ),
    ).toBe('403 INVALID_TOKEN');
    expect(await code(token, createVerifier({ issuer: live.url, audience: 'billing' }))).toBe('403 INVALID_TOKEN');
    const exp = Number(claims.exp) * 1000;
    const later = createVerifier({ issuer: live.url, now: () => exp + 6_000 });
    expect(await code(token, later)).toBe('401 TOKEN_EXPIRED');
    // Within the clock skew allowance a token is still good.
    const skewed = createVerifier({ issuer: live.url, now: () => exp + 4_000 });
    expect(await code(token, skewed)).toBe('ok');
    const down = createVerifier({ issuer: 'http://127.0.0.1:9' });
    expect(await code(token, down)).toBe('503 SERVICE_UNAVAILABLE');
  });

  it('refuses a session-cookie JWT, which the same keys sign', async () => {
    const email = `cookie-${Date.now()}@example.com`;
    const browser = createBrowserFetch(live.url);
    const sdk = createClient({ url: live.url, mode: 'session', crossTab: false, fetch: browser.fetch });
    await sdk.signUp({ email, password: TEST_PASSWORD });
    await sdk.auth({ email, password: TEST_PASSWORD });
    const sessionToken = browser.cookies.get('gatehouse_session_token')?.value ?? '';
    expect(decodeProtectedHeader(sessionToken).kid).toEqual(expect.any(String));
    const result = await createVerifier({ issuer: live.url }).verify(sessionToken);
    expect(result.ok ? 'ok' : `${result.error.status} ${result.error.code}`).toBe('403 INVALID_TOKEN');
    const { token } = await tokenOf();
    const access = await createVerifier({ issuer: live.url }).verify(token);
    expect(access.ok && access.claims.token_use).toBe('access');
  });

  it('fetches the keys again for an unknown kid, at most once per cooldown', async () => {
    const jwks = countingFetch();
    const verifier = createVerifier({ issuer: live.url, fetch: jwks.fetch, cooldown: 60_000 });
    const { token } = await tokenOf();
    expect((await verifier.verify(token)).ok).toBe(true);
    expect(jwks.count('/.well-known/jwks.json')).toBe(1);
    for (let i = 0; i < 5; i++) {
      const result = await verifier.verify(await forged({}, `unknown-${i}`));
      expect(result.ok ? 'ok' : result.error.code).toBe('INVALID_TOKEN');
    }
    // The unknown kids arrive within the cooldown after the first fetch: no fetch for any of them.
    expect(jwks.count('/.well-known/jwks.json')).toBe(1);
  });
});

describe('permissions', () => {
  it('follows the server rule: exact, * and resource:*', () => {
    expect(hasPermission({ permissions: ['*'] }, 'users:read')).toBe(true);
    expect(hasPermission({ permissions: ['users:*'] }, 'users:read')).toBe(true);
    expect(hasPermission({ permissions: ['users:read'] }, 'users:read')).toBe(true);
    expect(hasPermission({ permissions: ['users:write'] }, 'users:read')).toBe(false);
    expect(hasPermission({ permissions: ['audit:*'] }, 'users:read')).toBe(false);
    expect(() => requirePermission({ permissions: [] }, 'users:read')).toThrow(
      expect.objectContaining({ code: 'FORBIDDEN', status: 403 }),
    );
  });

  it('reads the permissions of a real admin token', async () => {
    const admin = await tokenOf({ role: 'admin' });
    const result = await createVerifier({ issuer: live.url }).verify(admin.token);
    expect(result.ok && hasPermission(result.claims, 'users:read')).toBe(true);
  });
});

describe('middleware', () => {
  it('Fastify: claims on request.gatehouse, Gatehouse error bodies on refusal', async () => {
    const verifier = createVerifier({ issuer: live.url });
    const app = Fastify();
    app.decorateRequest('gatehouse', null);
    app.get('/me', { preHandler: fastifyGuard(verifier) }, async (request) => ({
      sub: (request as typeof request & { gatehouse?: AccessTokenClaims }).gatehouse?.sub,
    }));
    app.get('/admin', { preHandler: fastifyGuard(verifier, { permission: 'users:read' }) }, async () => ({}));
    const call = async (path: string, authorization?: string) => {
      const response = await app.inject({ url: path, headers: authorization ? { authorization } : {} });
      return new Response(response.body, { status: response.statusCode, headers: response.headers as HeadersInit });
    };
    const { token } = await tokenOf();
    const ok = await call('/me', `Bearer ${token}`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ sub: expect.any(String) });
    const missing = await call('/me');
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect(await missing.json()).toEqual({
      errors: [{ message: 'Authentication is required.', extensions: { code: 'INVALID_CREDENTIALS' } }],
    });
    expect((await call('/me', 'Bearer nope')).status).toBe(403);
    expect((await call('/admin', `Bearer ${token}`)).status).toBe(403);
    const admin = await tokenOf({ role: 'admin' });
    expect((await call('/admin', `Bearer ${admin.token}`)).status).toBe(200);
    await app.close();
  });

  it('Express-style on node:http: claims on req.auth, refusals answered', async () => {
    const verifier = createVerifier({ issuer: live.url });
    const guard = expressGuard(verifier, { permission: 'users:read' });
    const open = expressGuard(verifier);
    const server: Server = createServer((req, res) => {
      const request = req as typeof req & { auth?: AccessTokenClaims };
      const chosen = req.url === '/admin' ? guard : open;
      chosen(request, res, () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ sub: request.auth?.sub }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const call = (path: string, authorization?: string) =>
      fetch(`${base}${path}`, { headers: authorization ? { authorization } : {} });
    try {
      const { token, userId } = await tokenOf();
      const ok = await call('/me', `Bearer ${token}`);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ sub: userId });
      const missing = await call('/me');
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toBe('Bearer');
      expect(await missing.json()).toEqual({
        errors: [{ message: 'Authentication is required.', extensions: { code: 'INVALID_CREDENTIALS' } }],
      });
      expect((await call('/me', 'Bearer nope')).status).toBe(403);
      expect((await call('/admin', `Bearer ${token}`)).status).toBe(403);
      const admin = await tokenOf({ role: 'admin' });
      expect((await call('/admin', `Bearer ${admin.token}`)).status).toBe(200);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('Hono: claims via c.get, refusals answered', async () => {
    const verifier = createVerifier({ issuer: live.url });
    const app = new Hono<{ Variables: { gatehouse: AccessTokenClaims } }>();
    app.use('/admin', honoGuard(verifier, { permission: 'users:read' }));
    app.use('/me', honoGuard(verifier));
    app.get('/me', (c) => c.json({ sub: c.get('gatehouse').sub }));
    app.get('/admin', (c) => c.json({ ok: true }));
    const { token, userId } = await tokenOf();
    const ok = await app.request('/me', { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ sub: userId });
    const missing = await app.request('/me');
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ errors: [{ extensions: { code: 'INVALID_CREDENTIALS' } }] });
    expect((await app.request('/me', { headers: { authorization: 'Bearer x.y.z' } })).status).toBe(403);
    expect((await app.request('/admin', { headers: { authorization: `Bearer ${token}` } })).status).toBe(403);
    const admin = await tokenOf({ role: 'admin' });
    expect((await app.request('/admin', { headers: { authorization: `Bearer ${admin.token}` } })).status).toBe(200);
  });
});

describe('client and resource server together', () => {
  it('client.fetch reaches a guarded resource server, and its TOKEN_EXPIRED makes the client refresh once', async () => {
    let shift = 0;
    const verifier = createVerifier({ issuer: live.url, now: () => Date.now() + shift });
    const guard = expressGuard(verifier);
    const server: Server = createServer((req, res) => {
      const request = req as typeof req & { auth?: AccessTokenClaims };
      guard(request, res, () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ data: { sub: request.auth?.sub } }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const api = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const counting = countingFetch();
    const sdk = createClient({ url: live.url, crossTab: false, fetch: counting.fetch });
    try {
      const email = `resource-${Date.now()}@example.com`;
      await sdk.signUp({ email, password: TEST_PASSWORD });
      await sdk.auth({ email, password: TEST_PASSWORD });
      const me = await sdk.getProfile();
      expect(await sdk.fetch(`${api}/reports`)).toEqual({ sub: me.id });

      // Sixteen minutes pass for Gatehouse and the resource server; the client's clock has not noticed.
      live.server.clock.advance(16 * 60_000);
      shift = 16 * 60_000;
      expect(await sdk.fetch(`${api}/reports`)).toEqual({ sub: me.id });
      expect(counting.count('/auth/refresh')).toBe(1);
      expect(counting.count('/reports')).toBe(3);
    } finally {
      live.server.clock.advance(-16 * 60_000);
      sdk.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

/** Last in the file: it restarts the server, after which only HTTP reaches it. */
describe('key rotation', () => {
  it('follows a signing-key rotation: new tokens verify after one fetch, old ones keep verifying', async () => {
    const jwks = countingFetch();
    const verifier = createVerifier({ issuer: live.url, fetch: jwks.fetch, cooldown: 0 });
    const before = await tokenOf();
    expect((await verifier.verify(before.token)).ok).toBe(true);
    const oldKid = decodeProtectedHeader(before.token).kid;

    // The server restarts with a new key (EdDSA); the ES256 key stays published for the tokens it signed.
    await live.restart({ jwtAlgorithm: 'EdDSA' });
    const after = await tokenOf();
    const header = decodeProtectedHeader(after.token);
    expect(header).toMatchObject({ alg: 'EdDSA' });
    expect(header.kid).not.toBe(oldKid);
    const result = await verifier.verify(after.token);
    expect(result.ok ? result.claims.sub : result.error.code).toBe(after.userId);
    expect(jwks.count('/.well-known/jwks.json')).toBe(2);
    const again = createVerifier({ issuer: live.url, cacheSize: 0 });
    expect((await again.verify(before.token)).ok).toBe(true);
    expect((await again.verify(after.token)).ok).toBe(true);
  });
});
