import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, TEST_PASSWORD, type TestServer, type TestUser } from '../../testing/test-server.js';

let server: TestServer;
let admin: TestUser;
beforeAll(async () => {
  server = await createTestServer();
  admin = await server.admin();
});
afterAll(async () => {
  await server.close();
});

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function call(gatehouse: TestServer, method: Method, url: string, token?: string, payload?: object) {
  return gatehouse.app.inject({
    method,
    url,
    headers: token ? bearer(token) : {},
    ...(payload ? { payload: payload as Record<string, unknown> } : {}),
  });
}
const api = (method: Method, url: string, token: string = admin.accessToken, payload?: object) =>
  call(server, method, url, token, payload);

const codeOf = (response: { json(): { errors?: { extensions: { code: string } }[] } }) =>
  response.json().errors?.[0]?.extensions.code;

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
}

let seq = 0;
const uniqueEmail = (prefix = 'u') => `${prefix}${++seq}-${Date.now()}@example.com`;

/** Adds a role to the default project (there is no roles API yet). */
async function addRole(gatehouse: TestServer, name: string, permissions: string[]): Promise<void> {
  await gatehouse.database.db
    .insertInto('roles')
    .values({
      id: randomUUID(),
      project_id: gatehouse.projectId,
      name,
      description: null,
      permissions: JSON.stringify(permissions),
      created_at: gatehouse.clock.now(),
    })
    .execute();
}

async function createUser(body: Record<string, unknown>): Promise<{ id: string; email: string; role: string }> {
  const response = await api('POST', '/users', admin.accessToken, body);
  if (response.statusCode !== 201) throw new Error(`create failed: ${response.statusCode} ${response.body}`);
  return response.json().data;
}

async function events(event: string, subjectId: string) {
  return server.audit.list({ projectId: server.projectId, event, subjectId, limit: 50 });
}

describe('access to the admin routes', () => {
  const routes = (id: string): [Method, string, object?][] => [
    ['GET', '/users'],
    ['GET', `/users/${id}`],
    ['POST', '/users', { email: uniqueEmail('forbidden') }],
    ['PATCH', `/users/${id}`, { role: 'admin' }],
    ['DELETE', `/users/${id}`],
    ['GET', `/users/${id}/sessions`],
    ['DELETE', `/users/${id}/sessions`],
    ['DELETE', `/users/${id}/sessions/${randomUUID()}`],
    ['POST', `/users/${id}/impersonate`],
  ];

  it('answers 401 without a credential, also before looking at the body', async () => {
    const target = await server.user();
    for (const [method, url, payload] of routes(target.id)) {
      const response = await call(server, method, url, undefined, payload);
      expect(response.statusCode, `${method} ${url}`).toBe(401);
      expect(codeOf(response)).toBe('INVALID_CREDENTIALS');
    }
    const noBody = await call(server, 'POST', '/users');
    expect(noBody.statusCode).toBe(401);
  });

  it.each(['user', 'guest'])('answers 403 FORBIDDEN to a plain %s and changes nothing', async (role) => {
    const caller = await server.user(undefined, { role });
    const target = await server.user();
    for (const [method, url, payload] of routes(target.id)) {
      const response = await api(method, url, caller.accessToken, payload);
      expect(response.statusCode, `${method} ${url}`).toBe(403);
      expect(codeOf(response)).toBe('FORBIDDEN');
    }
    const after = await api('GET', `/users/${target.id}`);
    expect(after.json().data).toMatchObject({ role: 'user', status: 'active' });
    expect((await api('GET', '/users/me', target.accessToken)).statusCode).toBe(200);
  });

  it('refuses an admin demoted a moment ago', async () => {
    const former = await server.admin();
    await server.database.db.updateTable('users').set({ role: 'user' }).where('id', '=', former.id).execute();
    expect((await api('GET', '/users', former.accessToken)).statusCode).toBe(403);
  });
});

