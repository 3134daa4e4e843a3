import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dumpTables, Mailbox } from '../../testing/mailbox.js';
import { startSmtpServer, type TestSmtpServer } from '../../testing/smtp-server.js';
import {
  createTestServer,
  PUBLIC_URL,
  TEST_PASSWORD,
  type TestServer,
  type TestUser,
} from '../../testing/test-server.js';

const ALLOWED = 'https://app.example.com/verify';
const DAY = 24 * 60 * 60_000;
const VERIFY_SUBJECT = /^Confirm your e-mail address/;

let smtp: TestSmtpServer;
let server: TestServer;
let mailbox: Mailbox;
let admin: TestUser;

beforeAll(async () => {
  smtp = await startSmtpServer();
  // The project's real defaults: verification mail at sign-up (`optional`).
  server = await createTestServer(
    { GATEHOUSE_SMTP_URL: smtp.url, GATEHOUSE_EMAIL_VERIFICATION_URL_ALLOW_LIST: ALLOWED },
    { projectSettings: null },
  );
  mailbox = new Mailbox(() => server, smtp);
  admin = await server.admin();
  // Verified, so the admin can still sign in while the project requires verification.
  await server.database.db.updateTable('users').set({ email_verified_at: 1 }).where('id', '=', admin.id).execute();
});
afterAll(async () => {
  await server.close();
  await smtp.close();
});

let counter = 0;
const newEmail = () => `verify${++counter}-${Date.now()}@example.com`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const codeOf = (response: { json(): { errors?: { extensions: { code: string } }[] } }) =>
  response.json().errors?.[0]?.extensions.code;

const signup = (payload: Record<string, unknown>) =>
  server.app.inject({ method: 'POST', url: '/auth/signup', payload: { password: TEST_PASSWORD, ...payload } });
const request = (payload: Record<string, unknown>) =>
  server.app.inject({ method: 'POST', url: '/auth/email/verify/request', payload });
const verify = (token: string) => server.app.inject({ method: 'POST', url: '/auth/email/verify', payload: { token } });

async function me(email: string) {
  const login = await server.login(email);
  expect(login.statusCode, login.body).toBe(200);
  const response = await server.app.inject({
    method: 'GET',
    url: '/users/me',
    headers: bearer(login.json().data.access_token),
  });
  return response.json().data as { id: string; email_verified: boolean };
}

/** The admin with a fresh token: tests move the clock past token lifetimes. */
async function freshAdmin(): Promise<TestUser> {
  const login = await server.login(admin.email);
  expect(login.statusCode, login.body).toBe(200);
  admin = { ...admin, accessToken: login.json().data.access_token };
  return admin;
}

async function setSettings(body: Record<string, unknown>) {
  await freshAdmin();
  const response = await server.app.inject({
    method: 'PATCH',
    url: '/projects/default/settings',
    headers: bearer(admin.accessToken),
    payload: body,
  });
  expect(response.statusCode, response.body).toBe(200);
}

