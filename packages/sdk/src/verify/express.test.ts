import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_PASSWORD } from '../../../server/src/testing/test-server.js';
import { createClient } from '../client.js';
import { GatehouseError } from '../errors.js';
import { countingFetch } from '../testing/helpers.js';
import { freePort, type LiveServer, signedInUser, startLiveServer } from '../testing/live-server.js';
import { type AccessTokenClaims, createVerifier, expressGuard, requirePermission, type Verifier } from './index.js';

/**
 * `expressGuard` mounted in a real Express 5 application (not only around `node:http`): application-level and
 * route-level guards, claims on `req.auth`, every refusal answered with its registry code before any handler
 * runs, `requirePermission` inside an async handler reaching Express's error handler, and the client calling it.
 */
let live: LiveServer;

beforeAll(async () => {
  live = await startLiveServer();
});
afterAll(async () => {
  await live.close();
});

type AuthedRequest = Request & { auth?: AccessTokenClaims };

/** The resource server: `/health` open, everything under `/api` guarded, `/api/reports` wanting `users:read`. */
async function resourceServer(verifier: Verifier) {
  const reached: string[] = [];
  const app = express();
  app.get('/health', (_req, res) => {
    res.json({ ok: true });
  });
  app.use('/api', expressGuard(verifier));
  app.get('/api/me', (req: AuthedRequest, res) => {
    reached.push('/api/me');
    res.json({ data: { sub: req.auth?.sub, role: req.auth?.role, sid: req.auth?.sid } });
  });
  app.get('/api/reports', expressGuard(verifier, { permission: 'users:read' }), (req: AuthedRequest, res) => {
    reached.push('/api/reports');
    res.json({ data: { sub: req.auth?.sub } });
  });
  app.delete('/api/users/:id', async (req: AuthedRequest, res) => {
    reached.push('/api/users');
    // Express 5 hands a rejected async handler to the error handler.
    requirePermission(req.auth ?? { permissions: [] }, 'users:delete');
    res.status(204).end();
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = error instanceof GatehouseError ? error.status : 500;
    const code = error instanceof GatehouseError ? error.code : 'INTERNAL';
    res.status(status).json({ errors: [{ message: 'refused', extensions: { code } }] });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    reached,
    call: (path: string, options: { authorization?: string; method?: string } = {}) =>
      fetch(`${url}${path}`, {
        method: options.method ?? 'GET',
        headers: options.authorization ? { authorization: options.authorization } : {},
      }),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

async function codeOf(response: globalThis.Response): Promise<string> {
  const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
  return body.errors[0]?.extensions.code ?? '';
}

describe('expressGuard in an Express 5 application', () => {
  it('hands the claims to the handler in req.auth', async () => {
    const api = await resourceServer(createVerifier({ issuer: live.url }));
    try {
      const user = await signedInUser(live, 'express');
      const response = await api.call('/api/me', { authorization: `Bearer ${user.token}` });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ data: { sub: user.id, role: 'user', sid: expect.any(String) } });
      expect((await api.call('/health')).status).toBe(200);
      expect(api.reached).toEqual(['/api/me']);
    } finally {
      await api.close();
    }
  });

  it('answers every refusal with its registry code, status and WWW-Authenticate, before any handler', async () => {
    let shift = 0;
    const api = await resourceServer(createVerifier({ issuer: live.url, now: () => Date.now() + shift }));
    try {
      const user = await signedInUser(live, 'express');
      const missing = await api.call('/api/me');
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toBe('Bearer');
      expect(missing.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await codeOf(missing)).toBe('INVALID_CREDENTIALS');

      const garbage = await api.call('/api/me', { authorization: 'Bearer not.a.token' });
      expect(garbage.status).toBe(403);
      expect(await codeOf(garbage)).toBe('INVALID_TOKEN');

      const [header, payload] = user.token.split('.');
      const tampered = await api.call('/api/me', { authorization: `Bearer ${header}.${payload}.AAAA` });
      expect(tampered.status).toBe(403);
      expect(await codeOf(tampered)).toBe('INVALID_TOKEN');

      const forbidden = await api.call('/api/reports', { authorization: `Bearer ${user.token}` });
      expect(forbidden.status).toBe(403);
      expect(await codeOf(forbidden)).toBe('FORBIDDEN');

      shift = 16 * 60_000; // past the 15-minute access token
      const expired = await api.call('/api/me', { authorization: `Bearer ${user.token}` });
      expect(expired.status).toBe(401);
      expect(expired.headers.get('www-authenticate')).toBe('Bearer error="invalid_token", error_description="expired"');
      expect(await codeOf(expired)).toBe('TOKEN_EXPIRED');
      expect(api.reached).toEqual([]);
    } finally {
      await api.close();
    }
  });

  it('checks permissions: route-level guard and requirePermission in an async handler', async () => {
    const api = await resourceServer(createVerifier({ issuer: live.url }));
    try {
      const user = await signedInUser(live, 'express');
      const admin = await live.server.user(undefined, { role: 'admin' });
      const reports = await api.call('/api/reports', { authorization: `Bearer ${admin.accessToken}` });
      expect(reports.status).toBe(200);
      expect(await reports.json()).toEqual({ data: { sub: admin.id } });

      const refused = await api.call(`/api/users/${admin.id}`, {
        method: 'DELETE',
        authorization: `Bearer ${user.token}`,
      });
      expect(refused.status).toBe(403);
      expect(await codeOf(refused)).toBe('FORBIDDEN');
      const allowed = await api.call(`/api/users/${user.id}`, {
        method: 'DELETE',
        authorization: `Bearer ${admin.accessToken}`,
      });
      expect(allowed.status).toBe(204);
      expect(api.reached).toEqual(['/api/reports', '/api/users', '/api/users']);
    } finally {
      await api.close();
    }
  });

  it('answers 503 SERVICE_UNAVAILABLE when the signing keys cannot be fetched', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const api = await resourceServer(createVerifier({ issuer: live.url, jwksUrl: `${nowhere}/.well-known/jwks.json` }));
    try {
      const user = await signedInUser(live, 'express');
      const response = await api.call('/api/me', { authorization: `Bearer ${user.token}` });
      expect(response.status).toBe(503);
      expect(await codeOf(response)).toBe('SERVICE_UNAVAILABLE');
      expect(api.reached).toEqual([]);
    } finally {
      await api.close();
    }
  });

  it('serves the client, which attaches the access token and refreshes once on TOKEN_EXPIRED', async () => {
    let shift = 0;
    const api = await resourceServer(createVerifier({ issuer: live.url, now: () => Date.now() + shift }));
    const counting = countingFetch();
    const sdk = createClient({ url: live.url, crossTab: false, fetch: counting.fetch });
    try {
      const email = `express-client-${Date.now()}@example.com`;
      await sdk.signUp({ email, password: TEST_PASSWORD });
      await sdk.auth({ email, password: TEST_PASSWORD });
      const me = await sdk.getProfile();
      expect(await sdk.fetch(`${api.url}/api/me`)).toMatchObject({ sub: me.id });

      live.server.clock.advance(16 * 60_000);
      shift = 16 * 60_000;
      expect(await sdk.fetch(`${api.url}/api/me`)).toMatchObject({ sub: me.id });
      expect(counting.count('/auth/refresh')).toBe(1);
      expect(counting.count('/api/me')).toBe(3);
    } finally {
      live.server.clock.advance(-16 * 60_000);
      sdk.close();
      await api.close();
    }
  });
});