describe('GET /users', () => {
  const tag = `walk${Date.now()}`;
  let walkers: { id: string; email: string }[] = [];
  const rows = new Map<string, { id: string; email: string; created_at: number; last_access: number }>();

  beforeAll(async () => {
    // Seven users; created_at ties in pairs, so the id has to break ties for the walk to be stable.
    for (const letter of ['d', 'a', 'g', 'c', 'f', 'b', 'e']) {
      const user = await createUser({ email: `${tag}${letter}@example.com`, password: TEST_PASSWORD });
      walkers.push(user);
      if (walkers.length % 2 === 0) server.clock.advance(1000);
    }
    // Three of them sign in, at different times; the others never did.
    for (const user of walkers.slice(0, 3)) {
      server.clock.advance(1000);
      expect((await server.login(user.email)).statusCode).toBe(200);
    }
    const stored = await server.database.db
      .selectFrom('users')
      .select(['id', 'email', 'created_at', 'last_access'])
      .where('email', 'like', `${tag}%`)
      .execute();
    for (const row of stored) rows.set(row.id, { ...row, last_access: row.last_access ?? -1 });
    walkers = walkers.map((user) => ({ id: user.id, email: user.email }));
  });

  async function walk(sort: string): Promise<string[]> {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const url = `/users?search=${tag}&limit=2&sort=${sort}${cursor ? `&cursor=${cursor}` : ''}`;
      const response = await api('GET', url);
      expect(response.statusCode, response.body).toBe(200);
      const body = response.json();
      expect(body.data.length).toBeLessThanOrEqual(2);
      seen.push(...body.data.map((user: { id: string }) => user.id));
      cursor = body.meta.next_cursor;
      if (!cursor) break;
    }
    expect(cursor).toBeNull();
    return seen;
  }

  function expected(key: 'email' | 'created_at' | 'last_access', descending: boolean): string[] {
    const sorted = [...rows.values()].sort((a, b) => {
      const primary = a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0;
      return primary !== 0 ? primary : a.id < b.id ? -1 : 1;
    });
    const ids = sorted.map((row) => row.id);
    return descending ? ids.reverse() : ids;
  }

  it.each([
    ['created_at', 'created_at', false],
    ['-created_at', 'created_at', true],
    ['email', 'email', false],
    ['-email', 'email', true],
    ['last_access', 'last_access', false],
    ['-last_access', 'last_access', true],
  ] as const)('walks every user exactly once, in order, sorted by %s', async (sort, key, descending) => {
    const seen = await walk(sort);
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
    expect(seen).toEqual(expected(key, descending));
  });

  it('sorts by created_at when no sort is given, and answers the page shape', async () => {
    const response = await api('GET', `/users?search=${tag}`);
    const body = response.json();
    expect(body.meta).toEqual({ next_cursor: null });
    expect(body.data.map((user: { id: string }) => user.id)).toEqual(expected('created_at', false));
    expect(body.data[0]).toMatchObject({ role: 'user', status: 'active', provider: 'default' });
    expect(JSON.stringify(body)).not.toMatch(/argon2|password/);
    const byQuery = await call(server, 'GET', `/users?search=${tag}&access_token=${admin.accessToken}`);
    expect(byQuery.json().data).toHaveLength(7);
  });

  it('searches e-mail, first and last name, ignoring case', async () => {
    const first = await createUser({ email: uniqueEmail(), first_name: 'Zebulon', last_name: 'Quux' });
    const last = await createUser({ email: uniqueEmail(), first_name: 'Ann', last_name: 'McZebulonson' });
    const byEmail = await createUser({ email: `zebulon-${Date.now()}@example.com` });
    const ids = (await api('GET', '/users?search=zEbUlOn&limit=200')).json().data.map((u: { id: string }) => u.id);
    expect(ids).toEqual(expect.arrayContaining([first.id, last.id, byEmail.id]));
    expect(ids).toHaveLength(3);
    const upper = (await api('GET', '/users?search=QUUX')).json().data;
    expect(upper.map((u: { id: string }) => u.id)).toEqual([first.id]);
  });

  it('matches %, _ and \\ literally', async () => {
    const stamp = Date.now();
    const percent = await createUser({ email: uniqueEmail(), first_name: `p${stamp}100%` });
    await createUser({ email: uniqueEmail(), first_name: `p${stamp}1000` });
    const underscore = await createUser({ email: uniqueEmail(), last_name: `s${stamp}a_b` });
    await createUser({ email: uniqueEmail(), last_name: `s${stamp}axb` });
    const backslash = await createUser({ email: uniqueEmail(), last_name: `b${stamp}a\\b` });
    await createUser({ email: uniqueEmail(), last_name: `b${stamp}ab` });
    const search = async (text: string) =>
      (await api('GET', `/users?search=${encodeURIComponent(text)}`)).json().data.map((u: { id: string }) => u.id);
    expect(await search(`p${stamp}100%`)).toEqual([percent.id]);
    expect(await search('0%')).toEqual([percent.id]);
    expect(await search(`s${stamp}a_b`)).toEqual([underscore.id]);
    expect(await search(`b${stamp}a\\b`)).toEqual([backslash.id]);
    expect(await search(`${stamp}%%`)).toEqual([]);
  });

  it('filters by role and status', async () => {
    const guest = await createUser({ email: uniqueEmail('guestfilter'), role: 'guest' });
    const invited = await createUser({ email: uniqueEmail('guestfilter'), role: 'guest', status: 'invited' });
    const byRole = (await api('GET', '/users?role=guest&search=guestfilter')).json().data;
    expect(byRole.map((u: { id: string }) => u.id).sort()).toEqual([guest.id, invited.id].sort());
    const byBoth = (await api('GET', '/users?role=guest&status=invited&search=guestfilter')).json().data;
    expect(byBoth.map((u: { id: string }) => u.id)).toEqual([invited.id]);
    expect((await api('GET', '/users?role=nobody')).json().data).toEqual([]);
  });

  it('refuses malformed queries with 400', async () => {
    const first = (await api('GET', `/users?search=${tag}&limit=2&sort=email`)).json().meta.next_cursor as string;
    const forge = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const query of [
      'limit=0',
      'limit=201',
      'limit=abc',
      'limit=-1',
      'sort=name',
      'sort=password_hash',
      'status=deleted',
      'unknown=1',
      'cursor=not%20a%20cursor',
      `cursor=${forge({ a: 1 })}`,
      `cursor=${forge(['email', 'x@example.com', 'not-a-uuid'])}`,
      `cursor=${forge(['created_at', 'text', randomUUID()])}`,
      `cursor=${forge(['created_at', 1.5, randomUUID()])}`,
      'cursor=AAAA',
      `sort=created_at&cursor=${first}`,
      `search=${'x'.repeat(255)}`,
    ]) {
      const response = await api('GET', `/users?${query}`);
      expect(response.statusCode, query).toBe(400);
      expect(codeOf(response)).toBe('INVALID_PAYLOAD');
    }
  });
});