describe('e-mail verification', () => {
  it('mails a link at sign-up whose token verifies the address, once; the token is stored and logged nowhere', async () => {
    const email = newEmail();
    expect((await signup({ email })).statusCode).toBe(204);
    const { link, token, mail } = await mailbox.link(email, VERIFY_SUBJECT);
    expect(`${link.origin}${link.pathname}`).toBe(`${PUBLIC_URL}/ui/verify-email`);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(mail.parsed.subject).toBe('Confirm your e-mail address for localhost:4000');
    expect(mail.parsed.html).toContain(`href="${link.toString()}"`);
    expect((await me(email)).email_verified).toBe(false);

    const dump = await dumpTables(server);
    expect(dump).toContain(email);
    expect(dump).not.toContain(token);

    const verified = await verify(token);
    expect(verified.statusCode, verified.body).toBe(204);
    expect(verified.body).toBe('');
    const user = await me(email);
    expect(user.email_verified).toBe(true);
    const again = await verify(token);
    expect(again.statusCode).toBe(403);
    expect(codeOf(again)).toBe('INVALID_TOKEN');

    const events = await server.audit.list({ projectId: server.projectId, subjectId: user.id, limit: 20 });
    expect(events.map((event) => `${event.event}:${event.outcome}`)).toContain('user.email_verified:success');
    expect(await dumpTables(server)).not.toContain(token);
    expect(server.logs()).not.toContain(token);
    expect(server.logs()).not.toContain(TEST_PASSWORD);
  });

  it('lets exactly one of five parallel verifications through', async () => {
    const email = newEmail();
    await signup({ email });
    const { token } = await mailbox.link(email, VERIFY_SUBJECT);
    const responses = await Promise.all(Array.from({ length: 5 }, () => verify(token)));
    expect(responses.map((response) => response.statusCode).sort()).toEqual([204, 403, 403, 403, 403]);
    expect((await me(email)).email_verified).toBe(true);
  });

  it('points the link at an allow-listed verification_url, and refuses others with 400', async () => {
    const email = newEmail();
    expect((await signup({ email, verification_url: `${ALLOWED}/done?from=signup` })).statusCode).toBe(204);
    const { link } = await mailbox.link(email, VERIFY_SUBJECT);
    expect(`${link.origin}${link.pathname}`).toBe(`${ALLOWED}/done`);
    expect(link.searchParams.get('from')).toBe('signup');

    for (const url of ['https://app.example.com/verify-evil', 'https://app.example.com.evil.test/verify', 'nope']) {
      const refused = await signup({ email: newEmail(), verification_url: url });
      expect(refused.statusCode, url).toBe(400);
      expect(codeOf(refused)).toBe('INVALID_PAYLOAD');
      const requested = await request({ email, verification_url: url });
      expect(requested.statusCode, url).toBe(400);
    }
  });

  it('answers 204 to every request, mails only an active unverified account, and at most once a minute', async () => {
    const email = newEmail();
    await signup({ email });
    expect(await mailbox.to(email, VERIFY_SUBJECT)).toHaveLength(1);

    // Within the cool-down of the sign-up mail: answered, not sent.
    expect((await request({ email })).statusCode).toBe(204);
    expect(await mailbox.to(email, VERIFY_SUBJECT)).toHaveLength(1);

    server.clock.advance(61_000);
    const parallel = await Promise.all(Array.from({ length: 5 }, () => request({ email: email.toUpperCase() })));
    expect(parallel.map((response) => response.statusCode)).toEqual([204, 204, 204, 204, 204]);
    const mails = await mailbox.to(email, VERIFY_SUBJECT);
    expect(mails).toHaveLength(2);

    // The newer link ends the older one.
    const first = /token=([A-Za-z0-9_-]+)/.exec(mails[0]?.parsed.text ?? '')?.[1] ?? '';
    const { token: second } = await mailbox.link(email, VERIFY_SUBJECT);
    expect((await verify(first)).statusCode).toBe(403);
    expect((await verify(second)).statusCode).toBe(204);

    // Verified, unknown: answered alike, nothing sent.
    server.clock.advance(61_000);
    const unknown = newEmail();
    expect((await request({ email })).statusCode).toBe(204);
    expect((await request({ email: unknown })).statusCode).toBe(204);
    expect(await mailbox.to(email, VERIFY_SUBJECT)).toHaveLength(2);
    expect(await mailbox.to(unknown)).toHaveLength(0);
    const reasons = (
      await server.audit.list({ projectId: server.projectId, event: 'auth.email_verification_requested', limit: 20 })
    ).map((event) => JSON.parse(event.details).reason);
    expect(reasons).toEqual(expect.arrayContaining(['cool_down', 'already_verified', 'unknown_user']));
  });

  it('refuses an expired link with 401 TOKEN_EXPIRED, and unknown or malformed ones', async () => {
    const email = newEmail();
    await signup({ email });
    const { token } = await mailbox.link(email, VERIFY_SUBJECT);
    server.clock.advance(DAY + 1000);
    const expired = await verify(token);
    expect(expired.statusCode).toBe(401);
    expect(codeOf(expired)).toBe('TOKEN_EXPIRED');
    expect((await me(email)).email_verified).toBe(false);
    expect(codeOf(await verify('A'.repeat(43)))).toBe('INVALID_TOKEN');
    expect((await verify('')).statusCode).toBe(400);
    const garbage = await server.app.inject({ method: 'POST', url: '/auth/email/verify', payload: 'x' });
    expect(garbage.statusCode).toBeLessThan(500);
  });

  it('no longer verifies once an admin has changed the address', async () => {
    const email = newEmail();
    await signup({ email });
    const { token } = await mailbox.link(email, VERIFY_SUBJECT);
    const { id } = await me(email);
    await freshAdmin();
    const changed = await server.app.inject({
      method: 'PATCH',
      url: `/users/${id}`,
      headers: bearer(admin.accessToken),
      payload: { email: newEmail() },
    });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(codeOf(await verify(token))).toBe('INVALID_TOKEN');
  });

  it('counts accounts created by an admin as verified', async () => {
    await freshAdmin();
    const created = await server.app.inject({
      method: 'POST',
      url: '/users',
      headers: bearer(admin.accessToken),
      payload: { email: newEmail(), password: TEST_PASSWORD },
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().data.email_verified).toBe(true);
  });

  it('with `required`, refuses the right password of an unverified account with EMAIL_NOT_VERIFIED', async () => {
    await setSettings({ email_verification: 'required' });
    try {
      const email = newEmail();
      await signup({ email });
      const { token } = await mailbox.link(email, VERIFY_SUBJECT);
      const wrong = await server.login(email, 'not the password at all');
      expect(wrong.statusCode).toBe(401);
      expect(codeOf(wrong)).toBe('INVALID_CREDENTIALS');
      const right = await server.login(email);
      expect(right.statusCode).toBe(401);
      expect(codeOf(right)).toBe('EMAIL_NOT_VERIFIED');
      const failures = await server.audit.list({
        projectId: server.projectId,
        event: 'auth.login',
        outcome: 'failure',
        limit: 5,
      });
      expect(JSON.parse(failures[0]?.details ?? '{}')).toMatchObject({ reason: 'email_not_verified', email });

      expect((await verify(token)).statusCode).toBe(204);
      expect((await server.login(email)).statusCode).toBe(200);
    } finally {
      await setSettings({ email_verification: 'optional' });
    }
  });

  it('with `off`, mails nothing at sign-up or on request', async () => {
    await setSettings({ email_verification: 'off' });
    try {
      const email = newEmail();
      await signup({ email });
      expect((await request({ email })).statusCode).toBe(204);
      expect(await mailbox.to(email)).toHaveLength(0);
    } finally {
      await setSettings({ email_verification: 'optional' });
    }
  });

  it('validates the setting', async () => {
    await freshAdmin();
    const response = await server.app.inject({
      method: 'PATCH',
      url: '/projects/default/settings',
      headers: bearer(admin.accessToken),
      payload: { email_verification: 'sometimes' },
    });
    expect(response.statusCode).toBe(400);
    expect(codeOf(response)).toBe('INVALID_PAYLOAD');
  });
});
