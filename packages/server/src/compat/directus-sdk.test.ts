import {
  acceptUserInvite,
  authentication,
  createDirectus,
  inviteUser,
  passwordRequest,
  passwordReset,
  readMe,
  rest,
  staticToken,
  updateMe,
} from '@directus/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBrowserFetch } from '../testing/cookie-jar.js';
import { createTestServer, PUBLIC_URL, TEST_PASSWORD, type TestServer } from '../testing/test-server.js';

/**
 * The official @directus/sdk, unchanged, against a listening Gatehouse: the proof that the core auth API follows
 * the Directus contract in all three modes.
 */
let server: TestServer;
let url: string;
beforeAll(async () => {
  server = await createTestServer();
  url = await server.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await server.close();
});

describe.each(['json', 'cookie', 'session'] as const)('@directus/sdk in %s mode', (mode) => {
  it('logs in, reads and updates the user, refreshes and logs out', async () => {
    const email = `sdk-${mode}@example.com`;
    await server.signup(email);
    const browser = createBrowserFetch(PUBLIC_URL);
    const client = createDirectus(url, { globals: { fetch: browser.fetch } })
      .with(authentication(mode, { autoRefresh: false, credentials: 'include' }))
      .with(rest({ credentials: 'include' }));

    const login = await client.login(email, TEST_PASSWORD);
    expect(login.expires).toBeGreaterThan(0);
    if (mode === 'json') expect(login.refresh_token).toEqual(expect.any(String));
    else expect(login.refresh_token ?? null).toBeNull();
    if (mode === 'session') {
      expect(login.access_token ?? null).toBeNull();
      expect(browser.cookies.has('gatehouse_session_token')).toBe(true);
    } else {
      expect(login.access_token).toEqual(expect.any(String));
    }
    if (mode === 'cookie') expect(browser.cookies.get('gatehouse_refresh_token')?.path).toBe('/auth');

    const me = await client.request(readMe());
    expect(me).toMatchObject({ email, role: 'user', status: 'active' });
    const updated = await client.request(updateMe({ first_name: 'Grace' }));
    expect(updated).toMatchObject({ first_name: 'Grace' });

    const before = await client.getToken();
    const refreshed = await client.refresh();
    expect(refreshed.expires).toBeGreaterThan(0);
    if (mode !== 'session') expect(await client.getToken()).not.toBe(before);
    expect(await client.request(readMe())).toMatchObject({ email, first_name: 'Grace' });

    // Keep what a thief would have copied, then log out: it must stop working.
    const stolenAccess = await client.getToken();
    const stolenCookies = new Map(browser.cookies);
    await client.logout();
    expect(await client.getToken()).toBeNull();
    const replay = createBrowserFetch(PUBLIC_URL);
    for (const [name, cookie] of stolenCookies) replay.cookies.set(name, cookie);
    const ghost = createDirectus(url, { globals: { fetch: replay.fetch } })
      .with(authentication(mode, { autoRefresh: false }))
      .with(rest());
    if (stolenAccess) await ghost.setToken(stolenAccess);
    await expect(ghost.request(readMe())).rejects.toMatchObject({
      errors: [
        { extensions: { code: mode === 'session' || stolenAccess ? 'INVALID_CREDENTIALS' : expect.any(String) } },
      ],
    });
  });

  it('reports a wrong password as the Directus error shape', async () => {
    const client = createDirectus(url, { globals: { fetch: createBrowserFetch(PUBLIC_URL).fetch } })
      .with(authentication(mode, { autoRefresh: false }))
      .with(rest());
    await expect(client.login('nobody@example.com', 'wrong password')).rejects.toMatchObject({
      errors: [{ message: 'Invalid user credentials.', extensions: { code: 'INVALID_CREDENTIALS' } }],
    });
  });
});

describe('@directus/sdk invitations', () => {
  it('invites with inviteUser (role id) and accepts with acceptUserInvite', async () => {
    const admin = await server.admin();
    const { id: roleId } = await server.database.db
      .selectFrom('roles')
      .select('id')
      .where('name', '=', 'user')
      .executeTakeFirstOrThrow();
    const adminClient = createDirectus(url).with(staticToken(admin.accessToken)).with(rest());
    await adminClient.request(inviteUser('sdk-invitee@example.com', roleId));

    // No SMTP server in this test: the link waits in the development outbox.
    const outbox = await server.app.inject({
      method: 'GET',
      url: '/outbox?kind=invitation',
      headers: { authorization: `Bearer ${admin.accessToken}` },
    });
    const text: string = outbox.json().data[0].text;
    const token = new URL(/(http\S+)/.exec(text)?.[1] ?? '').searchParams.get('token') ?? '';

    await createDirectus(url).with(rest()).request(acceptUserInvite(token, 'chosen by the invitee'));
    const client = createDirectus(url)
      .with(authentication('json', { autoRefresh: false }))
      .with(rest());
    await client.login('sdk-invitee@example.com', 'chosen by the invitee');
    expect(await client.request(readMe())).toMatchObject({ email: 'sdk-invitee@example.com', status: 'active' });
  });
});

describe('@directus/sdk password reset', () => {
  it('requests a link with passwordRequest and sets the password with passwordReset', async () => {
    const email = 'sdk-forgetful@example.com';
    await server.signup(email);
    const anonymous = createDirectus(url).with(rest());
    await anonymous.request(passwordRequest(email));
    await anonymous.request(passwordRequest('sdk-nobody@example.com'));

    // No SMTP server in this test: the link waits in the development outbox.
    await server.lifecycle.settled();
    const admin = await server.admin();
    const outbox = await server.app.inject({
      method: 'GET',
      url: '/outbox?kind=reset_password',
      headers: { authorization: `Bearer ${admin.accessToken}` },
    });
    const messages = outbox.json().data as { to: string; text: string }[];
    expect(messages.map((message) => message.to)).toEqual([email]);
    const token = new URL(/(http\S+)/.exec(messages[0]?.text ?? '')?.[1] ?? '').searchParams.get('token') ?? '';

    await anonymous.request(passwordReset(token, 'chosen after forgetting'));
    const client = createDirectus(url)
      .with(authentication('json', { autoRefresh: false }))
      .with(rest());
    await client.login(email, 'chosen after forgetting');
    expect(await client.request(readMe())).toMatchObject({ email, email_verified: true });
  });
});