describe('GET /users/:id', () => {
  it('reads a user of the project', async () => {
    const user = await server.user();
    const response = await api('GET', `/users/${user.id}`);
    expect(response.statusCode).toBe(200);
    expect(response.json().data).toMatchObject({ id: user.id, email: user.email, role: 'user' });
    expect((await api('GET', `/users/${user.id.toUpperCase()}`)).json().data.id).toBe(user.id);
  });

  it.each([
    ['an unknown id', randomUUID()],
    ['a malformed id', 'not-a-uuid'],
    ['an id with SQL in it', "1' or '1'='1"],
    ['a nearly-uuid', '00000000-0000-0000-0000-00000000000g'],
  ])('answers 404 RECORD_NOT_FOUND for %s', async (_name, id) => {
    const response = await api('GET', `/users/${encodeURIComponent(id)}`);
    expect(response.statusCode).toBe(404);
    expect(codeOf(response)).toBe('RECORD_NOT_FOUND');
  });

  it("treats another project's user as missing on every route", async () => {
    const { db } = server.database;
    const projectId = randomUUID();
    const now = server.clock.now();
    await db
      .insertInto('projects')
      .values({ id: projectId, slug: `other-${projectId}`, name: 'Other', created_at: now })
      .execute();
    const id = randomUUID();
    const email = uniqueEmail('foreign');
    await db
      .insertInto('users')
      .values({
        id,
        project_id: projectId,
        email,
        email_verified_at: null,
        password_hash: null,
        first_name: null,
        last_name: null,
        language: null,
        title: null,
        location: null,
        description: null,
        avatar: null,
        role: 'user',
        status: 'active',
        provider: 'default',
        last_access: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
    for (const [method, url, payload] of [
      ['GET', `/users/${id}`],
      ['PATCH', `/users/${id}`, { first_name: 'Mallory' }],
      ['DELETE', `/users/${id}`],
      ['GET', `/users/${id}/sessions`],
      ['DELETE', `/users/${id}/sessions`],
      ['POST', `/users/${id}/impersonate`],
    ] as [Method, string, object?][]) {
      const response = await api(method, url, admin.accessToken, payload);
      expect(response.statusCode, `${method} ${url}`).toBe(404);
      expect(codeOf(response)).toBe('RECORD_NOT_FOUND');
    }
    expect((await api('GET', `/users?search=${email}`)).json().data).toEqual([]);
    const still = await db.selectFrom('users').select(['first_name']).where('id', '=', id).executeTakeFirst();
    expect(still).toEqual({ first_name: null });
  });
});

describe('POST /users', () => {
  it('creates a user with a password, who can then sign in', async () => {
    const email = uniqueEmail('Created');
    const response = await api('POST', '/users', admin.accessToken, {
      email: email.toUpperCase(),
      password: TEST_PASSWORD,
      first_name: 'Grace',
      language: 'en-US',
    });
    expect(response.statusCode, response.body).toBe(201);
    const { data } = response.json();
    expect(data).toMatchObject({
      email: email.toLowerCase(),
      first_name: 'Grace',
      language: 'en-US',
      role: 'user',
      status: 'active',
      email_verified: true,
    });
    expect((await server.login(email.toLowerCase())).statusCode).toBe(200);
    const [event] = await events('user.created', data.id);
    expect(event).toMatchObject({
      actor_id: admin.id,
      details: JSON.stringify({ role: 'user', status: 'active', password: true }),
    });
  });

  it('creates a user without a password, who cannot sign in with one', async () => {
    const email = uniqueEmail('nopass');
    const created = await createUser({ email, role: 'guest' });
    expect(created.role).toBe('guest');
    const login = await server.login(email, TEST_PASSWORD);
    expect(login.statusCode).toBe(401);
    expect(codeOf(login)).toBe('INVALID_CREDENTIALS');
    const stored = await server.database.db
      .selectFrom('users')
      .select('password_hash')
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    expect(stored.password_hash).toBeNull();
  });

  it('creates an invited user who cannot sign in until active', async () => {
    const email = uniqueEmail('invited');
    const created = await createUser({ email, password: TEST_PASSWORD, status: 'invited' });
    expect((await server.login(email)).statusCode).toBe(401);
    await api('PATCH', `/users/${created.id}`, admin.accessToken, { status: 'active' });
    expect((await server.login(email)).statusCode).toBe(200);
  });

  it('hashes with argon2id and the configured parameters', async () => {
    const created = await createUser({ email: uniqueEmail(), password: TEST_PASSWORD });
    const { password_hash } = await server.database.db
      .selectFrom('users')
      .select('password_hash')
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    expect(password_hash).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    expect(server.logs()).not.toContain(TEST_PASSWORD);
  });

  it('answers 409 RECORD_NOT_UNIQUE for a taken e-mail, whatever its case', async () => {
    const email = uniqueEmail('dup');
    await createUser({ email });
    const response = await api('POST', '/users', admin.accessToken, { email: email.toUpperCase() });
    expect(response.statusCode).toBe(409);
    expect(codeOf(response)).toBe('RECORD_NOT_UNIQUE');
  });

  it('refuses a role that does not exist with 400', async () => {
    const response = await api('POST', '/users', admin.accessToken, { email: uniqueEmail(), role: 'wizard' });
    expect(response.statusCode).toBe(400);
    expect(codeOf(response)).toBe('INVALID_PAYLOAD');
  });

  it.each([
    ['no body', undefined],
    ['no e-mail', { password: TEST_PASSWORD }],
    ['a malformed e-mail', { email: 'not-an-email' }],
    ['a short password', { email: 'short@example.com', password: 'short' }],
    ['status suspended', { email: 'susp@example.com', status: 'suspended' }],
    ['an unknown field', { email: 'extra@example.com', password_hash: 'x' }],
    ['a number for a name', { email: 'num@example.com', first_name: 1 }],
    ['an empty role', { email: 'role@example.com', role: '' }],
  ])('refuses %s with 400', async (_name, payload) => {
    const response = await api('POST', '/users', admin.accessToken, payload);
    expect(response.statusCode).toBe(400);
    expect(codeOf(response)).toBe('INVALID_PAYLOAD');
  });
});

describe('PATCH /users/:id', () => {
  it('updates each profile field and records which', async () => {
    const user = await server.user();
    const fields = {
      first_name: 'Ada',
      last_name: 'Lovelace',
      language: 'en-GB',
      title: 'Countess',
      location: 'London',
      description: 'Analyst',
    };
    const response = await api('PATCH', `/users/${user.id}`, admin.accessToken, fields);
    expect(response.statusCode).toBe(200);
    expect(response.json().data).toMatchObject(fields);
    const cleared = await api('PATCH', `/users/${user.id}`, admin.accessToken, { title: null });
    expect(cleared.json().data).toMatchObject({ title: null, first_name: 'Ada' });
    const [latest] = await events('user.updated', user.id);
    expect(latest).toMatchObject({ actor_id: admin.id, details: JSON.stringify({ fields: ['title'] }) });
  });

  it('changes the e-mail (normalized, unverified, unique) and the user signs in with the new one', async () => {
    const user = await server.user();
    const other = await server.user();
    const email = uniqueEmail('renamed');
    const taken = await api('PATCH', `/users/${user.id}`, admin.accessToken, { email: other.email.toUpperCase() });
    expect(taken.statusCode).toBe(409);
    expect(codeOf(taken)).toBe('RECORD_NOT_UNIQUE');
    const response = await api('PATCH', `/users/${user.id}`, admin.accessToken, { email: email.toUpperCase() });
    expect(response.statusCode).toBe(200);
    expect(response.json().data).toMatchObject({ email, email_verified: false });
    expect((await server.login(email)).statusCode).toBe(200);
    expect((await server.login(user.email)).statusCode).toBe(401);
    const [event] = await events('user.email_changed', user.id);
    expect(event?.actor_id).toBe(admin.id);
    expect(event?.details).not.toContain('@');
    // Setting the same address again changes nothing and records nothing.
    await api('PATCH', `/users/${user.id}`, admin.accessToken, { email });
    expect(await events('user.email_changed', user.id)).toHaveLength(1);
  });

  it('changes the role; the next token issued carries it', async () => {
    const user = await server.user();
    const response = await api('PATCH', `/users/${user.id}`, admin.accessToken, { role: 'guest' });
    expect(response.statusCode).toBe(200);
    expect(response.json().data.role).toBe('guest');
    const refreshed = await server.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refresh_token: user.refreshToken },
    });
    expect(refreshed.statusCode).toBe(200);
    expect(claimsOf(refreshed.json().data.access_token)).toMatchObject({ role: 'guest', permissions: [] });
    const promoted = await api('PATCH', `/users/${user.id}`, admin.accessToken, { role: 'admin' });
    expect(promoted.statusCode).toBe(200);
    const login = await server.login(user.email);
    expect(claimsOf(login.json().data.access_token)).toMatchObject({ role: 'admin', permissions: ['*'] });
    const changes = await events('user.role_changed', user.id);
    expect(changes.map((event) => JSON.parse(event.details))).toEqual([
      { from: 'guest', to: 'admin' },
      { from: 'user', to: 'guest' },
    ]);
  });

  it('refuses an unknown role with 400 and changes nothing', async () => {
    const user = await server.user();
    const response = await api('PATCH', `/users/${user.id}`, admin.accessToken, { role: 'wizard', first_name: 'X' });
    expect(response.statusCode).toBe(400);
    expect((await api('GET', `/users/${user.id}`)).json().data).toMatchObject({ role: 'user', first_name: null });
  });

  it('suspends a user: their tokens stop at once, refresh fails, sign-in fails; reactivation restores sign-in', async () => {
    const user = await server.user();
    const second = (await server.login(user.email)).json().data;
    const response = await api('PATCH', `/users/${user.id}`, admin.accessToken, { status: 'suspended' });
    expect(response.statusCode).toBe(200);
    expect(response.json().data.status).toBe('suspended');
    for (const token of [user.accessToken, second.access_token]) {
      expect((await api('GET', '/users/me', token)).statusCode).toBe(401);
    }
    const refresh = await server.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refresh_token: user.refreshToken },
    });
    expect(refresh.statusCode).toBe(401);
    expect((await server.login(user.email)).statusCode).toBe(401);
    expect((await api('GET', `/users/${user.id}/sessions`)).json().data).toEqual([]);

    const back = await api('PATCH', `/users/${user.id}`, admin.accessToken, { status: 'active' });
    expect(back.statusCode).toBe(200);
    const login = await server.login(user.email);
    expect(login.statusCode).toBe(200);
    expect((await api('GET', '/users/me', login.json().data.access_token)).statusCode).toBe(200);
    const changes = await events('user.status_changed', user.id);
    expect(changes.map((event) => [event.actor_id, JSON.parse(event.details)])).toEqual([
      [admin.id, { from: 'suspended', to: 'active' }],
      [admin.id, { from: 'active', to: 'suspended' }],
    ]);
  });

  it.each([
    ['an empty body', {}],
    ['status invited', { status: 'invited' }],
    ['an unknown field', { password_hash: 'x' }],
    ['a malformed e-mail', { email: 'nope' }],
    ['a malformed language', { language: 'not a language' }],
  ])('refuses %s with 400', async (_name, payload) => {
    const user = await server.user();
    const response = await api('PATCH', `/users/${user.id}`, admin.accessToken, payload);
    expect(response.statusCode).toBe(400);
    expect(codeOf(response)).toBe('INVALID_PAYLOAD');
  });

  it('answers 404 for an unknown or malformed id', async () => {
    for (const id of [randomUUID(), 'me-not', '12345']) {
      const response = await api('PATCH', `/users/${id}`, admin.accessToken, { first_name: 'X' });
      expect(response.statusCode, id).toBe(404);
      expect(codeOf(response)).toBe('RECORD_NOT_FOUND');
    }
  });
});

