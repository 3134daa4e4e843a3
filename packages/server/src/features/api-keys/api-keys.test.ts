import { createHash } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../../app.js';
import { API_KEY_PREFIXES, generateApiKey, parseApiKey } from '../../crypto/api-key.js';
import { randomId } from '../../crypto/random.js';
import type { Tables } from '../../db/types.js';
import { createTestServer, type TestServer, type TestUser } from '../../testing/test-server.js';
import { effectivePermissions } from '../roles/index.js';

const DAY = 86_400_000;

let server: TestServer;
/** Every key any test received, to prove none reaches a table or a log line. */
const issued: string[] = [];

beforeAll(async () => {
  server = await createTestServer();
});
afterAll(async () => {
  await server.close();
});

function bearer(token: string) {
  return { authorization: `Bearer ${token}` };
}

async function createKey(
  user: TestUser,
  body: Record<string, unknown> = { name: 'ci' },
): Promise<{ id: string; key: string; body: Record<string, unknown> }> {
  const response = await server.app.inject({
    method: 'POST',
    url: '/users/me/api-keys',
    headers: bearer(user.accessToken),
    payload: body,
  });
  expect(response.statusCode, response.body).toBe(201);
  const data = response.json().data;
  issued.push(data.key);
  return { id: data.id, key: data.key, body: data };
}

function me(headers: Record<string, string>): Promise<LightMyRequestResponse> {
  return server.app.inject({ method: 'GET', url: '/users/me', headers });
}

function codeOf(response: LightMyRequestResponse): string {
  return response.json().errors?.[0]?.extensions?.code;
}

async function userWithRole(permissions: string[]): Promise<TestUser & { role: string }> {
  const role = `keys-${randomId().slice(0, 8)}`;
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
  return { ...(await server.user(undefined, { role })), role };
}

async function setRolePermissions(role: string, permissions: string[]): Promise<void> {
  await server.database.db
    .updateTable('roles')
    .set({ permissions: JSON.stringify(permissions) })
    .where('project_id', '=', server.projectId)
    .where('name', '=', role)
    .execute();
}

describe('key format', () => {
  it('has a recognizable prefix per kind, 256 random bits and a checksum that refuses any changed character', () => {
    for (const kind of ['personal', 'publishable', 'secret'] as const) {
      const { key, displayPrefix } = generateApiKey(kind);
      expect(key.startsWith(API_KEY_PREFIXES[kind])).toBe(true);
      expect(key).toMatch(/^gatehouse_(pat|pk|sk)_[0-9A-Za-z]{49}$/);
      expect(key.startsWith(displayPrefix)).toBe(true);
      expect(parseApiKey(key)).toBe(kind);
      // Any one character changed in the random part or the checksum is caught.
      const prefixLength = API_KEY_PREFIXES[kind].length;
      for (let i = prefixLength; i < key.length; i++) {
        const changed = key.slice(0, i) + (key[i] === 'a' ? 'b' : 'a') + key.slice(i + 1);
        expect(parseApiKey(changed), `position ${i}`).toBeNull();
      }
      expect(parseApiKey(key.slice(0, -1))).toBeNull();
      expect(parseApiKey(`${key}x`)).toBeNull();
    }
    const keys = new Set(Array.from({ length: 200 }, () => generateApiKey('personal').key));
    expect(keys.size).toBe(200);
  });
});

