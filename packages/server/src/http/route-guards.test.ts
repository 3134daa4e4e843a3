import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, PUBLIC_URL, type TestServer } from '../testing/test-server.js';

/**
 * Walks every route in the OpenAPI document. A route not listed as public must refuse a caller without a
 * credential, with an expired one and with a revoked one; so a new route that forgets its guard fails here.
 */
const PUBLIC_ROUTES = new Set([
  'GET /auth',
  'POST /auth/signup',
  'POST /auth/login',
  'POST /auth/refresh',
  'POST /auth/logout',
  'POST /users/invite/accept',
  'GET /.well-known/jwks.json',
  'GET /.well-known/openid-configuration',
  'GET /health',
  'GET /ready',
]);

const BODIES: Record<string, unknown> = {
  'PATCH /users/me': { first_name: 'Mallory' },
  'POST /users/invite': { email: 'mallory@example.com', role: 'admin' },
};

let server: TestServer;
let routes: { method: string; url: string; name: string }[];

beforeAll(async () => {
  server = await createTestServer();
  const spec = (await server.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
    paths: Record<string, Record<string, unknown>>;
  };
  routes = Object.entries(spec.paths).flatMap(([path, operations]) =>
    Object.keys(operations)
      .filter((method) => ['get', 'post', 'patch', 'put', 'delete'].includes(method))
      .map((method) => ({
        method: method.toUpperCase(),
        url: path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000'),
        name: `${method.toUpperCase()} ${path}`,
      })),
  );
});
afterAll(async () => {
  await server.close();
});

function call(route: { method: string; url: string; name: string }, headers: Record<string, string> = {}) {
  const body = BODIES[route.name];
  return server.app.inject({
    method: route.method as 'GET',
    url: route.url,
    headers: { origin: PUBLIC_URL, ...headers },
    ...(body ? { payload: body as Record<string, unknown> } : {}),
  });
}

describe('route guards', () => {
  it('finds the routes of the API', () => {
    expect(routes.length).toBeGreaterThan(12);
    expect(routes.map((route) => route.name)).toContain('GET /users/me/sessions');
  });

  it('refuses every non-public route without a credential', async () => {
    const guarded = routes.filter((route) => !PUBLIC_ROUTES.has(route.name));
    expect(guarded.length).toBeGreaterThanOrEqual(5);
    for (const route of guarded) {
      const response = await call(route);
      expect(response.statusCode, route.name).toBe(401);
      expect(response.json().errors[0].extensions.code, route.name).toBe('INVALID_CREDENTIALS');
    }
  });

  it('refuses every non-public route with an expired token, and with a revoked one', async () => {
    const guarded = routes.filter((route) => !PUBLIC_ROUTES.has(route.name));
    const expired = await server.user();
    const revoked = await server.user();
    await server.app.inject({ method: 'POST', url: '/auth/logout', payload: { refresh_token: revoked.refreshToken } });
    server.clock.advance(16 * 60 * 1000);
    for (const route of guarded) {
      const late = await call(route, { authorization: `Bearer ${expired.accessToken}` });
      expect(late.statusCode, route.name).toBe(401);
      expect(late.json().errors[0].extensions.code, route.name).toBe('TOKEN_EXPIRED');
    }
    const fresh = await server.user();
    await server.app.inject({ method: 'POST', url: '/auth/logout', payload: { refresh_token: fresh.refreshToken } });
    for (const route of guarded) {
      const ended = await call(route, { authorization: `Bearer ${fresh.accessToken}` });
      expect(ended.statusCode, route.name).toBe(401);
    }
  });

  it('refuses a suspended user on every route that acts on their account', async () => {
    const suspended = await server.user();
    await server.database.db
      .updateTable('users')
      .set({ status: 'suspended' })
      .where('email', '=', suspended.email)
      .execute();
    for (const route of routes.filter(
      (r) =>
        r.name.startsWith('GET /users/me') ||
        r.name.startsWith('PATCH /users/me') ||
        r.name.startsWith('DELETE /users/me'),
    )) {
      const response = await call(route, { authorization: `Bearer ${suspended.accessToken}` });
      expect(response.statusCode, route.name).toBe(401);
      expect(response.json().errors[0].extensions.code, route.name).toBe('USER_SUSPENDED');
    }
    // A suspended user cannot get new tokens either.
    const refresh = await server.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refresh_token: suspended.refreshToken },
    });
    expect(refresh.statusCode).toBe(401);
  });
});