describe('no escalation through the admin API', () => {
  let support: TestUser;
  beforeAll(async () => {
    await addRole(server, 'support', ['users:read', 'users:write', 'users:impersonate']);
    await addRole(server, 'editor', ['posts:write']);
    await addRole(server, 'owner', ['*']);
    support = await server.user(undefined, { role: 'support' });
  });

  it('lets support manage plain users and hand out application roles', async () => {
    const user = await server.user();
    const response = await api('PATCH', `/users/${user.id}`, support.accessToken, { role: 'editor', title: 'Ed' });
    expect(response.statusCode).toBe(200);
    expect(response.json().data).toMatchObject({ role: 'editor', title: 'Ed' });
    const created = await api('POST', '/users', support.accessToken, { email: uniqueEmail(), role: 'editor' });
    expect(created.statusCode).toBe(201);
  });

  it('refuses to assign a role with * or other administrative permissions the caller lacks', async () => {
    const user = await server.user();
    for (const role of ['admin', 'owner']) {
      const patch = await api('PATCH', `/users/${user.id}`, support.accessToken, { role });
      expect(patch.statusCode, role).toBe(403);
      expect(codeOf(patch)).toBe('FORBIDDEN');
      const create = await api('POST', '/users', support.accessToken, { email: uniqueEmail(), role });
      expect(create.statusCode, role).toBe(403);
    }
    await addRole(server, 'auditor', ['audit:read']);
    expect((await api('PATCH', `/users/${user.id}`, support.accessToken, { role: 'auditor' })).statusCode).toBe(403);
    expect((await api('GET', `/users/${user.id}`)).json().data.role).toBe('user');
  });

  it('refuses to change, end the sessions of, or impersonate an admin', async () => {
    const target = await server.admin();
    for (const [method, url, payload] of [
      ['PATCH', `/users/${target.id}`, { email: uniqueEmail('takeover') }],
      ['PATCH', `/users/${target.id}`, { status: 'suspended' }],
      ['DELETE', `/users/${target.id}/sessions`],
      ['POST', `/users/${target.id}/impersonate`],
    ] as [Method, string, object?][]) {
      const response = await api(method, url, support.accessToken, payload);
      expect(response.statusCode, `${method} ${url}`).toBe(403);
      expect(codeOf(response)).toBe('FORBIDDEN');
    }
    expect((await api('GET', '/users/me', target.accessToken)).statusCode).toBe(200);
    expect((await api('GET', `/users/${target.id}`)).json().data).toMatchObject({
      email: target.email,
      status: 'active',
    });
  });

  it('lets a caller holding * assign the admin role', async () => {
    const user = await server.user();
    expect((await api('PATCH', `/users/${user.id}`, admin.accessToken, { role: 'owner' })).statusCode).toBe(200);
  });
});