describe('personal API keys', () => {
  it('shows the key once at creation, stores only its hash, and lists everything but the key', async () => {
    const user = await server.user();
    const { id, key, body } = await createKey(user, { name: 'deploy bot', scopes: null });
    expect(key.startsWith('gatehouse_pat_')).toBe(true);
    expect(body).toMatchObject({ name: 'deploy bot', scopes: null, status: 'active', last_used_at: null });
    expect(Date.parse(body.expires_at as string) - server.clock.now()).toBe(30 * DAY);
    const list = await server.app.inject({
      method: 'GET',
      url: '/users/me/api-keys',
      headers: bearer(user.accessToken),
    });
    expect(list.statusCode).toBe(200);
    const [listed] = list.json().data;
    expect(listed).toEqual({ ...body, key: undefined, prefix: key.slice(0, 20) });
    expect(list.body).not.toContain(key);
    expect(Object.keys(listed)).not.toContain('key');
    const row = await server.database.db
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row.key_hash).toBe(createHash('sha256').update(key).digest('base64url'));
    const event = await server.database.db
      .selectFrom('audit_events')
      .selectAll()
      .where('event', '=', 'api_key.created')
      .where('subject_id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(JSON.parse(event.details)).toMatchObject({ key_id: id, name: 'deploy bot', prefix: key.slice(0, 20) });
  });

  it('takes an expiry up to the configured maximum, and refuses one in the past or beyond it', async () => {
    const user = await server.user();
    const at = (ms: number) => new Date(server.clock.now() + ms).toISOString();
    const inAYear = await createKey(user, { name: 'long', expires_at: at(365 * DAY) });
    expect(inAYear.body.expires_at).toBe(at(365 * DAY));
    for (const expires_at of [at(366 * DAY), at(-1000), 'tomorrow']) {
      const response = await server.app.inject({
        method: 'POST',
        url: '/users/me/api-keys',
        headers: bearer(user.accessToken),
        payload: { name: 'x', expires_at },
      });
      expect(response.statusCode, expires_at).toBe(400);
      expect(codeOf(response)).toBe('INVALID_PAYLOAD');
    }
    for (const payload of [{}, { name: '' }, { name: 'x', scopes: ['not a permission'] }, { name: 'x', extra: 1 }]) {
      const response = await server.app.inject({
        method: 'POST',
        url: '/users/me/api-keys',
        headers: bearer(user.accessToken),
        payload,
      });
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
    }
  });

  it('authenticates as its user from X-API-Key, API-KEY or Authorization: Bearer, and never from the query', async () => {
    const user = await server.user();
    const { key } = await createKey(user);
    const variants: Record<string, string>[] = [{ 'x-api-key': key }, { 'api-key': key }, bearer(key)];
    for (const headers of variants) {
      const response = await me(headers);
      expect(response.statusCode, JSON.stringify(Object.keys(headers))).toBe(200);
      expect(response.json().data.id).toBe(user.id);
    }
    const query = await server.app.inject({ method: 'GET', url: `/users/me?access_token=${key}` });
    expect(query.statusCode).toBe(401);
    expect(codeOf(query)).toBe('API_KEY_INVALID');
    const both = await me({ 'x-api-key': key, ...bearer(user.accessToken) });
    expect([both.statusCode, codeOf(both)]).toEqual([400, 'INVALID_PAYLOAD']);
    const twoHeaders = await me({ 'x-api-key': key, 'api-key': key });
    expect([twoHeaders.statusCode, codeOf(twoHeaders)]).toEqual([400, 'INVALID_PAYLOAD']);
  });

  it('refuses a malformed key with API_KEY_INVALID before any database work, and an unknown one alike', async () => {
    const user = await server.user();
    const { key } = await createKey(user);
    const spy = vi.spyOn(server.database.db, 'selectFrom');
    try {
      const typo = `${key.slice(0, 30)}${key[30] === 'A' ? 'B' : 'A'}${key.slice(31)}`;
      for (const wrong of [typo, key.slice(0, -2), 'gatehouse_pat_short', `${key}0`, 'not-a-key', user.accessToken]) {
        const response = await me({ 'x-api-key': wrong });
        expect(response.statusCode, wrong).toBe(401);
        expect(codeOf(response)).toBe('API_KEY_INVALID');
      }
      expect(spy).not.toHaveBeenCalled();
      const unknown = generateApiKey('personal').key;
      const response = await me(bearer(unknown));
      expect(response.statusCode).toBe(401);
      expect(codeOf(response)).toBe('API_KEY_INVALID');
      expect(spy).toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it('records last_used_at at most once a minute', async () => {
    const user = await server.user();
    const { id, key } = await createKey(user);
    const lastUsed = async () =>
      (await server.database.db.selectFrom('api_keys').select('last_used_at').where('id', '=', id).executeTakeFirst())
        ?.last_used_at;
    // The write happens after the response: wait for it, or give it time to (not) happen.
    const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
    const becomes = (value: number) =>
      vi.waitFor(async () => expect(Number(await lastUsed())).toBe(value), { timeout: 2000, interval: 10 });
    const first = server.clock.now();
    expect((await me(bearer(key))).statusCode).toBe(200);
    await becomes(first);
    server.clock.advance(30_000);
    await me(bearer(key));
    await settle();
    expect(Number(await lastUsed())).toBe(first);
    server.clock.advance(31_000);
    await Promise.all([me(bearer(key)), me(bearer(key)), me(bearer(key))]);
    await becomes(first + 61_000);
    const listed = await server.app.inject({
      method: 'GET',
      url: '/users/me/api-keys',
      headers: bearer(user.accessToken),
    });
    expect(listed.json().data[0].last_used_at).toBe(new Date(first + 61_000).toISOString());
  });

  it('stops a revoked key at once, even one this node has just verified', async () => {
    const user = await server.user();
    const { id, key } = await createKey(user);
    expect((await me(bearer(key))).statusCode).toBe(200);
    const revoked = await server.app.inject({
      method: 'DELETE',
      url: `/users/me/api-keys/${id}`,
      headers: bearer(user.accessToken),
    });
    expect(revoked.statusCode).toBe(204);
    const after = await me(bearer(key));
    expect(after.statusCode).toBe(401);
    expect(codeOf(after)).toBe('API_KEY_REVOKED');
    const list = await server.app.inject({
      method: 'GET',
      url: '/users/me/api-keys',
      headers: bearer(user.accessToken),
    });
    expect(list.json().data[0]).toMatchObject({ id, status: 'revoked' });
    const again = await server.app.inject({
      method: 'DELETE',
      url: `/users/me/api-keys/${id}`,
      headers: bearer(user.accessToken),
    });
    expect(again.statusCode).toBe(204);
    const events = await server.database.db
      .selectFrom('audit_events')
      .selectAll()
      .where('event', '=', 'api_key.revoked')
      .where('subject_id', '=', user.id)
      .execute();
    expect(events).toHaveLength(1);
  });

  it("answers another user's key id like a missing one", async () => {
    const owner = await server.user();
    const mallory = await server.user();
    const { id, key } = await createKey(owner);
    for (const [method, url] of [
      ['DELETE', `/users/me/api-keys/${id}`],
      ['POST', `/users/me/api-keys/${id}/rotate`],
    ] as const) {
      const response = await server.app.inject({ method, url, headers: bearer(mallory.accessToken) });
      expect(response.statusCode, url).toBe(404);
      expect(codeOf(response)).toBe('RECORD_NOT_FOUND');
    }
    expect((await me(bearer(key))).statusCode).toBe(200);
  });

  it('stops an expired key with API_KEY_EXPIRED', async () => {
    const user = await server.user();
    const { key } = await createKey(user, {
      name: 'short',
      expires_at: new Date(server.clock.now() + 120_000).toISOString(),
    });
    expect((await me(bearer(key))).statusCode).toBe(200);
    server.clock.advance(120_000);
    const response = await me(bearer(key));
    expect(response.statusCode).toBe(401);
    expect(codeOf(response)).toBe('API_KEY_EXPIRED');
    const user2 = await server.login(user.email);
    const list = await server.app.inject({
      method: 'GET',
      url: '/users/me/api-keys',
      headers: bearer(user2.json().data.access_token),
    });
    expect(list.json().data[0].status).toBe('expired');
  });

  it('refuses a suspended user at once, and a deleted one', async () => {
    const admin = await server.admin();
    const user = await server.user();
    const { key } = await createKey(user);
    expect((await me(bearer(key))).statusCode).toBe(200);
    const suspend = await server.app.inject({
      method: 'PATCH',
      url: `/users/${user.id}`,
      headers: bearer(admin.accessToken),
      payload: { status: 'suspended' },
    });
    expect(suspend.statusCode, suspend.body).toBe(200);
    const response = await me(bearer(key));
    expect(response.statusCode).toBe(401);
    expect(codeOf(response)).toBe('USER_SUSPENDED');
    const removed = await server.app.inject({
      method: 'DELETE',
      url: `/users/${user.id}`,
      headers: bearer(admin.accessToken),
    });
    expect(removed.statusCode).toBe(204);
    const gone = await me(bearer(key));
    expect(gone.statusCode).toBe(401);
  });
});

describe('rotation', () => {
  it('replaces the secret, keeps name, expiry and scopes, and stops the old key at once', async () => {
    const user = await userWithRole(['users:read']);
    const created = await createKey(user, { name: 'rotate me', scopes: ['users:read'] });
    expect((await me(bearer(created.key))).statusCode).toBe(200);
    server.clock.advance(1000);
    const response = await server.app.inject({
      method: 'POST',
      url: `/users/me/api-keys/${created.id}/rotate`,
      headers: bearer(user.accessToken),
    });
    expect(response.statusCode, response.body).toBe(200);
    const rotated = response.json().data;
    issued.push(rotated.key);
    expect(rotated.key).not.toBe(created.key);
    expect(rotated).toMatchObject({
      name: 'rotate me',
      scopes: ['users:read'],
      expires_at: created.body.expires_at,
      status: 'active',
    });
    expect(rotated.id).not.toBe(created.id);
    const old = await me(bearer(created.key));
    expect(old.statusCode).toBe(401);
    expect(codeOf(old)).toBe('API_KEY_REVOKED');
    expect((await me(bearer(rotated.key))).statusCode).toBe(200);
    const list = await server.app.inject({
      method: 'GET',
      url: '/users/me/api-keys',
      headers: bearer(user.accessToken),
    });
    expect(list.json().data.map((key: { id: string }) => key.id)).toEqual([rotated.id]);
    const again = await server.app.inject({
      method: 'POST',
      url: `/users/me/api-keys/${created.id}/rotate`,
      headers: bearer(user.accessToken),
    });
    expect(again.statusCode).toBe(409);
    expect(codeOf(again)).toBe('API_KEY_CONFLICT');
  });

  it('keeps the old key working for the grace period asked for, then stops it', async () => {
    const user = await server.user();
    const created = await createKey(user);
    expect((await me(bearer(created.key))).statusCode).toBe(200);
    const response = await server.app.inject({
      method: 'POST',
      url: `/users/me/api-keys/${created.id}/rotate`,
      headers: bearer(user.accessToken),
      payload: { grace_period: 60 },
    });
    expect(response.statusCode).toBe(200);
    issued.push(response.json().data.key);
    const list = await server.app.inject({
      method: 'GET',
      url: '/users/me/api-keys',
      headers: bearer(user.accessToken),
    });
    expect(
      list
        .json()
        .data.map((key: { status: string }) => key.status)
        .sort(),
    ).toEqual(['active', 'rotating']);
    server.clock.advance(59_000);
    expect((await me(bearer(created.key))).statusCode).toBe(200);
    server.clock.advance(1000);
    const late = await me(bearer(created.key));
    expect(late.statusCode).toBe(401);
    expect(codeOf(late)).toBe('API_KEY_REVOKED');
    expect((await me(bearer(response.json().data.key))).statusCode).toBe(200);
    const tooLong = await server.app.inject({
      method: 'POST',
      url: `/users/me/api-keys/${response.json().data.id}/rotate`,
      headers: bearer(user.accessToken),
      payload: { grace_period: 86_401 },
    });
    expect(tooLong.statusCode).toBe(400);
  });

  it('lets exactly one of parallel rotations win, leaving exactly one valid key', async () => {
    const user = await server.user();
    const created = await createKey(user);
    const responses = await Promise.all(
      Array.from({ length: 8 }, () =>
        server.app.inject({
          method: 'POST',
          url: `/users/me/api-keys/${created.id}/rotate`,
          headers: bearer(user.accessToken),
        }),
      ),
    );
    const statuses = responses.map((response) => response.statusCode).sort();
    expect(statuses).toEqual([200, 409, 409, 409, 409, 409, 409, 409]);
    const winner = responses.find((response) => response.statusCode === 200)?.json().data;
    issued.push(winner.key);
    const rows = await server.database.db
      .selectFrom('api_keys')
      .selectAll()
      .where('user_id', '=', user.id)
      .where('revoked_at', 'is', null)
      .execute();
    expect(rows.map((row) => row.id)).toEqual([winner.id]);
    expect((await me(bearer(winner.key))).statusCode).toBe(200);
    expect((await me(bearer(created.key))).statusCode).toBe(401);
  });
});

describe('scopes', () => {
  it('grant what both the user and the scopes cover, wildcards included', () => {
    const cases: [string[], string[] | null, string[]][] = [
      [['users:read', 'roles:read'], null, ['users:read', 'roles:read']],
      [['users:read', 'roles:read'], [], []],
      [['users:read', 'roles:read'], ['users:read', 'audit:read'], ['users:read']],
      [['*'], ['users:read'], ['users:read']],
      [['users:*'], ['users:read', 'roles:read'], ['users:read']],
      [['users:read', 'users:write', 'roles:read'], ['users:*'], ['users:read', 'users:write']],
      [['users:read', 'posts:write'], ['*'], ['users:read', 'posts:write']],
    ];
    for (const [held, scopes, expected] of cases) {
      expect(effectivePermissions(held, scopes).sort(), JSON.stringify([held, scopes])).toEqual(expected.sort());
    }
  });

  it('limits a key to its scopes route by route, and to what its user holds at the time of use', async () => {
    const user = await userWithRole(['users:read', 'roles:read', 'audit:read']);
    const scoped = await createKey(user, { name: 'read users', scopes: ['users:read'] });
    const full = await createKey(user, { name: 'everything' });
    const none = await createKey(user, { name: 'self only', scopes: [] });
    const get = (url: string, key: string) => server.app.inject({ method: 'GET', url, headers: bearer(key) });

    expect((await get('/users', scoped.key)).statusCode).toBe(200);
    const roles = await get('/roles', scoped.key);
    expect(roles.statusCode).toBe(403);
    expect(codeOf(roles)).toBe('API_KEY_SCOPE_DENIED');
    expect((await get('/audit', scoped.key)).statusCode).toBe(403);
    for (const url of ['/users', '/roles', '/audit']) expect((await get(url, full.key)).statusCode, url).toBe(200);
    expect((await get('/users', none.key)).statusCode).toBe(403);
    expect((await get('/users/me', none.key)).statusCode).toBe(200);
    // A permission the user never held is refused as FORBIDDEN whatever the key says.
    const write = await server.app.inject({
      method: 'POST',
      url: '/roles',
      headers: bearer(full.key),
      payload: { name: 'nope', permissions: [] },
    });
    expect(codeOf(write)).toBe('FORBIDDEN');

    await setRolePermissions(user.role, ['roles:read']);
    const demoted = await get('/users', scoped.key);
    expect(demoted.statusCode).toBe(403);
    expect(codeOf(demoted)).toBe('FORBIDDEN');
    expect((await get('/users', full.key)).statusCode).toBe(403);
    expect((await get('/roles', full.key)).statusCode).toBe(200);
  });

  it('refuses to create a key with a permission its user does not hold', async () => {
    const user = await userWithRole(['users:read']);
    const response = await server.app.inject({
      method: 'POST',
      url: '/users/me/api-keys',
      headers: bearer(user.accessToken),
      payload: { name: 'greedy', scopes: ['users:read', 'users:delete'] },
    });
    expect(response.statusCode).toBe(403);
    expect(codeOf(response)).toBe('FORBIDDEN');
    const wildcard = await server.app.inject({
      method: 'POST',
      url: '/users/me/api-keys',
      headers: bearer(user.accessToken),
      payload: { name: 'greedy', scopes: ['users:*'] },
    });
    expect(wildcard.statusCode).toBe(403);
  });

  it('refuses credential management to a key: no new keys, rotations, revocations, sessions or impersonation', async () => {
    const admin = await server.admin();
    const { id, key } = await createKey(admin);
    const victim = await server.user();
    for (const [method, url, payload] of [
      ['POST', '/users/me/api-keys', { name: 'more' }],
      ['POST', `/users/me/api-keys/${id}/rotate`, {}],
      ['DELETE', `/users/me/api-keys/${id}`, undefined],
      ['DELETE', `/users/me/sessions/${randomId()}`, undefined],
      ['POST', '/auth/logout/all', undefined],
      ['POST', `/users/${victim.id}/impersonate`, {}],
      ['POST', '/projects/default/keys', { kind: 'secret', name: 'x' }],
      ['POST', '/users/me/phone', { phone: '+3725551234' }],
      ['POST', '/users/me/phone/verify', { code: '123456' }],
      ['DELETE', '/users/me/phone', undefined],
    ] as const) {
      const response = await server.app.inject({ method, url, headers: bearer(key), payload });
      expect(response.statusCode, `${method} ${url}: ${response.body}`).toBe(403);
      expect(codeOf(response)).toBe('API_KEY_NOT_ALLOWED');
    }
    expect((await me(bearer(key))).statusCode).toBe(200);
    const list = await server.app.inject({ method: 'GET', url: '/users/me/api-keys', headers: bearer(key) });
    expect(list.statusCode).toBe(200);
  });
  it('refuses to create or rotate a key with an impersonation token: it would outlive the impersonation', async () => {
    const admin = await server.admin();
    const user = await server.user();
    const { id } = await createKey(user);
    const impersonation = await server.app.inject({
      method: 'POST',
      url: `/users/${user.id}/impersonate`,
      headers: bearer(admin.accessToken),
      payload: {},
    });
    expect(impersonation.statusCode, impersonation.body).toBe(200);
    const token = impersonation.json().data.access_token as string;
    for (const [url, payload] of [
      ['/users/me/api-keys', { name: 'left behind' }],
      [`/users/me/api-keys/${id}/rotate`, {}],
    ] as const) {
      const response = await server.app.inject({ method: 'POST', url, headers: bearer(token), payload });
      expect([response.statusCode, codeOf(response)], url).toEqual([403, 'FORBIDDEN']);
    }
    const list = await server.app.inject({ method: 'GET', url: '/users/me/api-keys', headers: bearer(token) });
    expect(list.json().data).toHaveLength(1);
  });

  it('needs a recent sign-in to create a key: a token refreshed from an old sign-in is not enough', async () => {
    const user = await server.user();
    server.clock.advance(11 * 60_000);
    const refreshed = await server.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refresh_token: user.refreshToken },
    });
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    const stale = await server.app.inject({
      method: 'POST',
      url: '/users/me/api-keys',
      headers: bearer(refreshed.json().data.access_token),
      payload: { name: 'late' },
    });
    expect([stale.statusCode, codeOf(stale)]).toEqual([403, 'REAUTHENTICATION_REQUIRED']);
    const fresh = await server.login(user.email);
    await createKey({ ...user, accessToken: fresh.json().data.access_token });
  });
});

