import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config/index.js';
import { freePort } from '../testing/ports.js';
import { startSmtpServer } from '../testing/smtp-server.js';
import { createTestServer, type TestServer } from '../testing/test-server.js';
import {
  assertHeaderSafe,
  MAX_ATTEMPTS,
  MailHeaderError,
  RETRY_DELAYS,
  renderTemplate,
  TEMPLATE_KINDS,
} from './index.js';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
let counter = 0;
const newEmail = () => `mail${++counter}-${Date.now()}@example.com`;

function invite(server: TestServer, token: string, email = newEmail()) {
  return server.app.inject({
    method: 'POST',
    url: '/users/invite',
    headers: bearer(token),
    payload: { email, role: 'user' },
  });
}

describe('development outbox (no SMTP server)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await createTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('keeps the message for GET /outbox and logs one line that points there, without the link', async () => {
    const admin = await server.admin();
    const email = newEmail();
    expect((await invite(server, admin.accessToken, email)).statusCode).toBe(204);
    const lines = server
      .logs()
      .split('\n')
      .filter((line) => line.includes('is in the outbox'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`mail \\"invitation\\" to ${email} is in the outbox`);
    expect(lines[0]).toContain('open GET /outbox');

    const response = await server.app.inject({ method: 'GET', url: '/outbox', headers: bearer(admin.accessToken) });
    expect(response.statusCode).toBe(200);
    const [message] = response.json().data;
    expect(message).toMatchObject({ kind: 'invitation', to: email, status: 'held', attempts: 0, sent_at: null });
    const token = /token=([A-Za-z0-9_-]+)/.exec(message.text)?.[1];
    expect(token).toBeDefined();
    expect(message.html).toContain(`token=${token}`);
    expect(server.logs()).not.toContain(token);

    // The link from the outbox is the way in without SMTP.
    const accepted = await server.app.inject({
      method: 'POST',
      url: '/users/invite/accept',
      payload: { token, password: 'from the development outbox' },
    });
    expect(accepted.statusCode).toBe(204);
  });

  it('pages newest first and filters by kind and status', async () => {
    const admin = await server.admin();
    const sent: string[] = [];
    for (let i = 0; i < 3; i++) {
      server.clock.advance(1000);
      const email = newEmail();
      sent.push(email);
      await invite(server, admin.accessToken, email);
    }
    const first = await server.app.inject({
      method: 'GET',
      url: '/outbox?limit=2&kind=invitation&status=held',
      headers: bearer(admin.accessToken),
    });
    const page = first.json();
    expect(page.data.map((m: { to: string }) => m.to)).toEqual([sent[2], sent[1]]);
    expect(page.meta.next_cursor).toMatch(/^\d+\./);
    const second = await server.app.inject({
      method: 'GET',
      url: `/outbox?limit=2&cursor=${page.meta.next_cursor}`,
      headers: bearer(admin.accessToken),
    });
    expect(second.json().data[0].to).toBe(sent[0]);
    const none = await server.app.inject({
      method: 'GET',
      url: '/outbox?status=sent',
      headers: bearer(admin.accessToken),
    });
    expect(none.json()).toEqual({ data: [], meta: { next_cursor: null } });
  });

  it('is for admins only: 401 without a credential, 403 to a plain user', async () => {
    const user = await server.user();
    expect((await server.app.inject({ method: 'GET', url: '/outbox' })).statusCode).toBe(401);
    const response = await server.app.inject({ method: 'GET', url: '/outbox', headers: bearer(user.accessToken) });
    expect(response.statusCode).toBe(403);
    expect(response.json().errors[0].extensions.code).toBe('FORBIDDEN');
  });

  it('refuses a malformed query with 400', async () => {
    const admin = await server.admin();
    for (const query of ['?cursor=12', '?status=lost', '?limit=500', '?cursor=1.not-a-uuid']) {
      const response = await server.app.inject({
        method: 'GET',
        url: `/outbox${query}`,
        headers: bearer(admin.accessToken),
      });
      expect(response.statusCode, query).toBe(400);
    }
  });
});