describe('DELETE /users/:id', () => {
  it('deletes the user and their sessions; their token stops working', async () => {
    const user = await server.user();
    const response = await api('DELETE', `/users/${user.id}`);
    expect(response.statusCode).toBe(204);
    expect(response.body).toBe('');
    expect((await api('GET', `/users/${user.id}`)).statusCode).toBe(404);
    expect((await api('GET', '/users/me', user.accessToken)).statusCode).toBe(401);
    const refresh = await server.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refresh_token: user.refreshToken },
    });
    expect(refresh.statusCode).toBe(401);
    const sessions = await server.database.db
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', user.id)
      .execute();
    expect(sessions).toEqual([]);
    const [event] = await events('user.deleted', user.id);
    expect(event).toMatchObject({ actor_id: admin.id });
    expect(JSON.parse(event?.details ?? '{}')).toEqual({ email: user.email, role: 'user' });
    expect((await api('DELETE', `/users/${user.id}`)).statusCode).toBe(404);
  });

  it('needs users:delete, which support does not hold', async () => {
    const support = await server.user(undefined, { role: 'support' });
    const user = await server.user();
    const response = await api('DELETE', `/users/${user.id}`, support.accessToken);
    expect(response.statusCode).toBe(403);
    expect((await api('GET', `/users/${user.id}`)).statusCode).toBe(200);
  });
});

