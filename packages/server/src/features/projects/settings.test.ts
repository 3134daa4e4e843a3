import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestServer, type TestServer, type TestUser } from '../../testing/test-server.js';

let server: TestServer;
let admin: TestUser;
beforeEach(async () => {
  server = await createTestServer(
    { GATEHOUSE_ACCESS_TOKEN_TTL: '15m', GATEHOUSE_REFRESH_TOKEN_TTL: '7d' },
    { projectSettings: null },
  );
  admin = await server.admin();
});
afterEach(async () => {
  await server.close();
});

function settings(method: 'GET' | 'PATCH', payload?: object, project = 'default', token = admin.accessToken) {
  return server.app.inject({
    method,
    url: `/projects/${project}/settings`,
    headers: { authorization: `Bearer ${token}` },
    ...(payload ? { payload } : {}),
  });
}

describe('project settings', () => {
  it('answers the defaults, by slug and by id', async () => {
    const bySlug = await settings('GET');
    expect(bySlug.statusCode).toBe(200);
    expect(bySlug.json().data).toEqual({
      signup: 'open',
      mfa: 'optional',
      access_token_ttl: null,
      refresh_token_ttl: null,
      session_cookie_ttl: null,
      password: { min_length: 8, forbid_email: false },
      email_verification: 'optional',
      new_sign_in_notice: true,
    });
    expect((await settings('GET', undefined, server.projectId)).json()).toEqual(bySlug.json());
    const other = await settings('GET', undefined, '00000000-0000-4000-8000-000000000000');
    expect(other.statusCode).toBe(404);
    expect(other.json().errors[0].extensions.code).toBe('RECORD_NOT_FOUND');
  });

  it('closes sign-up, or limits it to invitations', async () => {
    expect((await settings('PATCH', { signup: 'closed' })).statusCode).toBe(200);
    const closed = await server.app.inject({
      method: 'POST',
      url: '/auth/signup',
      payload: { email: 'late@example.com', password: 'long enough password' },
    });
    expect(closed.statusCode).toBe(403);
    expect(closed.json().errors[0].extensions.code).toBe('FORBIDDEN');
    await settings('PATCH', { signup: 'invite_only' });
    const inviteOnly = await server.app.inject({
      method: 'POST',
      url: '/auth/signup',
      payload: { email: 'late@example.com', password: 'long enough password' },
    });
    expect(inviteOnly.statusCode).toBe(403);
    expect(inviteOnly.json().errors[0].message).toContain('invitation');
    await settings('PATCH', { signup: 'open' });
    await server.signup('late@example.com', 'long enough password');
  });

  it('applies shorter token lifetimes to the tokens issued next', async () => {
    const updated = await settings('PATCH', { access_token_ttl: 300, refresh_token_ttl: 3600 });
    expect(updated.statusCode).toBe(200);
    expect(updated.json().data).toMatchObject({ access_token_ttl: 300, refresh_token_ttl: 3600, mfa: 'optional' });
    const login = await server.login(admin.email);
    const { access_token, refresh_token, expires } = login.json().data;
    expect(expires).toBe(300_000);
    const claims = JSON.parse(Buffer.from(access_token.split('.')[1], 'base64url').toString());
    expect(claims.exp - claims.iat).toBe(300);
    server.clock.advance(3601 * 1000);
    const late = await server.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token } });
    expect(late.statusCode).toBe(401);
    expect(late.json().errors[0].extensions.code).toBe('TOKEN_EXPIRED');
  });

  it('refuses lifetimes above the server configuration and other bad values, keeping what was stored', async () => {
    await settings('PATCH', { mfa: 'required_for_admins' });
    for (const body of [
      { access_token_ttl: 3600 },
      { access_token_ttl: 10 },
      { signup: 'sometimes' },
      { password: { min_length: 4 } },
      { password: {} },
      {},
      { colour: 'blue' },
    ]) {
      const response = await settings('PATCH', body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.json().errors[0].extensions.code).toBe('INVALID_PAYLOAD');
    }
    expect((await settings('GET')).json().data).toMatchObject({ mfa: 'required_for_admins', access_token_ttl: null });
  });

  it('enforces the password policy at sign-up', async () => {
    await settings('PATCH', { password: { min_length: 16, forbid_email: true } });
    const short = await server.app.inject({
      method: 'POST',
      url: '/auth/signup',
      payload: { email: 'carol@example.com', password: 'only twelve!' },
    });
    expect(short.statusCode).toBe(400);
    expect(short.json().errors[0].message).toContain('16');
    const withEmail = await server.app.inject({
      method: 'POST',
      url: '/auth/signup',
      payload: { email: 'carol@example.com', password: 'my name is Carol, see' },
    });
    expect(withEmail.statusCode).toBe(400);
    await server.signup('carol@example.com', 'sixteen characters, at least');
  });

  it('enforces the password policy when an admin sets a password and when an invitation is accepted', async () => {
    await settings('PATCH', { password: { min_length: 16 } });
    const bearer = { authorization: `Bearer ${admin.accessToken}` };
    const created = await server.app.inject({
      method: 'POST',
      url: '/users',
      headers: bearer,
      payload: { email: 'dave@example.com', password: 'short password' },
    });
    expect(created.statusCode).toBe(400);
    expect(created.json().errors[0].message).toContain('16');

    const invited = await server.app.inject({
      method: 'POST',
      url: '/users/invite',
      headers: bearer,
      payload: { email: 'erin@example.com', role: 'user' },
    });
    expect(invited.statusCode).toBe(204);
    const outbox = await server.app.inject({ method: 'GET', url: '/outbox?kind=invitation', headers: bearer });
    const text = JSON.stringify(outbox.json().data);
    const token = /token=([A-Za-z0-9_-]+)/.exec(text)?.[1] ?? '';
    expect(token).not.toBe('');
    const accept = (password: string) =>
      server.app.inject({ method: 'POST', url: '/users/invite/accept', payload: { token, password } });
    const weak = await accept('short password');
    expect(weak.statusCode).toBe(400);
    // The refused attempt did not use up the invitation.
    expect((await accept('a long enough password')).statusCode).toBe(204);
  });

  it('needs projects:read and projects:write, and records changes', async () => {
    const user = await server.user();
    expect((await settings('GET', undefined, 'default', user.accessToken)).statusCode).toBe(403);
    expect((await settings('PATCH', { signup: 'closed' }, 'default', user.accessToken)).statusCode).toBe(403);
    await settings('PATCH', { signup: 'closed' });
    const audit = await server.app.inject({
      method: 'GET',
      url: '/audit?event=project.settings_updated',
      headers: { authorization: `Bearer ${admin.accessToken}` },
    });
    expect(audit.json().data[0]).toMatchObject({ actor_id: admin.id, details: { changed: { signup: 'closed' } } });
  });
});
