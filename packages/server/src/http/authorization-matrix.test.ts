import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomId } from '../crypto/random.js';
import { PERMISSIONS } from '../features/roles/index.js';
import { createTestServer, PUBLIC_URL, type TestServer, type TestUser } from '../testing/test-server.js';
import type { DeclaredRoute } from './access.js';

/**
 * The authorization matrix. Every route the server declares is called anonymously, with an expired and a
 * revoked token, as a `user`, as a `guest`, as a suspended user, as a role holding every permission but the
 * route's own and as one holding only the route's own, and each answer is checked against the access the
 * route declares. A new route is covered the moment it is registered; one that forgets to declare its access
 * does not start at all (see access.ts).
 */

/**
 * The only places where routes may be public or open to any signed-in caller: sign-in flows, the caller's own
 * account, token metadata and operations. Everything else is administration and must name a permission.
 */
const SELF_SERVICE = [
  /^\/auth(\/|$)/,
  /^\/users\/me(\/|$)/,
  /^\/users\/invite\/accept$/,
  /^\/api\/auth$/,
  /^\/\.well-known\//,
  /^\/(health|ready)$/,
];

const NIL = '00000000-0000-4000-8000-000000000000';

let server: TestServer;
let routes: DeclaredRoute[];
let victim: TestUser;
let victimSessionId: string;

beforeAll(async () => {
  server = await createTestServer();
  routes = [...server.routes];
  victim = await server.user();
  const sessions = await server.app.inject({
    method: 'GET',
    url: '/users/me/sessions',
    headers: { authorization: `Bearer ${victim.accessToken}` },
  });
  victimSessionId = sessions.json().data[0].id;
});
afterAll(async () => {
  await server.close();
});

const name = (route: DeclaredRoute) => `${route.method} ${route.url}`;
const permissionOf = (route: DeclaredRoute) => (typeof route.access === 'object' ? route.access.permission : null);

interface Owner {
  userId: string;
  sessionId: string;
}

/**
 * Fills path parameters with real ids of `owner` (the victim unless said otherwise) where the path says what
 * they are, else a nil UUID.
 */
function urlOf(route: DeclaredRoute, owner: Owner = { userId: victim.id, sessionId: victimSessionId }): string {
  const own = route.url.startsWith('/users/me/');
  return route.url.replace(/:([A-Za-z_]+)/g, (_, param: string) => {
    if (/session/i.test(param) || (own && param === 'id' && route.url.includes('/sessions/'))) return owner.sessionId;
    if (route.url.startsWith('/users/:') && param === 'id') return owner.userId;
    if (route.url.startsWith('/projects/:')) return 'default';
    return NIL;
  });
}