describe("a user's sessions", () => {
  it('lists, ends one, and ends all', async () => {
    const user = await server.user();
    const second = (await server.login(user.email)).json().data;
    const third = (await server.login(user.email)).json().data;
    const list = await api('GET', `/users/${user.id}/sessions`);
    expect(list.statusCode).toBe(200);
    const sessions = list.json().data;
    expect(sessions).toHaveLength(3);
    expect(sessions[0]).toMatchObject({ mode: 'json', current: false, impersonated_by: null, ip: '127.0.0.1' });

    const target = claimsOf(second.access_token).sid as string;
    const ended = await api('DELETE', `/users/${user.id}/sessions/${target}`);
    expect(ended.statusCode).toBe(204);
    expect((await api('GET', '/users/me', second.access_token)).statusCode).toBe(401);
    expect((await api('GET', '/users/me', user.accessToken)).statusCode).toBe(200);
    const [event] = await events('session.revoked', user.id);
    expect(event).toMatchObject({ actor_id: admin.id, details: JSON.stringify({ session_id: target }) });
    expect((await api('GET', `/users/${user.id}/sessions`)).json().data).toHaveLength(2);

    const all = await api('DELETE', `/users/${user.id}/sessions`);
    expect(all.statusCode).toBe(204);
    for (const token of [user.accessToken, third.access_token]) {
      expect((await api('GET', '/users/me', token)).statusCode).toBe(401);
    }
    expect((await api('GET', `/users/${user.id}/sessions`)).json().data).toEqual([]);
    const [latest] = await events('session.revoked', user.id);
    expect(JSON.parse(latest?.details ?? '{}')).toEqual({ sessions: 2, all: true });
  });

  it("answers 404 for another user's session, an unknown one, or a malformed id", async () => {
    const user = await server.user();
    const other = await server.user();
    const otherSession = claimsOf(other.accessToken).sid as string;
    for (const sessionId of [otherSession, randomUUID(), 'not-a-session']) {
      const response = await api('DELETE', `/users/${user.id}/sessions/${sessionId}`);
      expect(response.statusCode, sessionId).toBe(404);
      expect(codeOf(response)).toBe('RECORD_NOT_FOUND');
    }
    expect((await api('GET', '/users/me', other.accessToken)).statusCode).toBe(200);
  });

  it("marks the admin's own current session", async () => {
    const me = await server.admin();
    const list = (await api('GET', `/users/${me.id}/sessions`, me.accessToken)).json().data;
    expect(list).toEqual([expect.objectContaining({ id: claimsOf(me.accessToken).sid, current: true })]);
  });
});