describe('SMTP failures', () => {
  it('records a refused connection on the row, retries with backoff, and gives up without losing track', async () => {
    const server = await createTestServer({ GATEHOUSE_SMTP_URL: `smtp://127.0.0.1:${await freePort()}` });
    try {
      const admin = await server.admin();
      const email = newEmail();
      const started = Date.now();
      expect((await invite(server, admin.accessToken, email)).statusCode).toBe(204);
      expect(Date.now() - started).toBeLessThan(2000);
      await server.mailer.settled();
      const row = () =>
        server.database.db.selectFrom('outbox').selectAll().where('to', '=', email).executeTakeFirstOrThrow();

      let message = await row();
      expect(message).toMatchObject({ status: 'failed', attempts: 1, sent_at: null });
      expect(message.last_error).toContain('ECONNREFUSED');
      expect(Number(message.next_attempt_at)).toBe(server.clock.now() + (RETRY_DELAYS[0] ?? 0));
      expect(message.text).toContain('token=');

      const listed = await server.app.inject({
        method: 'GET',
        url: '/outbox?status=failed',
        headers: bearer(admin.accessToken),
      });
      expect(listed.json().data[0]).toMatchObject({ to: email, status: 'failed', attempts: 1 });

      expect(await server.mailer.retryDue()).toBe(0);
      for (let attempt = 2; attempt <= MAX_ATTEMPTS; attempt++) {
        server.clock.advance(RETRY_DELAYS[attempt - 2] ?? 0);
        expect(await server.mailer.retryDue()).toBe(1);
        message = await row();
        expect(message.attempts).toBe(attempt);
      }
      expect(message).toMatchObject({ status: 'failed', next_attempt_at: null, text: null, html: null });
      server.clock.advance(24 * 60 * 60 * 1000);
      expect(await server.mailer.retryDue()).toBe(0);
      expect(server.logs()).toContain('mail delivery failed; given up');
    } finally {
      await server.close();
    }
  });

  it('delivers on a later attempt when the server refused at first', async () => {
    const smtp = await startSmtpServer({ refuseFirst: 1 });
    const server = await createTestServer({ GATEHOUSE_SMTP_URL: smtp.url });
    try {
      const admin = await server.admin();
      const email = newEmail();
      await invite(server, admin.accessToken, email);
      await server.mailer.settled();
      const before = await server.database.db
        .selectFrom('outbox')
        .selectAll()
        .where('to', '=', email)
        .executeTakeFirstOrThrow();
      expect(before).toMatchObject({ status: 'failed', attempts: 1 });
      expect(before.last_error).toContain('451');
      server.clock.advance(RETRY_DELAYS[0] ?? 0);
      expect(await server.mailer.retryDue()).toBe(1);
      const mail = await smtp.next();
      expect(mail.envelope.to).toEqual([email]);
      const after = await server.database.db
        .selectFrom('outbox')
        .selectAll()
        .where('to', '=', email)
        .executeTakeFirstOrThrow();
      expect(after).toMatchObject({ status: 'sent', attempts: 1, last_error: null, text: null, html: null });
    } finally {
      await server.close();
      await smtp.close();
    }
  });

  it('gives up on a server that never greets within GATEHOUSE_SMTP_TIMEOUT, and the request does not wait for it', async () => {
    const silent: Server = createServer(() => {
      // Accepts the connection and says nothing.
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const server = await createTestServer({
      GATEHOUSE_SMTP_URL: `smtp://127.0.0.1:${port}`,
      GATEHOUSE_SMTP_TIMEOUT: '300ms',
    });
    try {
      const admin = await server.admin();
      const email = newEmail();
      const started = Date.now();
      expect((await invite(server, admin.accessToken, email)).statusCode).toBe(204);
      // Answered while the attempt still waits for a greeting.
      const during = await server.database.db
        .selectFrom('outbox')
        .select('status')
        .where('to', '=', email)
        .executeTakeFirstOrThrow();
      expect(during.status).toBe('pending');
      await server.mailer.settled();
      expect(Date.now() - started).toBeLessThan(3000);
      const message = await server.database.db
        .selectFrom('outbox')
        .selectAll()
        .where('to', '=', email)
        .executeTakeFirstOrThrow();
      expect(message).toMatchObject({ status: 'failed', attempts: 1 });
      expect(message.last_error).toMatch(/timeout|ETIMEDOUT/i);
    } finally {
      await server.close();
      silent.close();
    }
  });
});

describe('headers and templates', () => {
  it.each([
    ['a CR/LF in the subject', { to: 'ada@example.com', subject: 'Hi\r\nBcc: eve@example.com' }],
    ['a lone LF in the subject', { to: 'ada@example.com', subject: 'Hi\nthere' }],
    ['a line separator in the subject', { to: 'ada@example.com', subject: 'Hi\u2028there' }],
    ['a CR/LF in the address', { to: 'ada@example.com\r\nBcc: eve@example.com', subject: 'Hi' }],
    ['a list of addresses', { to: 'ada@example.com, eve@example.com', subject: 'Hi' }],
    ['a display name', { to: 'Ada <ada@example.com>', subject: 'Hi' }],
  ])('refuses %s before anything is stored', (_name, mail) => {
    expect(() => assertHeaderSafe(mail)).toThrow(MailHeaderError);
  });

  it('the mailer refuses such a message and stores nothing', async () => {
    const server = await createTestServer();
    try {
      await expect(
        server.mailer.send({
          projectId: server.projectId,
          kind: 'invitation',
          to: 'ada@example.com',
          subject: 'Hi\r\nBcc: eve@example.com',
          text: 'x',
          html: 'x',
        }),
      ).rejects.toThrow(MailHeaderError);
      expect(await server.database.db.selectFrom('outbox').selectAll().execute()).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('escapes variables in the HTML part and flattens them in the subject', () => {
    const mail = renderTemplate(TEMPLATE_KINDS.invitation.default, {
      link: 'https://app.example.com/welcome?a=1&token=abc',
      site: 'app.example.com',
      inviter: '<script>alert("x")</script>\r\nBcc: eve@example.com',
      expires_at: new Date(Date.UTC(2030, 0, 1)).toUTCString(),
    });
    expect(mail.subject).toBe('<script>alert("x")</script> Bcc: eve@example.com invited you to app.example.com');
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(mail.html).toContain('href="https://app.example.com/welcome?a=1&amp;token=abc"');
    expect(mail.text).toContain('https://app.example.com/welcome?a=1&token=abc\n');
    expect(mail.text).toContain('Tue, 01 Jan 2030 00:00:00 GMT');
  });

  it('refuses a sender or an allow-list that cannot be right, naming the variable', () => {
    const base = { GATEHOUSE_SECRET: 'x'.repeat(32), GATEHOUSE_DATA_DIR: '/tmp/gatehouse-config-test' };
    expect(() => loadConfig({ ...base, GATEHOUSE_MAIL_FROM: 'Gatehouse <a@b.c>\r\nBcc: eve@example.com' })).toThrow(
      /GATEHOUSE_MAIL_FROM/,
    );
    expect(() =>
      loadConfig({ ...base, GATEHOUSE_INVITE_URL_ALLOW_LIST: 'https://ok.example, javascript:alert(1)' }),
    ).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, GATEHOUSE_SMTP_URL: 'http://mail.example.com' })).toThrow(/GATEHOUSE_SMTP_URL/);
    const config = loadConfig(base);
    expect(config).toMatchObject({
      mailFrom: 'Gatehouse <no-reply@localhost>',
      smtpTimeout: 10_000,
      invitationTtl: 7 * 24 * 60 * 60 * 1000,
      inviteUrlAllowList: [],
    });
  });
});
