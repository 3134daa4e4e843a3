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

const ALLOWED = 'https://app.example.com/reset';
const NEW_PASSWORD = 'a brand new password for the account';
const RESET_SUBJECT = /^Reset your password/;
const CHANGED_SUBJECT = /^Your password for .* was changed$/;

let smtp: TestSmtpServer;
let server: TestServer;
let mailbox: Mailbox;

beforeAll(async () => {
  smtp = await startSmtpServer();
  server = await createTestServer({ GATEHOUSE_SMTP_URL: smtp.url, GATEHOUSE_PASSWORD_RESET_URL_ALLOW_LIST: ALLOWED });
  mailbox = new Mailbox(() => server, smtp);
});
afterAll(async () => {
  await server.close();
  await smtp.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const codeOf = (response: { json(): { errors?: { extensions: { code: string } }[] } }) =>
  response.json().errors?.[0]?.extensions.code;

const requestReset = (payload: Record<string, unknown>) =>
  server.app.inject({ method: 'POST', url: '/auth/password/request', payload });
const reset = (token: string, password = NEW_PASSWORD) =>
  server.app.inject({ method: 'POST', url: '/auth/password/reset', payload: { token, password } });
const change = (accessToken: string, payload: Record<string, unknown>) =>
  server.app.inject({ method: 'POST', url: '/auth/password/change', headers: bearer(accessToken), payload });
const me = (accessToken: string) =>
  server.app.inject({ method: 'GET', url: '/users/me', headers: bearer(accessToken) });
const refresh = (refreshToken: string) =>
  server.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: refreshToken } });

async function signIn(user: TestUser, password = TEST_PASSWORD): Promise<TestUser> {
  const login = await server.login(user.email, password);
  expect(login.statusCode, login.body).toBe(200);
  return { ...user, accessToken: login.json().data.access_token, refreshToken: login.json().data.refresh_token };
}

/** Requests a reset for `user` and answers the token of the link that arrived. */
async function resetLink(user: TestUser, extra: Record<string, unknown> = {}) {
  expect((await requestReset({ email: user.email, ...extra })).statusCode).toBe(204);
  return mailbox.link(user.email, RESET_SUBJECT);
}