describe('POST /users/:id/impersonate', () => {
  it('hands out a short token that acts as the user, marked with act, in a session of its own', async () => {
    const user = await server.user();
    const response = await api('POST', `/users/${user.id}/impersonate`, admin.accessToken);
    expect(response.statusCode, response.body).toBe(200);
    const { access_token, expires } = response.json().data;
    expect(expires).toBeLessThanOrEqual(5 * 60_000);
    expect(Object.keys(response.json().data).sort()).toEqual(['access_token', 'expires']);
    const claims = claimsOf(access_token);
    expect(claims).toMatchObject({
      sub: user.id,
      act: { sub: admin.id },
      amr: ['impersonation'],
      role: 'user',
      token_use: 'access',
    });
    expect((claims.exp as number) - (claims.iat as number)).toBeLessThanOrEqual(300);
    expect(claims.sid).not.toBe(claimsOf(user.accessToken).sid);

    const me = await api('GET', '/users/me', access_token);
    expect(me.statusCode).toBe(200);
    expect(me.json().data.email).toBe(user.email);

    // Acting as the user is recorded with the admin as actor.
    await api('PATCH', '/users/me', access_token, { first_name: 'Acted' });
    const [edit] = await events('user.profile_updated', user.id);
    expect(edit?.actor_id).toBe(admin.id);

    const sessions = (await api('GET', `/users/${user.id}/sessions`)).json().data;
    const impersonated = sessions.find((s: { id: string }) => s.id === claims.sid);
    expect(impersonated).toMatchObject({ impersonated_by: admin.id, mode: 'json' });
    expect(Date.parse(impersonated.expires_at) - server.clock.now()).toBeLessThanOrEqual(5 * 60_000);

    const [event] = await events('user.impersonated', user.id);
    expect(event).toMatchObject({ actor_id: admin.id, subject_id: user.id });
    expect(JSON.parse(event?.details ?? '{}')).toMatchObject({ session_id: claims.sid });
    expect(server.logs()).not.toContain(access_token);
  });

  it('can be revoked by an admin, and ends by itself after five minutes', async () => {
    const user = await server.user();
    const first = (await api('POST', `/users/${user.id}/impersonate`)).json().data.access_token;
    const sid = claimsOf(first).sid as string;
    expect((await api('DELETE', `/users/${user.id}/sessions/${sid}`)).statusCode).toBe(204);
    expect((await api('GET', '/users/me', first)).statusCode).toBe(401);

    const second = (await api('POST', `/users/${user.id}/impersonate`)).json().data.access_token;
    server.clock.advance(5 * 60_000 + 1000);
    const late = await api('GET', '/users/me', second);
    expect(late.statusCode).toBe(401);
    expect(codeOf(late)).toBe('TOKEN_EXPIRED');
    const sessions = (await api('GET', `/users/${user.id}/sessions`, (await server.admin()).accessToken)).json().data;
    expect(sessions.map((s: { id: string }) => s.id)).not.toContain(claimsOf(second).sid);
    // The user's own session is untouched.
    expect(sessions).toHaveLength(1);
  });

  it('refuses to impersonate oneself (400), a suspended user (409), or an unknown one (404)', async () => {
    const me = await server.admin();
    const self = await api('POST', `/users/${me.id}/impersonate`, me.accessToken);
    expect(self.statusCode).toBe(400);
    expect(codeOf(self)).toBe('INVALID_PAYLOAD');

    const suspended = await server.user();
    await api('PATCH', `/users/${suspended.id}`, me.accessToken, { status: 'suspended' });
    const refused = await api('POST', `/users/${suspended.id}/impersonate`, me.accessToken);
    expect(refused.statusCode).toBe(409);
    expect(codeOf(refused)).toBe('USER_NOT_ACTIVE');

    const invited = await createUser({ email: uniqueEmail(), status: 'invited' });
    expect(codeOf(await api('POST', `/users/${invited.id}/impersonate`, me.accessToken))).toBe('USER_NOT_ACTIVE');
    expect(codeOf(await api('POST', `/users/${randomUUID()}/impersonate`, me.accessToken))).toBe('RECORD_NOT_FOUND');
    expect(await events('user.impersonated', suspended.id)).toEqual([]);
  });

  it('lets an admin impersonate another admin, and refuses to impersonate while impersonating', async () => {
    const other = await server.admin();
    const asAdmin = await api('POST', `/users/${other.id}/impersonate`);
    expect(asAdmin.statusCode).toBe(200);

    const support = await server.user(undefined, { role: 'support' });
    const victim = await server.user();
    const asSupport = (await api('POST', `/users/${support.id}/impersonate`)).json().data.access_token;
    const chained = await api('POST', `/users/${victim.id}/impersonate`, asSupport);
    expect(chained.statusCode).toBe(403);
    expect(codeOf(chained)).toBe('FORBIDDEN');
    const chainedAdmin = await api('POST', `/users/${victim.id}/impersonate`, asAdmin.json().data.access_token);
    expect(chainedAdmin.statusCode).toBe(403);
    expect(await events('user.impersonated', victim.id)).toEqual([]);
  });

  it('needs users:impersonate: users:write alone is not enough', async () => {
    await addRole(server, 'writer', ['users:read', 'users:write']);
    const writer = await server.user(undefined, { role: 'writer' });
    const user = await server.user();
    const response = await api('POST', `/users/${user.id}/impersonate`, writer.accessToken);
    expect(response.statusCode).toBe(403);
  });
});

