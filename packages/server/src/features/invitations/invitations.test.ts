import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { randomId } from '../../crypto/random.js';
import { type ReceivedMail, startSmtpServer, type TestSmtpServer } from '../../testing/smtp-server.js';
import { createTestServer, PUBLIC_URL, type TestServer } from '../../testing/test-server.js';

const ALLOWED = 'https://app.example.com/welcome';
const NEW_PASSWORD = 'a brand new password for the account';
const WEEK = 7 * 24 * 60 * 60 * 1000;

let smtp: TestSmtpServer;
let server: TestServer;
let admin: { id: string; accessToken: string };

beforeAll(async () => {
  smtp = await startSmtpServer();
  server = await createTestServer({ GATEHOUSE_SMTP_URL: smtp.url, GATEHOUSE_INVITE_URL_ALLOW_LIST: ALLOWED });
});
// A fresh admin per test: tests that move the clock by a week outlive any access token.
beforeEach(async () => {
  admin = await server.admin();
});
afterAll(async () => {
  await server.close();
  await smtp.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
let counter = 0;
const newEmail = () => `invitee${++counter}-${Date.now()}@example.com`;

function invite(payload: Record<string, unknown>, token = admin.accessToken) {
  return server.app.inject({ method: 'POST', url: '/users/invite', headers: bearer(token), payload });
}

function accept(token: string, password = NEW_PASSWORD) {
  return server.app.inject({ method: 'POST', url: '/users/invite/accept', payload: { token, password } });
}

/** Invites `email` and answers the mail that arrived and the token in its link. */
async function invited(
  email: string,
  extra: Record<string, unknown> = {},
): Promise<{ mail: ReceivedMail; token: string; link: URL }> {
  const response = await invite({ email, role: 'user', ...extra });
  expect(response.statusCode, response.body).toBe(204);
  const mail = await smtp.next();
  expect(mail.envelope.to).toEqual([email]);
  const match = /(https?:\/\/\S+token=[A-Za-z0-9_-]+)/.exec(mail.parsed.text ?? '');
  if (!match?.[1]) throw new Error(`no link in ${mail.parsed.text}`);
  const link = new URL(match[1]);
  return { mail, token: link.searchParams.get('token') ?? '', link };
}

async function invitationOf(email: string) {
  const list = await server.app.inject({ method: 'GET', url: '/invitations', headers: bearer(admin.accessToken) });
  return list.json().data.filter((row: { email: string }) => row.email === email);
}

describe('POST /users/invite and /users/invite/accept', () => {
  it('mails a link whose token sets the password, activates and verifies the account, once', async () => {
    const email = newEmail();
    const { mail, token, link } = await invited(email);
    expect(`${link.origin}${link.pathname}`).toBe(`${PUBLIC_URL}/ui/accept-invite`);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(mail.parsed.subject).toBe('You are invited to localhost:4000');
    expect(mail.parsed.from?.value).toEqual([{ name: 'Gatehouse', address: 'no-reply@localhost' }]);
    expect(mail.parsed.html).toContain(`href="${link.toString()}"`);

    const [pending] = await invitationOf(email);
    expect(pending).toMatchObject({ email, role: 'user', status: 'pending', invited_by: admin.id, accepted_at: null });
    expect(pending).not.toHaveProperty('token');
    expect(pending).not.toHaveProperty('token_hash');
    // Invited, not yet a member: no password, so no sign-in.
    expect((await server.login(email, NEW_PASSWORD)).statusCode).toBe(401);

    const accepted = await accept(token);
    expect(accepted.statusCode, accepted.body).toBe(204);
    expect(accepted.body).toBe('');
    const login = await server.login(email, NEW_PASSWORD);
    expect(login.statusCode).toBe(200);
    const me = await server.app.inject({
      method: 'GET',
      url: '/users/me',
      headers: bearer(login.json().data.access_token),
    });
    expect(me.json().data).toMatchObject({ email, status: 'active', role: 'user', email_verified: true });
    expect((await invitationOf(email))[0].status).toBe('accepted');

    const again = await accept(token, 'another password entirely');
    expect(again.statusCode).toBe(403);
    expect(again.json().errors[0].extensions.code).toBe('INVALID_TOKEN');
    expect((await server.login(email, NEW_PASSWORD)).statusCode).toBe(200);

    const events = await server.audit.list({ projectId: server.projectId, subjectId: pending.user_id, limit: 10 });
    expect(events.map((event) => `${event.event}:${event.outcome}`)).toEqual(
      expect.arrayContaining(['user.invited:success', 'invitation.accepted:success', 'invitation.accepted:failure']),
    );
  });

  it('stores the token nowhere and logs it nowhere; the sent message keeps no body', async () => {
    const email = newEmail();
    const { token } = await invited(email);
    await server.mailer.settled();
    const { db } = server.database;
    const rows = {
      invitations: await db.selectFrom('invitations').selectAll().execute(),
      outbox: await db.selectFrom('outbox').selectAll().execute(),
      users: await db.selectFrom('users').selectAll().execute(),
      audit_events: await db.selectFrom('audit_events').selectAll().execute(),
    };
    const dump = JSON.stringify(rows);
    expect(dump).toContain(email);
    expect(dump).not.toContain(token);
    const message = rows.outbox.find((row) => row.to === email);
    expect(message).toMatchObject({ status: 'sent', text: null, html: null, attempts: 0 });
    expect(await accept(token)).toMatchObject({ statusCode: 204 });
    expect(server.logs()).not.toContain(token);
    expect(server.logs()).not.toContain(NEW_PASSWORD);
  });

  it('lets exactly one of five parallel accepts through', async () => {
    const email = newEmail();
    const { token } = await invited(email);
    const responses = await Promise.all(Array.from({ length: 5 }, (_, i) => accept(token, `${NEW_PASSWORD} ${i}`)));
    const codes = responses.map((response) => response.statusCode).sort();
    expect(codes).toEqual([204, 403, 403, 403, 403]);
    const winner = responses.findIndex((response) => response.statusCode === 204);
    expect((await server.login(email, `${NEW_PASSWORD} ${winner}`)).statusCode).toBe(200);
  });

  it('refuses an expired link with 401 TOKEN_EXPIRED', async () => {
    const email = newEmail();
    const { token } = await invited(email);
    server.clock.advance(WEEK + 1000);
    const response = await accept(token);
    expect(response.statusCode).toBe(401);
    expect(response.json().errors[0].extensions.code).toBe('TOKEN_EXPIRED');
    admin = await server.admin();
    expect((await invitationOf(email))[0].status).toBe('expired');
    expect((await server.login(email, NEW_PASSWORD)).statusCode).toBe(401);
  });

  it('refuses unknown and malformed tokens', async () => {
    const unknown = await accept('A'.repeat(43));
    expect(unknown.statusCode).toBe(403);
    expect(unknown.json().errors[0].extensions.code).toBe('INVALID_TOKEN');
    const short = await server.app.inject({
      method: 'POST',
      url: '/users/invite/accept',
      payload: { token: 'x', password: 'short' },
    });
    expect(short.statusCode).toBe(400);
  });

  it('invites again: a new link, the old one revoked, the latest role kept', async () => {
    const email = newEmail();
    const first = await invited(email);
    server.clock.advance(1);
    const second = await invited(email, { role: 'guest' });
    expect(second.token).not.toBe(first.token);
    expect((await accept(first.token)).statusCode).toBe(403);
    expect((await accept(second.token)).statusCode).toBe(204);
    const rows = await invitationOf(email);
    expect(rows.map((row: { status: string; role: string }) => `${row.status}:${row.role}`)).toEqual([
      'accepted:guest',
      'revoked:user',
    ]);
    const login = await server.login(email, NEW_PASSWORD);
    const me = await server.app.inject({
      method: 'GET',
      url: '/users/me',
      headers: bearer(login.json().data.access_token),
    });
    expect(me.json().data.role).toBe('guest');
  });

  it('refuses to invite an e-mail that already has an account with 409', async () => {
    const existing = await server.user();
    const response = await invite({ email: existing.email.toUpperCase(), role: 'user' });
    expect(response.statusCode).toBe(409);
    expect(response.json().errors[0].extensions.code).toBe('RECORD_NOT_UNIQUE');
  });

  it('refuses an unknown role with 400, and a role with more than the inviter holds with 403', async () => {
    const unknown = await invite({ email: newEmail(), role: 'wizard' });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().errors[0].extensions.code).toBe('INVALID_PAYLOAD');

    await server.database.db
      .insertInto('roles')
      .values({
        id: randomId(),
        project_id: server.projectId,
        name: 'recruiter',
        description: null,
        permissions: JSON.stringify(['users:write', 'users:read']),
        created_at: server.clock.now(),
      })
      .execute();
    const recruiter = await server.user(undefined, { role: 'recruiter' });
    const escalation = await invite({ email: newEmail(), role: 'admin' }, recruiter.accessToken);
    expect(escalation.statusCode).toBe(403);
    expect(escalation.json().errors[0].extensions.code).toBe('FORBIDDEN');
    const fine = await invite({ email: newEmail(), role: 'user' }, recruiter.accessToken);
    expect(fine.statusCode).toBe(204);
    await smtp.next();
  });

  it('accepts a role id, as the Directus SDK sends it', async () => {
    const { id } = await server.database.db
      .selectFrom('roles')
      .select('id')
      .where('name', '=', 'guest')
      .executeTakeFirstOrThrow();
    const email = newEmail();
    const response = await invite({ email, role: id });
    expect(response.statusCode).toBe(204);
    await smtp.next();
    expect((await invitationOf(email))[0].role).toBe('guest');
  });

  it.each([
    ['a host outside the allow-list', 'https://evil.test/welcome'],
    ['a look-alike host', 'https://app.example.com.evil.test/welcome'],
    ['a sibling path', 'https://app.example.com/welcome-evil'],
    ['another scheme', 'http://app.example.com/welcome'],
    ['credentials in the URL', 'https://user:pass@app.example.com/welcome'],
    ['javascript', 'javascript:alert(1)//https://app.example.com/welcome'],
    ['not a URL', 'welcome'],
  ])('refuses invite_url with %s with 400 and creates nothing', async (_name, inviteUrl) => {
    const email = newEmail();
    const response = await invite({ email, role: 'user', invite_url: inviteUrl });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors[0].extensions.code).toBe('INVALID_PAYLOAD');
    const user = await server.database.db
      .selectFrom('users')
      .select('id')
      .where('email', '=', email)
      .executeTakeFirst();
    expect(user).toBeUndefined();
  });

  it('links to an allow-listed invite_url, keeping its own query', async () => {
    const { link, token } = await invited(newEmail(), { invite_url: `${ALLOWED}/team?lang=en` });
    expect(`${link.origin}${link.pathname}`).toBe(`${ALLOWED}/team`);
    expect(link.searchParams.get('lang')).toBe('en');
    expect((await accept(token)).statusCode).toBe(204);
  });

  it("keeps a name in a header on one line: an inviter's CR/LF cannot add a header or a recipient", async () => {
    const inviter = await server.admin();
    const patched = await server.app.inject({
      method: 'PATCH',
      url: '/users/me',
      headers: bearer(inviter.accessToken),
      payload: { first_name: 'Eve\r\nBcc: victim@example.com\r\nX-Injected: yes', last_name: 'Smith' },
    });
    expect(patched.statusCode).toBe(200);
    const email = newEmail();
    const response = await invite({ email, role: 'user' }, inviter.accessToken);
    expect(response.statusCode).toBe(204);
    const mail = await smtp.next();
    expect(mail.envelope.to).toEqual([email]);
    expect(mail.parsed.bcc).toBeUndefined();
    expect(mail.parsed.headers.has('x-injected')).toBe(false);
    expect(mail.parsed.subject).toBe('Eve Bcc: victim@example.com X-Injected: yes Smith invited you to localhost:4000');
    expect(mail.parsed.html).toContain('Eve Bcc: victim@example.com X-Injected: yes Smith has invited you');
  });
});