describe('POST /auth/password/request and /auth/password/reset', () => {
  it('mails a link whose token sets the password once and ends every session', async () => {
    const user = await server.user();
    const second = await signIn(user);
    const { link, token, mail } = await resetLink(user);
    expect(`${link.origin}${link.pathname}`).toBe(`${PUBLIC_URL}/ui/reset-password`);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(mail.parsed.html).toContain(`href="${link.toString()}"`);
    expect(await dumpTables(server)).not.toContain(token);

    const response = await reset(token);
    expect(response.statusCode, response.body).toBe(204);
    expect(response.body).toBe('');

    for (const session of [user, second]) {
      expect((await me(session.accessToken)).statusCode).toBe(401);
      const refused = await refresh(session.refreshToken);
      expect(refused.statusCode).toBe(401);
    }
    expect((await server.login(user.email)).statusCode).toBe(401);
    const after = await signIn(user, NEW_PASSWORD);
    // The link reached the mailbox: the address counts as verified.
    expect((await me(after.accessToken)).json().data.email_verified).toBe(true);

    const again = await reset(token, 'yet another password here');
    expect(again.statusCode).toBe(403);
    expect(codeOf(again)).toBe('INVALID_TOKEN');
    expect((await server.login(user.email, NEW_PASSWORD)).statusCode).toBe(200);

    const notices = await mailbox.to(user.email, CHANGED_SUBJECT);
    expect(notices).toHaveLength(1);
    expect(notices[0]?.parsed.text).toContain('was changed on');
    const [event] = await server.audit.list({
      projectId: server.projectId,
      event: 'user.password_changed',
      subjectId: user.id,
      limit: 5,
      outcome: 'success',
    });
    expect(JSON.parse(event?.details ?? '{}')).toMatchObject({ via: 'reset', sessions_ended: 2 });

    const dump = await dumpTables(server);
    expect(dump).not.toContain(token);
    expect(dump).not.toContain(NEW_PASSWORD);
    expect(server.logs()).not.toContain(token);
    expect(server.logs()).not.toContain(NEW_PASSWORD);
  });

  it('lets exactly one of five parallel resets through', async () => {
    const user = await server.user();
    const { token } = await resetLink(user);
    const responses = await Promise.all(Array.from({ length: 5 }, (_, i) => reset(token, `${NEW_PASSWORD} ${i}`)));
    expect(responses.map((response) => response.statusCode).sort()).toEqual([204, 403, 403, 403, 403]);
    const winner = responses.findIndex((response) => response.statusCode === 204);
    expect((await server.login(user.email, `${NEW_PASSWORD} ${winner}`)).statusCode).toBe(200);
    expect(await mailbox.to(user.email, CHANGED_SUBJECT)).toHaveLength(1);
  });

  it('answers 204 for unknown, suspended and cool-down requests and sends nothing', async () => {
    const unknown = `nobody-${Date.now()}@example.com`;
    expect((await requestReset({ email: unknown })).statusCode).toBe(204);
    expect(await mailbox.to(unknown)).toHaveLength(0);

    const suspended = await server.user();
    await server.database.db.updateTable('users').set({ status: 'suspended' }).where('id', '=', suspended.id).execute();
    expect((await requestReset({ email: suspended.email })).statusCode).toBe(204);
    expect(await mailbox.to(suspended.email, RESET_SUBJECT)).toHaveLength(0);

    const user = await server.user();
    const parallel = await Promise.all(Array.from({ length: 5 }, () => requestReset({ email: user.email })));
    expect(parallel.map((response) => response.statusCode)).toEqual([204, 204, 204, 204, 204]);
    expect(await mailbox.to(user.email, RESET_SUBJECT)).toHaveLength(1);

    const reasons = (
      await server.audit.list({
        projectId: server.projectId,
        event: 'auth.password_reset_requested',
        outcome: 'failure',
        limit: 20,
      })
    ).map((event) => JSON.parse(event.details).reason);
    expect(reasons).toEqual(expect.arrayContaining(['unknown_user', 'not_active', 'cool_down']));
    expect(reasons.filter((reason) => reason === 'cool_down')).toHaveLength(4);
  });

  it('points the link at an allow-listed reset_url, and refuses others with 400', async () => {
    const user = await server.user();
    const { link } = await resetLink(user, { reset_url: `${ALLOWED}/form?lang=de` });
    expect(`${link.origin}${link.pathname}`).toBe(`${ALLOWED}/form`);
    expect(link.searchParams.get('lang')).toBe('de');
    for (const url of ['https://evil.example.com/reset', 'https://app.example.com/reset-evil', 'javascript:alert(1)']) {
      const refused = await requestReset({ email: user.email, reset_url: url });
      expect(refused.statusCode, url).toBe(400);
      expect(codeOf(refused)).toBe('INVALID_PAYLOAD');
    }
    const garbage = await server.app.inject({ method: 'POST', url: '/auth/password/request', payload: {} });
    expect(garbage.statusCode).toBe(400);
  });

  it('refuses an expired link with 401 TOKEN_EXPIRED, and a newer link ends the older one', async () => {
    const user = await server.user();
    const { token: first } = await resetLink(user);
    server.clock.advance(61_000);
    const { token: second } = await resetLink(user);
    expect(second).not.toBe(first);
    expect(codeOf(await reset(first))).toBe('INVALID_TOKEN');
    server.clock.advance(60 * 60_000);
    const expired = await reset(second);
    expect(expired.statusCode).toBe(401);
    expect(codeOf(expired)).toBe('TOKEN_EXPIRED');
    expect((await server.login(user.email)).statusCode).toBe(200);
    expect(codeOf(await reset('A'.repeat(43)))).toBe('INVALID_TOKEN');
  });

  it('checks the password policy before using the link, so a refused password does not burn it', async () => {
    const user = await server.user();
    const { token } = await resetLink(user);
    const local = user.email.split('@')[0] ?? '';
    const admin = await server.admin();
    const patch = (body: object) =>
      server.app.inject({
        method: 'PATCH',
        url: '/projects/default/settings',
        headers: bearer(admin.accessToken),
        payload: body,
      });
    expect((await patch({ password: { forbid_email: true } })).statusCode).toBe(200);
    try {
      const refused = await reset(token, `my ${local} password`);
      expect(refused.statusCode).toBe(400);
      expect(codeOf(refused)).toBe('INVALID_PAYLOAD');
      expect((await reset(token)).statusCode).toBe(204);
    } finally {
      await patch({ password: { forbid_email: false } });
    }
  });
});

describe('reset links and templates', () => {
  it('refuses the link of an account suspended since it was sent', async () => {
    const user = await server.user();
    const { token } = await resetLink(user);
    await server.database.db.updateTable('users').set({ status: 'suspended' }).where('id', '=', user.id).execute();
    const refused = await reset(token);
    expect(refused.statusCode).toBe(403);
    expect(codeOf(refused)).toBe('INVALID_TOKEN');
    await server.database.db.updateTable('users').set({ status: 'active' }).where('id', '=', user.id).execute();
    expect((await server.login(user.email)).statusCode).toBe(200);
  });

  it("renders the project's own template when an admin has replaced the built-in one", async () => {
    const admin = await server.admin();
    const put = await server.app.inject({
      method: 'PUT',
      url: '/email-templates/reset_password?locale=de',
      headers: bearer(admin.accessToken),
      payload: {
        subject: 'Passwort für {{site}} zurücksetzen',
        text: 'Neues Passwort: {{link}} (bis {{expires_at}})',
        html: '<p><a href="{{link}}">Neues Passwort</a></p>',
      },
    });
    expect(put.statusCode, put.body).toBe(200);
    const user = await server.user();
    await server.database.db.updateTable('users').set({ language: 'de-AT' }).where('id', '=', user.id).execute();
    expect((await requestReset({ email: user.email })).statusCode).toBe(204);
    const { token, mail } = await mailbox.link(user.email, /^Passwort für localhost:4000 zurücksetzen$/);
    expect(mail.parsed.text).toContain('Neues Passwort: http://localhost:4000/ui/reset-password?token=');
    expect((await reset(token)).statusCode).toBe(204);
  });
});