describe('GET /api/auth (exchange)', () => {
  it('answers accounts, user, an access token limited to the scopes, and expires', async () => {
    const user = await userWithRole(['users:read', 'roles:read', 'posts:write']);
    const { key, id } = await createKey(user, { name: 'entu', scopes: ['users:read', 'posts:write'] });
    const response = await server.app.inject({ method: 'GET', url: '/api/auth', headers: bearer(key) });
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    expect(body).toEqual({
      accounts: [{ _id: server.projectId, name: 'Default', user: { _id: user.id, name: user.email } }],
      user: { _id: user.id, name: user.email, email: user.email },
      token: expect.any(String),
      expires: 15 * 60 * 1000,
    });
    const claims = JSON.parse(Buffer.from(body.token.split('.')[1], 'base64url').toString());
    expect(claims).toMatchObject({
      sub: user.id,
      sid: id,
      api_key: id,
      scope: 'users:read posts:write',
      amr: ['api_key'],
    });
    expect(claims.permissions.sort()).toEqual(['posts:write', 'users:read']);
    expect((await me(bearer(body.token))).statusCode).toBe(200);
    const get = (url: string) => server.app.inject({ method: 'GET', url, headers: bearer(body.token) });
    expect((await get('/users')).statusCode).toBe(200);
    expect(codeOf(await get('/roles'))).toBe('API_KEY_SCOPE_DENIED');
    const mint = await server.app.inject({
      method: 'POST',
      url: '/users/me/api-keys',
      headers: bearer(body.token),
      payload: { name: 'more' },
    });
    expect(codeOf(mint)).toBe('API_KEY_NOT_ALLOWED');

    const narrowed = await server.app.inject({ method: 'GET', url: '/api/auth?account=default', headers: bearer(key) });
    expect(narrowed.statusCode).toBe(200);
    const other = await server.app.inject({ method: 'GET', url: '/api/auth?account=elsewhere', headers: bearer(key) });
    expect(other.statusCode).toBe(404);

    // Revoking the key ends the tokens obtained with it.
    await server.app.inject({ method: 'DELETE', url: `/users/me/api-keys/${id}`, headers: bearer(user.accessToken) });
    const ended = await me(bearer(body.token));
    expect(ended.statusCode).toBe(401);
    const afterRevoke = await server.app.inject({ method: 'GET', url: '/api/auth', headers: bearer(key) });
    expect(afterRevoke.statusCode).toBe(401);
    expect(codeOf(afterRevoke)).toBe('API_KEY_REVOKED');
  });

  it('answers 400 without a key, and 401 with a registry code for a bad key or user, never 200 with an empty list', async () => {
    const none = await server.app.inject({ method: 'GET', url: '/api/auth' });
    expect(none.statusCode).toBe(400);
    expect(codeOf(none)).toBe('INVALID_PAYLOAD');
    const user = await server.user();
    const jwt = await server.app.inject({ method: 'GET', url: '/api/auth', headers: bearer(user.accessToken) });
    expect([jwt.statusCode, codeOf(jwt)]).toEqual([401, 'API_KEY_INVALID']);
    const unknown = await server.app.inject({
      method: 'GET',
      url: '/api/auth',
      headers: bearer(generateApiKey('personal').key),
    });
    expect([unknown.statusCode, codeOf(unknown)]).toEqual([401, 'API_KEY_INVALID']);
    const malformed = await server.app.inject({ method: 'GET', url: '/api/auth', headers: bearer('gatehouse_pat_x') });
    expect([malformed.statusCode, codeOf(malformed)]).toEqual([401, 'API_KEY_INVALID']);

    const expiring = await createKey(user, {
      name: 'short',
      expires_at: new Date(server.clock.now() + 5 * 60_000).toISOString(),
    });
    const short = await server.app.inject({ method: 'GET', url: '/api/auth', headers: bearer(expiring.key) });
    expect(short.json().expires).toBe(5 * 60_000);
    server.clock.advance(5 * 60_000);
    const expired = await server.app.inject({ method: 'GET', url: '/api/auth', headers: bearer(expiring.key) });
    expect([expired.statusCode, codeOf(expired)]).toEqual([401, 'API_KEY_EXPIRED']);

    const fresh = await server.login(user.email);
    const suspendedKey = await createKey({ ...user, accessToken: fresh.json().data.access_token });
    await server.database.db.updateTable('users').set({ status: 'suspended' }).where('id', '=', user.id).execute();
    const suspended = await server.app.inject({ method: 'GET', url: '/api/auth', headers: bearer(suspendedKey.key) });
    expect([suspended.statusCode, codeOf(suspended)]).toEqual([401, 'USER_SUSPENDED']);
  });
});