describe('the last admin', () => {
  let gatehouse: TestServer;
  beforeAll(async () => {
    gatehouse = await createTestServer();
  });
  afterAll(async () => {
    await gatehouse.close();
  });

  /** Leaves exactly `count` active admins in the project (fresh ones), and answers them. */
  async function onlyAdmins(count: number): Promise<TestUser[]> {
    await gatehouse.database.db
      .updateTable('users')
      .set({ role: 'user' })
      .where('project_id', '=', gatehouse.projectId)
      .execute();
    const admins: TestUser[] = [];
    for (let i = 0; i < count; i++) admins.push(await gatehouse.admin());
    return admins;
  }

  async function activeAdmins(): Promise<number> {
    const rows = await gatehouse.database.db
      .selectFrom('users')
      .select('id')
      .where('project_id', '=', gatehouse.projectId)
      .where('role', 'in', ['admin', 'owner'])
      .where('status', '=', 'active')
      .execute();
    return rows.length;
  }

  it.each([
    ['demote', 'PATCH', { role: 'user' }],
    ['suspend', 'PATCH', { status: 'suspended' }],
    ['delete', 'DELETE', undefined],
  ] as const)('refuses to %s the last admin with 409 LAST_ADMIN', async (_name, method, payload) => {
    const [only] = await onlyAdmins(1);
    const response = await call(gatehouse, method, `/users/${only!.id}`, only!.accessToken, payload);
    expect(response.statusCode).toBe(409);
    expect(codeOf(response)).toBe('LAST_ADMIN');
    expect(await activeAdmins()).toBe(1);
    expect((await call(gatehouse, 'GET', '/users/me', only!.accessToken)).statusCode).toBe(200);
  });

  it('allows it when another active admin remains, and counts any role with * but not suspended admins', async () => {
    const [a, b] = await onlyAdmins(2);
    // With b suspended, a is the last active admin.
    expect(
      (await call(gatehouse, 'PATCH', `/users/${b!.id}`, a!.accessToken, { status: 'suspended' })).statusCode,
    ).toBe(200);
    const refused = await call(gatehouse, 'PATCH', `/users/${a!.id}`, a!.accessToken, { role: 'user' });
    expect(codeOf(refused)).toBe('LAST_ADMIN');
    // An active user of a custom role with * counts as an admin.
    await addRole(gatehouse, 'owner', ['*']);
    const owner = await gatehouse.user(undefined, { role: 'owner' });
    const demoted = await call(gatehouse, 'PATCH', `/users/${a!.id}`, a!.accessToken, { role: 'user' });
    expect(demoted.statusCode).toBe(200);
    const last = await call(gatehouse, 'DELETE', `/users/${owner.id}`, owner.accessToken);
    expect(codeOf(last)).toBe('LAST_ADMIN');
    // Profile edits of the last admin are fine.
    expect(
      (await call(gatehouse, 'PATCH', `/users/${owner.id}`, owner.accessToken, { title: 'Owner' })).statusCode,
    ).toBe(200);
  });

  it.each([
    ['demote', 'PATCH', { role: 'user' }],
    ['suspend', 'PATCH', { status: 'suspended' }],
    ['delete', 'DELETE', undefined],
  ] as const)('keeps an admin when two admins %s each other at once', async (_name, method, payload) => {
    for (let round = 0; round < 3; round++) {
      const [a, b] = await onlyAdmins(2);
      const responses = await Promise.all([
        call(gatehouse, method, `/users/${b!.id}`, a!.accessToken, payload),
        call(gatehouse, method, `/users/${a!.id}`, b!.accessToken, payload),
      ]);
      const statuses = responses.map((response) => response.statusCode).sort();
      expect(statuses.filter((status) => status < 300)).toHaveLength(1);
      expect([401, 403, 409]).toContain(statuses[1]);
      expect(await activeAdmins()).toBe(1);
    }
  });

  it('keeps an admin when every admin demotes themselves at once', async () => {
    const admins = await onlyAdmins(3);
    const responses = await Promise.all(
      admins.map((a) => call(gatehouse, 'PATCH', `/users/${a.id}`, a.accessToken, { role: 'user' })),
    );
    expect(responses.filter((response) => response.statusCode === 200)).toHaveLength(2);
    expect(responses.filter((response) => codeOf(response) === 'LAST_ADMIN')).toHaveLength(1);
    expect(await activeAdmins()).toBe(1);
  });
});