describe('POST /auth/password/change', () => {
  it('changes the password with the current one, keeps this session and ends the others', async () => {
    const user = await server.user();
    const other = await signIn(user);
    const { token: pendingReset } = await resetLink(user);

    const wrong = await change(user.accessToken, { current_password: 'not my password', password: NEW_PASSWORD });
    expect(wrong.statusCode).toBe(401);
    expect(codeOf(wrong)).toBe('INVALID_CREDENTIALS');
    const [failure] = await server.audit.list({
      projectId: server.projectId,
      event: 'user.password_changed',
      subjectId: user.id,
      outcome: 'failure',
      limit: 1,
    });
    expect(JSON.parse(failure?.details ?? '{}')).toEqual({ via: 'change', reason: 'wrong_password' });

    const changed = await change(user.accessToken, { current_password: TEST_PASSWORD, password: NEW_PASSWORD });
    expect(changed.statusCode, changed.body).toBe(204);

    expect((await me(user.accessToken)).statusCode).toBe(200);
    expect((await refresh(user.refreshToken)).statusCode).toBe(200);
    expect((await me(other.accessToken)).statusCode).toBe(401);
    expect((await refresh(other.refreshToken)).statusCode).toBe(401);
    expect((await server.login(user.email)).statusCode).toBe(401);
    expect((await server.login(user.email, NEW_PASSWORD)).statusCode).toBe(200);
    // A reset link sent before the change no longer works.
    expect(codeOf(await reset(pendingReset, 'a third password, from the link'))).toBe('INVALID_TOKEN');

    expect(await mailbox.to(user.email, CHANGED_SUBJECT)).toHaveLength(1);
    const [event] = await server.audit.list({
      projectId: server.projectId,
      event: 'user.password_changed',
      subjectId: user.id,
      outcome: 'success',
      limit: 1,
    });
    expect(event).toMatchObject({ actor_id: user.id });
    expect(JSON.parse(event?.details ?? '{}')).toEqual({ via: 'change', sessions_ended: 1 });
    expect(server.logs()).not.toContain(NEW_PASSWORD);
    expect(await dumpTables(server)).not.toContain(NEW_PASSWORD);
  });

  it('applies the password policy and the schema', async () => {
    const user = await server.user();
    const short = await change(user.accessToken, { current_password: TEST_PASSWORD, password: 'short' });
    expect(short.statusCode).toBe(400);
    const missing = await change(user.accessToken, { password: NEW_PASSWORD });
    expect(missing.statusCode).toBe(400);
    const anonymous = await server.app.inject({
      method: 'POST',
      url: '/auth/password/change',
      payload: { current_password: TEST_PASSWORD, password: NEW_PASSWORD },
    });
    expect(anonymous.statusCode).toBe(401);
    expect((await server.login(user.email)).statusCode).toBe(200);
  });
});

describe('password checks of signed-in callers', () => {
  it("count against sign-in's per-account limit: a stolen token buys no more guesses than the form", async () => {
    const limited = await createTestServer({ GATEHOUSE_RATE_LIMIT_LOGIN: '3/15m' });
    try {
      const user = await limited.user();
      const guess = (password: string) =>
        limited.app.inject({
          method: 'POST',
          url: '/auth/password/change',
          headers: bearer(user.accessToken),
          payload: { current_password: password, password: NEW_PASSWORD },
        });
      const guesses = await Promise.all(['one guess', 'two guess', 'three guess'].map(guess));
      // The sign-in itself was the first attempt of the window.
      expect(guesses.map((response) => response.statusCode).sort()).toEqual([401, 401, 429]);
      const deletion = await limited.app.inject({
        method: 'DELETE',
        url: '/users/me',
        headers: bearer(user.accessToken),
        payload: { password: TEST_PASSWORD },
      });
      expect(deletion.statusCode).toBe(429);
      expect(codeOf(deletion)).toBe('REQUESTS_EXCEEDED');
      expect(deletion.headers['retry-after']).toBeDefined();
      expect((await limited.login(user.email)).statusCode).toBe(429);
    } finally {
      await limited.close();
    }
  });
});