describe('admin', () => {
  it("lists and revokes any user's keys with api-keys:admin, and only with it", async () => {
    const admin = await userWithRole(['api-keys:admin']);
    const plain = await server.user();
    const user = await server.user();
    const { id, key } = await createKey(user, { name: 'laptop' });
    const list = await server.app.inject({
      method: 'GET',
      url: `/users/${user.id}/api-keys`,
      headers: bearer(admin.accessToken),
    });
    expect(list.statusCode).toBe(200);
    expect(list.json().data).toMatchObject([{ id, name: 'laptop', status: 'active' }]);
    expect(list.body).not.toContain(key);
    const refused = await server.app.inject({
      method: 'GET',
      url: `/users/${user.id}/api-keys`,
      headers: bearer(plain.accessToken),
    });
    expect(refused.statusCode).toBe(403);
    const missing = await server.app.inject({
      method: 'GET',
      url: `/users/${randomId()}/api-keys`,
      headers: bearer(admin.accessToken),
    });
    expect(missing.statusCode).toBe(404);
    const wrongOwner = await server.app.inject({
      method: 'DELETE',
      url: `/users/${plain.id}/api-keys/${id}`,
      headers: bearer(admin.accessToken),
    });
    expect(wrongOwner.statusCode).toBe(404);
    const revoked = await server.app.inject({
      method: 'DELETE',
      url: `/users/${user.id}/api-keys/${id}`,
      headers: bearer(admin.accessToken),
    });
    expect(revoked.statusCode).toBe(204);
    expect(codeOf(await me(bearer(key)))).toBe('API_KEY_REVOKED');
    const event = await server.database.db
      .selectFrom('audit_events')
      .selectAll()
      .where('event', '=', 'api_key.revoked')
      .where('subject_id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(event.actor_id).toBe(admin.id);
  });
});

describe('project keys', () => {
  async function createProjectKey(admin: TestUser, kind: 'publishable' | 'secret', name: string = kind) {
    const response = await server.app.inject({
      method: 'POST',
      url: '/projects/default/keys',
      headers: bearer(admin.accessToken),
      payload: { kind, name },
    });
    expect(response.statusCode, response.body).toBe(201);
    issued.push(response.json().data.key);
    return response.json().data as { id: string; key: string; prefix: string };
  }

  it('creates, lists, rotates and revokes publishable and secret keys with projects:keys', async () => {
    const admin = await userWithRole(['projects:keys']);
    const pk = await createProjectKey(admin, 'publishable', 'web');
    const sk = await createProjectKey(admin, 'secret', 'backend');
    expect(pk.key.startsWith('gatehouse_pk_')).toBe(true);
    expect(sk.key.startsWith('gatehouse_sk_')).toBe(true);
    const list = await server.app.inject({
      method: 'GET',
      url: '/projects/default/keys',
      headers: bearer(admin.accessToken),
    });
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain(sk.key);
    expect(list.body).not.toContain(pk.key);
    expect(list.json().data.map((key: { id: string }) => key.id)).toEqual(expect.arrayContaining([pk.id, sk.id]));
    const rotated = await server.app.inject({
      method: 'POST',
      url: `/projects/default/keys/${sk.id}/rotate`,
      headers: bearer(admin.accessToken),
    });
    expect(rotated.statusCode).toBe(200);
    const next = rotated.json().data;
    issued.push(next.key);
    expect(next).toMatchObject({ kind: 'secret', name: 'backend', status: 'active' });
    expect(codeOf(await server.app.inject({ method: 'GET', url: '/users', headers: bearer(sk.key) }))).toBe(
      'API_KEY_REVOKED',
    );
    expect((await server.app.inject({ method: 'GET', url: '/users', headers: bearer(next.key) })).statusCode).toBe(200);
    const revoked = await server.app.inject({
      method: 'DELETE',
      url: `/projects/default/keys/${next.id}`,
      headers: bearer(admin.accessToken),
    });
    expect(revoked.statusCode).toBe(204);
    expect(codeOf(await server.app.inject({ method: 'GET', url: '/users', headers: bearer(next.key) }))).toBe(
      'API_KEY_REVOKED',
    );
    const plain = await server.user();
    const refused = await server.app.inject({
      method: 'GET',
      url: '/projects/default/keys',
      headers: bearer(plain.accessToken),
    });
    expect(refused.statusCode).toBe(403);
    const personalId = (await createKey(plain)).id;
    const notProjectKey = await server.app.inject({
      method: 'DELETE',
      url: `/projects/default/keys/${personalId}`,
      headers: bearer(admin.accessToken),
    });
    expect(notProjectKey.statusCode).toBe(404);
  });

  it('a publishable key selects the project on /auth/*; an unknown or revoked one is refused', async () => {
    const admin = await server.admin();
    const pk = await createProjectKey(admin, 'publishable');
    const user = await server.user();
    const login = (headers: Record<string, string>) =>
      server.app.inject({
        method: 'POST',
        url: '/auth/login',
        headers,
        payload: { email: user.email, password: 'correct horse battery staple' },
      });
    expect((await login({ 'x-api-key': pk.key })).statusCode).toBe(200);
    expect((await login({ 'api-key': pk.key })).statusCode).toBe(200);
    const unknown = await login({ 'x-api-key': generateApiKey('publishable').key });
    expect([unknown.statusCode, codeOf(unknown)]).toEqual([401, 'PROJECT_KEY_INVALID']);
    const malformed = await login({ 'x-api-key': 'gatehouse_pk_nope' });
    expect([malformed.statusCode, codeOf(malformed)]).toEqual([401, 'PROJECT_KEY_INVALID']);
    // A publishable key accompanies a credential without being one.
    expect((await me({ 'x-api-key': pk.key, ...bearer(user.accessToken) })).statusCode).toBe(200);
    expect(codeOf(await me({ 'x-api-key': pk.key }))).toBe('INVALID_CREDENTIALS');
    expect(codeOf(await me(bearer(pk.key)))).toBe('API_KEY_INVALID');
    await server.app.inject({
      method: 'DELETE',
      url: `/projects/default/keys/${pk.id}`,
      headers: bearer(admin.accessToken),
    });
    const revoked = await login({ 'x-api-key': pk.key });
    expect([revoked.statusCode, codeOf(revoked)]).toEqual([401, 'PROJECT_KEY_INVALID']);
  });

  it('made-up publishable keys count toward the rate limit of the public auth endpoints', async () => {
    const limited = await createTestServer({ GATEHOUSE_RATE_LIMIT_IP: '3/1m' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const response = await limited.app.inject({
          method: 'POST',
          url: '/auth/login',
          headers: { 'x-api-key': generateApiKey('publishable').key },
          payload: { email: 'nobody@example.com', password: 'correct horse battery staple' },
        });
        statuses.push(response.statusCode);
        if (i < 3) expect(codeOf(response)).toBe('PROJECT_KEY_INVALID');
      }
      expect(statuses).toEqual([401, 401, 401, 429]);
    } finally {
      await limited.close();
    }
  });

  it('a secret key administers the project from a server, and is refused on browser flows and own-account routes', async () => {
    const admin = await server.admin();
    const sk = await createProjectKey(admin, 'secret');
    const user = await server.user();
    for (const headers of [{ 'x-api-key': sk.key }, bearer(sk.key)]) {
      const login = await server.app.inject({
        method: 'POST',
        url: '/auth/login',
        headers,
        payload: { email: user.email, password: 'correct horse battery staple' },
      });
      expect([login.statusCode, codeOf(login)]).toEqual([403, 'SECRET_KEY_NOT_ALLOWED']);
    }
    const signup = await server.app.inject({
      method: 'POST',
      url: '/auth/signup',
      headers: { 'x-api-key': sk.key },
      payload: { email: 'x@example.com', password: 'correct horse battery staple' },
    });
    expect(codeOf(signup)).toBe('SECRET_KEY_NOT_ALLOWED');
    const users = await server.app.inject({ method: 'GET', url: '/users', headers: { 'x-api-key': sk.key } });
    expect(users.statusCode).toBe(200);
    const suspend = await server.app.inject({
      method: 'PATCH',
      url: `/users/${user.id}`,
      headers: bearer(sk.key),
      payload: { status: 'suspended' },
    });
    expect(suspend.statusCode, suspend.body).toBe(200);
    expect((await me(bearer(user.accessToken))).statusCode).toBe(401);
    const own = await me(bearer(sk.key));
    expect([own.statusCode, codeOf(own)]).toEqual([403, 'API_KEY_NOT_ALLOWED']);
    const exchange = await server.app.inject({ method: 'GET', url: '/api/auth', headers: bearer(sk.key) });
    expect([exchange.statusCode, codeOf(exchange)]).toEqual([401, 'API_KEY_INVALID']);
  });
});

describe('across nodes', () => {
  it('a key revoked on one node stops on another at its next revocation poll', async () => {
    const other = await buildApp(server.config, server.database, {
      clock: server.clock,
      logger: pino({ level: 'silent' }),
      webhookDelivery: 'manual',
      mailRetryInterval: 0,
    });
    try {
      const user = await server.user();
      const { id, key } = await createKey(user);
      const onOther = () => other.app.inject({ method: 'GET', url: '/users/me', headers: bearer(key) });
      expect((await onOther()).statusCode).toBe(200);
      await server.app.inject({ method: 'DELETE', url: `/users/me/api-keys/${id}`, headers: bearer(user.accessToken) });
      // The poll runs every GATEHOUSE_REVOCATION_POLL_INTERVAL (1 s) of real time.
      await vi.waitFor(async () => expect(codeOf(await onOther())).toBe('API_KEY_REVOKED'), {
        timeout: 3000,
        interval: 100,
      });

      // A rotation's grace period reaches the other node as a revocation time in the future.
      const graced = await createKey(user);
      const gracedOnOther = () => other.app.inject({ method: 'GET', url: '/users/me', headers: bearer(graced.key) });
      expect((await gracedOnOther()).statusCode).toBe(200);
      const rotated = await server.app.inject({
        method: 'POST',
        url: `/users/me/api-keys/${graced.id}/rotate`,
        headers: bearer(user.accessToken),
        payload: { grace_period: 30 },
      });
      issued.push(rotated.json().data.key);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect((await gracedOnOther()).statusCode).toBe(200);
      // 30 s is within the other node's cache lifetime (60 s): only its revocation list can stop the key now.
      server.clock.advance(30_000);
      expect(codeOf(await gracedOnOther())).toBe('API_KEY_REVOKED');
    } finally {
      await other.close();
    }
  });
});

describe('secrets at rest and in logs', () => {
  it('no key issued in these tests appears in any table or log line', async () => {
    expect(issued.length).toBeGreaterThan(20);
    const tables: (keyof Tables)[] = [
      'projects',
      'roles',
      'users',
      'sessions',
      'refresh_tokens',
      'signing_keys',
      'audit_events',
      'audit_heads',
      'webhooks',
      'webhook_deliveries',
      'one_time_tokens',
      'email_templates',
      'outbox',
      'invitations',
      'api_keys',
    ];
    let dump = '';
    for (const table of tables) {
      dump += JSON.stringify(await server.database.db.selectFrom(table).selectAll().execute());
    }
    const logs = server.logs();
    expect(logs.length).toBeGreaterThan(0);
    for (const key of issued) {
      const secretPart = key.slice(key.lastIndexOf('_') + 1);
      expect(dump).not.toContain(secretPart);
      expect(logs).not.toContain(secretPart);
    }
  });
});