describe('GET /invitations and DELETE /invitations/:id', () => {
  it('revokes a pending invitation: the link stops working and the never-activated account is gone', async () => {
    const email = newEmail();
    const { token } = await invited(email);
    const [row] = await invitationOf(email);
    const revoked = await server.app.inject({
      method: 'DELETE',
      url: `/invitations/${row.id}`,
      headers: bearer(admin.accessToken),
    });
    expect(revoked.statusCode).toBe(204);
    const response = await accept(token);
    expect(response.statusCode).toBe(403);
    expect(response.json().errors[0].extensions.code).toBe('INVALID_TOKEN');
    const user = await server.database.db
      .selectFrom('users')
      .select('id')
      .where('email', '=', email)
      .executeTakeFirst();
    expect(user).toBeUndefined();
    expect((await invitationOf(email))[0]).toMatchObject({ status: 'revoked', user_id: null });
    const again = await server.app.inject({
      method: 'DELETE',
      url: `/invitations/${row.id}`,
      headers: bearer(admin.accessToken),
    });
    expect(again.statusCode).toBe(400);
    // The address can be invited afresh.
    const fresh = await invited(email);
    expect((await accept(fresh.token)).statusCode).toBe(204);
  });

  it('will not revoke an accepted invitation, nor touch the account', async () => {
    const email = newEmail();
    const { token } = await invited(email);
    await accept(token);
    const [row] = await invitationOf(email);
    const response = await server.app.inject({
      method: 'DELETE',
      url: `/invitations/${row.id}`,
      headers: bearer(admin.accessToken),
    });
    expect(response.statusCode).toBe(400);
    expect((await server.login(email, NEW_PASSWORD)).statusCode).toBe(200);
  });

  it('pages newest first and filters by status', async () => {
    const emails = [newEmail(), newEmail(), newEmail()];
    for (const email of emails) {
      server.clock.advance(1000);
      await invited(email);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=2&status=pending&cursor=${cursor}` : '?limit=2&status=pending';
      const page = await server.app.inject({
        method: 'GET',
        url: `/invitations${query}`,
        headers: bearer(admin.accessToken),
      });
      expect(page.statusCode).toBe(200);
      const body = page.json();
      seen.push(...body.data.map((row: { email: string; status: string }) => row.email));
      expect(body.data.every((row: { status: string }) => row.status === 'pending')).toBe(true);
      cursor = body.meta.next_cursor;
    } while (cursor);
    expect(seen.slice(0, 3), JSON.stringify(seen)).toEqual([...emails].reverse());
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('refuses a malformed cursor and id with 400', async () => {
    for (const url of ['/invitations?cursor=1.nope', '/invitations?limit=0']) {
      const response = await server.app.inject({ method: 'GET', url, headers: bearer(admin.accessToken) });
      expect(response.statusCode, url).toBe(400);
    }
    const response = await server.app.inject({
      method: 'DELETE',
      url: '/invitations/not-an-id',
      headers: bearer(admin.accessToken),
    });
    expect(response.statusCode).toBe(400);
  });
});

describe('access', () => {
  it('answers 401 without a credential and 403 to a plain user', async () => {
    const user = await server.user();
    const id = '00000000-0000-4000-8000-000000000000';
    const calls = [
      { method: 'POST' as const, url: '/users/invite', payload: { email: newEmail(), role: 'user' } },
      { method: 'GET' as const, url: '/invitations' },
      { method: 'DELETE' as const, url: `/invitations/${id}` },
    ];
    for (const call of calls) {
      const anonymous = await server.app.inject(call);
      expect(anonymous.statusCode, call.url).toBe(401);
      const plain = await server.app.inject({ ...call, headers: bearer(user.accessToken) });
      expect(plain.statusCode, call.url).toBe(403);
      expect(plain.json().errors[0].extensions.code).toBe('FORBIDDEN');
    }
  });

  it('refuses an admin who was suspended or demoted since their token was issued', async () => {
    const former = await server.admin();
    await server.database.db.updateTable('users').set({ role: 'user' }).where('id', '=', former.id).execute();
    expect((await invite({ email: newEmail(), role: 'user' }, former.accessToken)).statusCode).toBe(403);
    await server.database.db.updateTable('users').set({ status: 'suspended' }).where('id', '=', former.id).execute();
    expect((await invite({ email: newEmail(), role: 'user' }, former.accessToken)).statusCode).toBe(401);
  });
});