function call(route: DeclaredRoute, token?: string, owner?: Owner) {
  return server.app.inject({
    method: route.method as 'GET',
    url: urlOf(route, owner),
    headers: { origin: PUBLIC_URL, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(['POST', 'PATCH', 'PUT'].includes(route.method) ? { payload: {} } : {}),
  });
}

async function expectRefused(route: DeclaredRoute, token: string | undefined, status: number, code: string) {
  const response = await call(route, token);
  expect(response.statusCode, `${name(route)}: ${response.body}`).toBe(status);
  expect(response.json().errors[0].extensions.code, name(route)).toBe(code);
}

async function expectAdmitted(route: DeclaredRoute, token: string, owner?: Owner) {
  const response = await call(route, token, owner);
  expect([401, 403], `${name(route)} answered ${response.statusCode}: ${response.body}`).not.toContain(
    response.statusCode,
  );
}

/** Routes whose credential is a personal API key (`Authorization: Bearer gatehouse_pat_...`). */
const KEY_CREDENTIAL = ['/api/auth'];

async function personalKey(accessToken: string): Promise<string> {
  const response = await server.app.inject({
    method: 'POST',
    url: '/users/me/api-keys',
    headers: { authorization: `Bearer ${accessToken}` },
    payload: { name: 'matrix' },
  });
  return response.json().data.key;
}

async function userWithPermissions(permissions: string[]): Promise<TestUser> {
  const role = `matrix-${randomId().slice(0, 8)}`;
  await server.database.db
    .insertInto('roles')
    .values({
      id: randomId(),
      project_id: server.projectId,
      name: role,
      description: null,
      permissions: JSON.stringify(permissions),
      created_at: server.clock.now(),
    })
    .execute();
  return server.user(undefined, { role });
}

describe('authorization matrix', () => {
  it('covers the whole API, and every route that is documented', async () => {
    expect(routes.length).toBeGreaterThan(20);
    const spec = (await server.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    const documented = Object.entries(spec.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`),
    );
    expect(new Set(documented)).toEqual(new Set(routes.map(name)));
  });

  it('guards every administrative route with a permission', () => {
    for (const route of routes) {
      if (!SELF_SERVICE.some((pattern) => pattern.test(route.url))) {
        expect(permissionOf(route), `${name(route)} is administrative but declares ${String(route.access)}`).not.toBe(
          null,
        );
      }
    }
  });

  it('declares only permissions from the catalog', () => {
    for (const route of routes) {
      const permission = permissionOf(route);
      if (permission) expect(Object.keys(PERMISSIONS), name(route)).toContain(permission);
    }
  });

  it('refuses every non-public route to an anonymous caller with 401', async () => {
    for (const route of routes.filter((r) => r.access !== 'public')) {
      await expectRefused(route, undefined, 401, 'INVALID_CREDENTIALS');
    }
  });

  it('refuses every non-public route with an expired token and with a revoked one', async () => {
    const expired = await server.user();
    const revoked = await server.user();
    await server.app.inject({ method: 'POST', url: '/auth/logout', payload: { refresh_token: revoked.refreshToken } });
    for (const route of routes.filter((r) => r.access !== 'public')) {
      await expectRefused(route, revoked.accessToken, 401, 'INVALID_CREDENTIALS');
    }
    server.clock.advance(16 * 60 * 1000);
    for (const route of routes.filter((r) => r.access !== 'public')) {
      await expectRefused(route, expired.accessToken, 401, 'TOKEN_EXPIRED');
    }
    victim = await server.login(victim.email).then((response) => ({
      ...victim,
      accessToken: response.json().data.access_token,
      refreshToken: response.json().data.refresh_token,
    }));
  });

  it('refuses every permission route to a user and to a guest with 403, and admits them to their own routes', async () => {
    for (const role of ['user', 'guest']) {
      const caller = await server.user(undefined, { role });
      for (const route of routes) {
        // A fresh sign-in per route: some of them (logout everywhere) end the caller's sessions.
        const token = (await server.login(caller.email)).json().data.access_token as string;
        if (permissionOf(route)) {
          await expectRefused(route, token, 403, 'FORBIDDEN');
          continue;
        }
        const own = await server.app.inject({
          method: 'GET',
          url: '/users/me/sessions',
          headers: { authorization: `Bearer ${token}` },
        });
        const current = own.json().data.find((session: { current: boolean }) => session.current);
        // The exchange takes the caller's personal API key, not an access token.
        const credential = KEY_CREDENTIAL.includes(route.url) ? await personalKey(token) : token;
        await expectAdmitted(route, credential, { userId: caller.id, sessionId: current.id });
      }
    }
  });

  it('guards each permission route by its own permission: all the others are not enough, it alone is', async () => {
    const permissions = [...new Set(routes.map(permissionOf).filter((p): p is string => p !== null))];
    const everything = Object.keys(PERMISSIONS);
    for (const permission of permissions) {
      const without = await userWithPermissions(everything.filter((p) => p !== permission));
      const only = await userWithPermissions([permission]);
      for (const route of routes.filter((r) => permissionOf(r) === permission)) {
        await expectRefused(route, without.accessToken, 403, 'FORBIDDEN');
        // Admitted calls really act (delete, suspend), so they act on a throwaway account, not the victim.
        const target = await server.user();
        await expectAdmitted(route, only.accessToken, { userId: target.id, sessionId: NIL });
      }
    }
  });

  it('refuses a suspended user on every non-public route with USER_SUSPENDED', async () => {
    const suspended = await server.admin();
    const key = await personalKey(suspended.accessToken);
    await server.database.db.updateTable('users').set({ status: 'suspended' }).where('id', '=', suspended.id).execute();
    for (const route of routes.filter((r) => r.access !== 'public')) {
      await expectRefused(route, suspended.accessToken, 401, 'USER_SUSPENDED');
      await expectRefused(route, key, 401, 'USER_SUSPENDED');
    }
    const refresh = await server.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refresh_token: suspended.refreshToken },
    });
    expect(refresh.statusCode).toBe(401);
  });

  it('refuses API keys on every self-service write that manages a credential', () => {
    // A leaked key must not mint credentials or lock its owner out (docs/api-keys.md). A new self-service route
    // that changes keys, sessions, passwords, factors or sign-in addresses, or deletes the account, declares
    // `config.apiKeys: 'refused'`.
    const credential = /(api-keys|sessions|logout|password|passkeys|mfa|totp|recovery|phone|email|identities)/;
    const writes = routes.filter(
      (route) =>
        route.access === 'signed-in' &&
        route.method !== 'GET' &&
        (credential.test(route.url.replace(/^\/users\/me/, '')) ||
          (route.method === 'DELETE' && route.url === '/users/me')),
    );
    expect(writes.length).toBeGreaterThan(5);
    for (const route of writes) expect(route.apiKeys, name(route)).toBe('refused');
  });

  it('refuses every non-public route with a revoked, a rotated-out and an expired API key', async () => {
    const owner = await server.admin();
    const keys = await Promise.all(['revoked', 'rotated', 'expired'].map(() => personalKey(owner.accessToken)));
    const ids = (
      await server.app.inject({
        method: 'GET',
        url: '/users/me/api-keys',
        headers: { authorization: `Bearer ${owner.accessToken}` },
      })
    ).json().data as { id: string; prefix: string }[];
    const idOf = (key: string) => ids.find((row) => key.startsWith(row.prefix))?.id;
    const [revoked, rotated, expired] = keys as [string, string, string];
    const headers = { authorization: `Bearer ${owner.accessToken}` };
    await server.app.inject({ method: 'DELETE', url: `/users/me/api-keys/${idOf(revoked)}`, headers });
    await server.app.inject({ method: 'POST', url: `/users/me/api-keys/${idOf(rotated)}/rotate`, headers });
    for (const route of routes.filter((r) => r.access !== 'public')) {
      await expectRefused(route, revoked, 401, 'API_KEY_REVOKED');
      await expectRefused(route, rotated, 401, 'API_KEY_REVOKED');
    }
    server.clock.advance(31 * 24 * 60 * 60 * 1000);
    for (const route of routes.filter((r) => r.access !== 'public')) {
      await expectRefused(route, expired, 401, 'API_KEY_EXPIRED');
    }
    // A month has passed: the victim's session has expired too, so they sign in again.
    victim = await server.login(victim.email).then((response) => ({
      ...victim,
      accessToken: response.json().data.access_token,
      refreshToken: response.json().data.refresh_token,
    }));
    const sessions = await server.app.inject({
      method: 'GET',
      url: '/users/me/sessions',
      headers: { authorization: `Bearer ${victim.accessToken}` },
    });
    victimSessionId = sessions.json().data.find((session: { current: boolean }) => session.current).id;
  });

  it("enforces API key scopes route by route: all other permissions are not enough, the route's own is", async () => {
    const permissions = [...new Set(routes.map(permissionOf).filter((p): p is string => p !== null))];
    const everything = Object.keys(PERMISSIONS);
    const owner = await server.admin();
    const scopedKey = async (scopes: string[]) => {
      const response = await server.app.inject({
        method: 'POST',
        url: '/users/me/api-keys',
        headers: { authorization: `Bearer ${owner.accessToken}` },
        payload: { name: 'matrix', scopes },
      });
      return response.json().data.key as string;
    };
    for (const permission of permissions) {
      const without = await scopedKey(everything.filter((p) => p !== permission));
      const only = await scopedKey([permission]);
      for (const route of routes.filter((r) => permissionOf(r) === permission)) {
        await expectRefused(route, without, 403, 'API_KEY_SCOPE_DENIED');
        if (route.apiKeys === 'refused') {
          await expectRefused(route, only, 403, 'API_KEY_NOT_ALLOWED');
          continue;
        }
        const target = await server.user();
        await expectAdmitted(route, only, { userId: target.id, sessionId: NIL });
      }
    }
  });

  it("never lets one user act on another's records through the self-service routes", async () => {
    const mallory = await server.user();
    for (const route of routes.filter((r) => r.access === 'signed-in' && r.url.includes(':'))) {
      const response = await call(route, mallory.accessToken);
      expect([403, 404], `${name(route)} answered ${response.statusCode}`).toContain(response.statusCode);
    }
    const stillThere = await server.app.inject({
      method: 'GET',
      url: '/users/me/sessions',
      headers: { authorization: `Bearer ${victim.accessToken}` },
    });
    expect(stillThere.json().data.map((session: { id: string }) => session.id)).toContain(victimSessionId);
  });
});
