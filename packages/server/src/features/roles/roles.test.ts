import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer, type TestUser } from '../../testing/test-server.js';
import { hasPermission } from './permissions.js';

let server: TestServer;
let admin: TestUser;
beforeEach(async () => {
  server = await createTestServer();
  admin = await server.admin();
});
afterEach(async () => {
  await server.close();
});

function as(user: TestUser, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) {
  return server.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${user.accessToken}` },
    ...(payload ? { payload } : {}),
  });
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString());
}

describe('permissions', () => {
  it('matches exactly, by resource wildcard and by the global wildcard', () => {
    expect(hasPermission(['users:read'], 'users:read')).toBe(true);
    expect(hasPermission(['users:read'], 'users:write')).toBe(false);
    expect(hasPermission(['users:*'], 'users:write')).toBe(true);
    expect(hasPermission(['users:*'], 'roles:read')).toBe(false);
    expect(hasPermission(['*'], 'anything:at-all')).toBe(true);
    expect(hasPermission([], 'users:read')).toBe(false);
    expect(hasPermission(['user:*'], 'users:read')).toBe(false);
    expect(hasPermission(['users:read'], 'users:*')).toBe(false);
  });
});

describe('roles', () => {
  it('lists the built-in roles', async () => {
    const response = await as(admin, 'GET', '/roles');
    expect(response.statusCode).toBe(200);
    const roles = response.json().data as { name: string; permissions: string[]; built_in: boolean }[];
    expect(roles.map((role) => role.name)).toEqual(['admin', 'guest', 'public', 'user']);
    expect(roles.every((role) => role.built_in)).toBe(true);
    expect(roles.find((role) => role.name === 'admin')?.permissions).toEqual(['*']);
  });

  it('creates a custom role whose permissions go into the tokens of its holders and open admin routes', async () => {
    const created = await as(admin, 'POST', '/roles', {
      name: 'support',
      description: 'Reads accounts',
      permissions: ['audit:read', 'posts:write'],
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().data).toMatchObject({ name: 'support', permissions: ['audit:read', 'posts:write'] });

    const agent = await server.user(undefined, { role: 'support' });
    expect(claimsOf(agent.accessToken)).toMatchObject({ role: 'support', permissions: ['audit:read', 'posts:write'] });
    expect((await as(agent, 'GET', '/audit')).statusCode).toBe(200);
    expect((await as(agent, 'GET', '/roles')).statusCode).toBe(403);

    // Taking a permission away closes the admin route at once, though the token still lists it.
    const id = created.json().data.id as string;
    const updated = await as(admin, 'PATCH', `/roles/${id}`, { permissions: ['posts:write'] });
    expect(updated.statusCode).toBe(200);
    const refused = await as(agent, 'GET', '/audit');
    expect(refused.statusCode).toBe(403);
    expect(refused.json().errors[0].extensions.code).toBe('FORBIDDEN');
    // The next token carries the new set.
    const refreshed = await server.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refresh_token: agent.refreshToken },
    });
    expect(claimsOf(refreshed.json().data.access_token).permissions).toEqual(['posts:write']);
  });

  it('refuses duplicate names, bad names and bad permission strings', async () => {
    const duplicate = await as(admin, 'POST', '/roles', { name: 'user', permissions: [] });
    expect(duplicate.statusCode).toBe(409);
    expect(duplicate.json().errors[0].extensions.code).toBe('RECORD_NOT_UNIQUE');
    for (const body of [
      { name: 'Has Spaces', permissions: [] },
      { name: 'ok', permissions: ['NotAPermission'] },
      { name: 'ok', permissions: ['users:read', 'users:read'] },
      { name: 'ok' },
      { name: 'ok', permissions: [], role: 'admin' },
    ]) {
      const response = await as(admin, 'POST', '/roles', body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.json().errors[0].extensions.code).toBe('INVALID_PAYLOAD');
    }
    expect((await as(admin, 'GET', '/roles/00000000-0000-4000-8000-000000000000')).statusCode).toBe(404);
    expect((await as(admin, 'GET', '/roles/not-a-uuid')).statusCode).toBe(400);
  });

  it('lets nobody grant what they do not hold', async () => {
    await as(admin, 'POST', '/roles', { name: 'role-admin', permissions: ['roles:read', 'roles:write', 'audit:read'] });
    const manager = await server.user(undefined, { role: 'role-admin' });
    const allowed = await as(manager, 'POST', '/roles', { name: 'auditor', permissions: ['audit:read'] });
    expect(allowed.statusCode).toBe(201);
    for (const permissions of [['*'], ['users:write'], ['audit:*']]) {
      const response = await as(manager, 'POST', '/roles', { name: 'escalate', permissions });
      expect(response.statusCode, permissions.join()).toBe(403);
    }
    const roles = (await as(admin, 'GET', '/roles')).json().data as { id: string; name: string }[];
    const userRole = roles.find((role) => role.name === 'user')?.id;
    expect((await as(manager, 'PATCH', `/roles/${userRole}`, { permissions: ['users:write'] })).statusCode).toBe(403);
  });

  it('protects the built-in roles and roles still held by accounts', async () => {
    const roles = (await as(admin, 'GET', '/roles')).json().data as { id: string; name: string }[];
    const id = (name: string) => roles.find((role) => role.name === name)?.id;
    const adminEdit = await as(admin, 'PATCH', `/roles/${id('admin')}`, { permissions: ['users:read'] });
    expect(adminEdit.statusCode).toBe(400);
    expect((await as(admin, 'DELETE', `/roles/${id('guest')}`)).statusCode).toBe(400);

    const editor = await as(admin, 'POST', '/roles', { name: 'editor', permissions: ['posts:write'] });
    const editorId = editor.json().data.id as string;
    const holder = await server.user(undefined, { role: 'editor' });
    const inUse = await as(admin, 'DELETE', `/roles/${editorId}`);
    expect(inUse.statusCode).toBe(409);
    expect(inUse.json().errors[0].extensions.code).toBe('RECORD_IN_USE');
    await server.database.db.updateTable('users').set({ role: 'user' }).where('id', '=', holder.id).execute();
    expect((await as(admin, 'DELETE', `/roles/${editorId}`)).statusCode).toBe(204);
    expect((await as(admin, 'GET', `/roles/${editorId}`)).statusCode).toBe(404);

    // The user role can be given permissions; every new account's token then carries them.
    const changed = await as(admin, 'PATCH', `/roles/${id('user')}`, { permissions: ['posts:read'] });
    expect(changed.statusCode).toBe(200);
    expect(claimsOf((await server.user()).accessToken).permissions).toEqual(['posts:read']);
  });

  it('keeps a role with * while it holds the last active administrators', async () => {
    const owners = await as(admin, 'POST', '/roles', { name: 'owner', permissions: ['*'] });
    const ownersId = owners.json().data.id as string;
    const owner = await server.user(undefined, { role: 'owner' });
    // Another admin remains (the built-in admin), so this is allowed...
    expect((await as(owner, 'PATCH', `/roles/${ownersId}`, { permissions: ['*', 'posts:write'] })).statusCode).toBe(
      200,
    );
    await server.database.db.updateTable('users').set({ status: 'suspended' }).where('id', '=', admin.id).execute();
    const last = await as(owner, 'PATCH', `/roles/${ownersId}`, { permissions: ['posts:write'] });
    expect(last.statusCode).toBe(409);
    expect(last.json().errors[0].extensions.code).toBe('LAST_ADMIN');
  });

  it('records role changes in the audit trail', async () => {
    const created = await as(admin, 'POST', '/roles', { name: 'support', permissions: ['audit:read'] });
    await as(admin, 'PATCH', `/roles/${created.json().data.id}`, { permissions: [] });
    await as(admin, 'DELETE', `/roles/${created.json().data.id}`);
    const events = (await as(admin, 'GET', '/audit?limit=3')).json().data as {
      event: string;
      actor_id: string;
      details: Record<string, unknown>;
    }[];
    expect(events.map((event) => event.event)).toEqual(['role.deleted', 'role.updated', 'role.created']);
    expect(events.every((event) => event.actor_id === admin.id)).toBe(true);
    expect(events[1]?.details).toEqual({ role: 'support', before: ['audit:read'], after: [] });
  });
});
