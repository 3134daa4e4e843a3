import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../../testing/gateway-server.js';
import { startSmtpServer, type TestSmtpServer } from '../../testing/smtp-server.js';
import { createTestServer, PUBLIC_URL, type TestServer } from '../../testing/test-server.js';
import { verifyWebhookSignature } from '../webhooks/index.js';

const MINUTE = 60_000;
const GATEWAY_SECRET = 'gateway-secret-gateway-secret-0123';
const ALLOWED = 'https://app.example.com/after';

let counter = 0;
const newEmail = () => `pwl${++counter}-${Date.now()}@example.com`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The claims of a JWT, unverified (the server verified it when it answered). */
function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
}

const linkToken = (text: string) => /[?&]token=([A-Za-z0-9_-]+)/.exec(text)?.[1] as string;
const codeIn = (text: string) => /\b(\d{6})\b/.exec(text)?.[1] as string;

let server: TestServer;
let smtp: TestSmtpServer;
let sms: TestGateway;
let push: TestGateway;
/** Every secret a test received, checked against the logs and the tables at the end. */
const secrets: string[] = [];

beforeAll(async () => {
  smtp = await startSmtpServer();
  sms = await startGateway();
  push = await startGateway();
  server = await createTestServer({
    GATEHOUSE_SMTP_URL: smtp.url,
    GATEHOUSE_SMS_WEBHOOK_URL: sms.url,
    GATEHOUSE_PUSH_WEBHOOK_URL: push.url,
    GATEHOUSE_MESSAGE_WEBHOOK_SECRET: GATEWAY_SECRET,
    GATEHOUSE_REDIRECT_ALLOW_LIST: 'https://app.example.com',
  });
});

afterAll(async () => {
  await server.close();
  await smtp.close();
  await sms.close();
  await push.close();
});

function post(url: string, payload: object, headers: Record<string, string> = {}) {
  return server.app.inject({ method: 'POST', url, payload, headers });
}

/** Requests a magic link and answers the token from the mail that arrives over SMTP. */
async function magicLink(email: string, extra: object = {}): Promise<string> {
  const response = await post('/auth/magic-link', { email, ...extra });
  expect(response.statusCode).toBe(204);
  await server.lifecycle.settled();
  await server.mailer.settled();
  const mail = await smtp.next();
  expect(mail.envelope.to).toEqual([email]);
  const token = linkToken(mail.parsed.text ?? '');
  expect(mail.parsed.text).toContain(`${PUBLIC_URL}/ui/magic-link?token=${token}`);
  expect(mail.parsed.html).toContain(`token=${token}`);
  secrets.push(token);
  return token;
}

/** Requests a code by e-mail and answers it from the mail that arrives. */
async function mailedCode(identifier: string, purpose: 'login' | 'activate'): Promise<string> {
  const response = await post('/auth/code/generate', { identifier, channel: 'email', purpose });
  expect(response.statusCode).toBe(204);
  await server.lifecycle.settled();
  await server.mailer.settled();
  const mail = await smtp.next();
  const code = codeIn(mail.parsed.text ?? '');
  expect(code).toMatch(/^\d{6}$/);
  expect(mail.parsed.subject).not.toContain(code);
  secrets.push(code);
  return code;
}

let adminToken: string | null = null;
async function setSignup(mode: 'open' | 'invite_only' | 'closed'): Promise<void> {
  adminToken ??= (await server.admin()).accessToken;
  const response = await server.app.inject({
    method: 'PATCH',
    url: '/projects/default/settings',
    headers: bearer(adminToken),
    payload: { signup: mode },
  });
  expect(response.statusCode).toBe(200);
}

async function outboxCount(to: string): Promise<number> {
  const rows = await server.database.db.selectFrom('outbox').select('id').where('to', '=', to).execute();
  return rows.length;
}

describe('magic link', () => {
  it('signs an existing user in exactly once with the link from the mail', async () => {
    const user = await server.user();
    const token = await magicLink(user.email);
    const verified = await post('/auth/magic-link/verify', { token });
    expect(verified.statusCode).toBe(200);
    const { data } = verified.json();
    expect(data).toEqual({ access_token: expect.any(String), refresh_token: expect.any(String), expires: 900_000 });
    expect(claimsOf(data.access_token)).toMatchObject({ sub: user.id, amr: ['email'] });
    const me = await server.app.inject({ method: 'GET', url: '/users/me', headers: bearer(data.access_token) });
    expect(me.json().data).toMatchObject({ id: user.id, email_verified: true });

    const again = await post('/auth/magic-link/verify', { token });
    expect(again.statusCode).toBe(403);
    expect(again.json().errors[0].extensions.code).toBe('INVALID_TOKEN');

    const login = await server.database.db
      .selectFrom('audit_events')
      .selectAll()
      .where('event', '=', 'auth.login')
      .where('subject_id', '=', user.id)
      .orderBy('seq', 'desc')
      .executeTakeFirstOrThrow();
    expect(JSON.parse(login.details)).toMatchObject({ method: 'magic_link', mode: 'json' });
  });

  it('answers an unknown e-mail exactly as a known one and, with open sign-up, creates the account on first use', async () => {
    const known = await server.user();
    const email = newEmail();
    const forKnown = await post('/auth/magic-link', { email: known.email });
    const forUnknown = await post('/auth/magic-link', { email });
    expect([forUnknown.statusCode, forUnknown.body]).toEqual([forKnown.statusCode, forKnown.body]);
    await server.lifecycle.settled();
    await server.mailer.settled();
    const mails = [await smtp.next(), await smtp.next()];
    const mail = mails.find((m) => m.envelope.to[0] === email);
    const token = linkToken(mail?.parsed.text ?? '');
    secrets.push(token, ...mails.map((m) => linkToken(m.parsed.text ?? '')));
    expect(await server.database.db.selectFrom('users').select('id').where('email', '=', email).execute()).toEqual([]);

    const verified = await post('/auth/magic-link/verify', { token, mode: 'session' }, { origin: PUBLIC_URL });
    expect(verified.statusCode).toBe(200);
    expect(verified.json().data).toEqual({ expires: expect.any(Number) });
    const cookie = verified.cookies.find((c) => c.name === 'gatehouse_session_token');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    const row = await server.database.db
      .selectFrom('users')
      .selectAll()
      .where('email', '=', email)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ password_hash: null, status: 'active', role: 'user' });
    expect(row.email_verified_at).not.toBeNull();
    // No password: password sign-in stays closed to it.
    expect((await server.login(email, 'anything at all')).statusCode).toBe(401);
  });

  it('sends nothing to an unknown e-mail when sign-up is invite-only or closed, and answers the same', async () => {
    for (const mode of ['invite_only', 'closed'] as const) {
      await setSignup(mode);
      const email = newEmail();
      const response = await post('/auth/magic-link', { email });
      expect([response.statusCode, response.body]).toEqual([204, '']);
      const code = await post('/auth/code/generate', { identifier: email, channel: 'email', purpose: 'login' });
      expect(code.statusCode).toBe(204);
      await server.lifecycle.settled();
      await server.mailer.settled();
      expect(await outboxCount(email)).toBe(0);
    }
    await setSignup('open');
  });

  it('checks redirect and url against the allow-list and gives the redirect back at verify', async () => {
    const user = await server.user();
    for (const payload of [
      { redirect: 'https://evil.example.com/after' },
      { redirect: 'https://app.example.com.evil.test/' },
      { redirect: 'javascript:alert(1)' },
      { url: 'https://evil.example.com/magic' },
    ]) {
      const response = await post('/auth/magic-link', { email: user.email, ...payload });
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      expect(response.json().errors[0].extensions.code).toBe('INVALID_PAYLOAD');
    }
    await server.lifecycle.settled();
    await server.mailer.settled();
    expect(await outboxCount(user.email)).toBe(0);

    const response = await post('/auth/magic-link', {
      email: user.email,
      redirect: ALLOWED,
      url: 'https://app.example.com/magic',
    });
    expect(response.statusCode).toBe(204);
    await server.lifecycle.settled();
    await server.mailer.settled();
    const mail = await smtp.next();
    expect(mail.parsed.text).toContain('https://app.example.com/magic?token=');
    const token = linkToken(mail.parsed.text ?? '');
    secrets.push(token);
    const verified = await post('/auth/magic-link/verify', { token, mode: 'cookie' }, { origin: PUBLIC_URL });
    expect(verified.statusCode).toBe(200);
    expect(verified.json().data).toMatchObject({ access_token: expect.any(String), redirect: ALLOWED });
    expect(verified.cookies.find((c) => c.name === 'gatehouse_refresh_token')).toMatchObject({ path: '/auth' });
  });

  it('expires after 15 minutes with TOKEN_EXPIRED', async () => {
    const user = await server.user();
    const token = await magicLink(user.email);
    server.clock.advance(15 * MINUTE + 1);
    const response = await post('/auth/magic-link/verify', { token });
    expect(response.statusCode).toBe(401);
    expect(response.json().errors[0].extensions.code).toBe('TOKEN_EXPIRED');
  });

  it('sends nothing to a suspended user and refuses a link they already had with USER_SUSPENDED', async () => {
    const user = await server.user();
    const token = await magicLink(user.email);
    await server.database.db.updateTable('users').set({ status: 'suspended' }).where('id', '=', user.id).execute();
    const response = await post('/auth/magic-link/verify', { token });
    expect(response.statusCode).toBe(401);
    expect(response.json().errors[0].extensions.code).toBe('USER_SUSPENDED');

    server.clock.advance(MINUTE);
    const before = await outboxCount(user.email);
    expect((await post('/auth/magic-link', { email: user.email })).statusCode).toBe(204);
    await server.lifecycle.settled();
    await server.mailer.settled();
    expect(await outboxCount(user.email)).toBe(before);
  });

  it('lets exactly one of parallel redemptions of one link sign in', async () => {
    const user = await server.user();
    const token = await magicLink(user.email);
    const responses = await Promise.all(Array.from({ length: 10 }, () => post('/auth/magic-link/verify', { token })));
    const statuses = responses.map((r) => r.statusCode).sort();
    expect(statuses).toEqual([200, ...Array(9).fill(403)]);
    const sessions = await server.database.db
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', user.id)
      .execute();
    expect(sessions).toHaveLength(2); // the test login and the one link
  });

  it('sends once per minute per address, even to parallel requests, and says nothing about it', async () => {
    const user = await server.user();
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => post('/auth/magic-link', { email: user.email })),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(8).fill(204));
    await server.lifecycle.settled();
    await server.mailer.settled();
    expect(await outboxCount(user.email)).toBe(1);
    secrets.push(linkToken((await smtp.next()).parsed.text ?? ''));
    server.clock.advance(59_000);
    expect((await post('/auth/magic-link', { email: user.email })).statusCode).toBe(204);
    await server.lifecycle.settled();
    await server.mailer.settled();
    expect(await outboxCount(user.email)).toBe(1);
    server.clock.advance(1_000);
    await magicLink(user.email);
    expect(await outboxCount(user.email)).toBe(2);
  });

  it('refuses a garbage token with INVALID_TOKEN and a bad body with INVALID_PAYLOAD', async () => {
    const garbage = await post('/auth/magic-link/verify', { token: 'not-a-token' });
    expect([garbage.statusCode, garbage.json().errors[0].extensions.code]).toEqual([403, 'INVALID_TOKEN']);
    for (const body of [{}, { email: 'nope' }, { email: 'a@example.com', extra: 1 }]) {
      const response = await post('/auth/magic-link', body);
      expect(response.statusCode).toBe(400);
    }
  });
});

describe('codes by e-mail', () => {
  it('activates: the code in the mail confirms the address once; check does not use it up', async () => {
    const user = await server.user();
    const code = await mailedCode(user.email, 'activate');
    const check = await post('/auth/code/check', { identifier: user.email, purpose: 'activate', code });
    expect(check.statusCode).toBe(204);
    const wrongPurpose = await post('/auth/code/check', { identifier: user.email, purpose: 'login', code });
    expect(wrongPurpose.json().errors[0].extensions.code).toBe('INVALID_OTP');
    const activated = await post('/auth/activate', { identifier: user.email.toUpperCase(), code });
    expect(activated.statusCode).toBe(204);
    const me = await server.app.inject({ method: 'GET', url: '/users/me', headers: bearer(user.accessToken) });
    expect(me.json().data.email_verified).toBe(true);
    const again = await post('/auth/activate', { identifier: user.email, code });
    expect([again.statusCode, again.json().errors[0].extensions.code]).toEqual([401, 'INVALID_OTP']);
  });

  it('signs in with a code (json mode) and creates the account for a new address when sign-up is open', async () => {
    const email = newEmail();
    const code = await mailedCode(email, 'login');
    const response = await post('/auth/code/login', { identifier: email, code });
    expect(response.statusCode).toBe(200);
    const { data } = response.json();
    expect(claimsOf(data.access_token)).toMatchObject({ amr: ['email', 'otp'] });
    const me = await server.app.inject({ method: 'GET', url: '/users/me', headers: bearer(data.access_token) });
    expect(me.json().data).toMatchObject({ email, email_verified: true, phone: null });
  });

  it('holds the limit of 5 tries under 20 parallel wrong guesses; then even the right code is refused', async () => {
    const user = await server.user();
    const code = await mailedCode(user.email, 'login');
    const wrong = (i: number) => String((Number(code) + 1 + i) % 1_000_000).padStart(6, '0');
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => post('/auth/code/login', { identifier: user.email, code: wrong(i) })),
    );
    const codes = responses.map((r) => r.json().errors[0].extensions.code);
    expect(codes.filter((c) => c === 'INVALID_OTP')).toHaveLength(5);
    expect(codes.filter((c) => c === 'TOO_MANY_ATTEMPTS')).toHaveLength(15);
    expect(responses.find((r) => r.statusCode === 429)).toBeDefined();
    const right = await post('/auth/code/login', { identifier: user.email, code });
    expect([right.statusCode, right.json().errors[0].extensions.code]).toEqual([429, 'TOO_MANY_ATTEMPTS']);
  });

  it('lets exactly one of parallel redemptions of one code succeed', async () => {
    const user = await server.user();
    const code = await mailedCode(user.email, 'login');
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => post('/auth/code/login', { identifier: user.email, code })),
    );
    expect(responses.filter((r) => r.statusCode === 200)).toHaveLength(1);
    for (const response of responses.filter((r) => r.statusCode !== 200)) {
      expect(['INVALID_OTP', 'TOO_MANY_ATTEMPTS']).toContain(response.json().errors[0].extensions.code);
    }
  });

  it('expires a code after 10 minutes, and a new code replaces the old one', async () => {
    const user = await server.user();
    const first = await mailedCode(user.email, 'login');
    server.clock.advance(MINUTE);
    const second = await mailedCode(user.email, 'login');
    if (first !== second) {
      const old = await post('/auth/code/check', { identifier: user.email, purpose: 'login', code: first });
      expect(old.json().errors[0].extensions.code).toBe('INVALID_OTP');
    }
    server.clock.advance(10 * MINUTE + 1);
    const late = await post('/auth/code/login', { identifier: user.email, code: second });
    expect([late.statusCode, late.json().errors[0].extensions.code]).toEqual([401, 'TOKEN_EXPIRED']);
  });

  it('refuses a code or link sent to an e-mail the account no longer has, and sends nothing to a suspended account', async () => {
    const user = await server.user();
    const code = await mailedCode(user.email, 'login');
    const token = await magicLink(user.email);
    const moved = newEmail();
    await server.database.db.updateTable('users').set({ email: moved }).where('id', '=', user.id).execute();
    const byCode = await post('/auth/code/login', { identifier: user.email, code });
    expect([byCode.statusCode, byCode.json().errors[0].extensions.code]).toEqual([401, 'INVALID_OTP']);
    const byLink = await post('/auth/magic-link/verify', { token });
    expect([byLink.statusCode, byLink.json().errors[0].extensions.code]).toEqual([403, 'INVALID_TOKEN']);

    await server.database.db.updateTable('users').set({ status: 'suspended' }).where('id', '=', user.id).execute();
    const response = await post('/auth/code/generate', { identifier: moved, channel: 'email', purpose: 'login' });
    expect([response.statusCode, response.body]).toEqual([204, '']);
    await server.lifecycle.settled();
    await server.mailer.settled();
    expect(await outboxCount(moved)).toBe(0);
  });

  it('answers unknown identifiers as known ones, sends them nothing, and refuses malformed requests', async () => {
    const user = await server.user();
    const unknown = newEmail();
    const a = await post('/auth/code/generate', { identifier: user.email, channel: 'email', purpose: 'activate' });
    const b = await post('/auth/code/generate', { identifier: unknown, channel: 'email', purpose: 'activate' });
    const c = await post('/auth/code/generate', { identifier: '+3725550000', channel: 'sms', purpose: 'login' });
    expect([a, b, c].map((r) => [r.statusCode, r.body])).toEqual([
      [204, ''],
      [204, ''],
      [204, ''],
    ]);
    await server.lifecycle.settled();
    await server.mailer.settled();
    secrets.push(codeIn((await smtp.next()).parsed.text ?? ''));
    expect(await outboxCount(unknown)).toBe(0);
    expect(await outboxCount('+3725550000')).toBe(0);
    const none = await post('/auth/code/check', { identifier: unknown, purpose: 'activate', code: '123456' });
    expect([none.statusCode, none.json().errors[0].extensions.code]).toEqual([401, 'INVALID_OTP']);
    for (const body of [
      { identifier: 'nobody', channel: 'email', purpose: 'login' },
      { identifier: user.email, channel: 'fax', purpose: 'login' },
      { identifier: user.email, channel: 'email', purpose: 'reset' },
      { identifier: user.email, channel: 'push', purpose: 'activate' },
    ]) {
      const response = await post('/auth/code/generate', body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.json().errors[0].extensions.code).toBe('INVALID_PAYLOAD');
    }
    const short = await post('/auth/code/login', { identifier: user.email, code: '12345' });
    expect(short.statusCode).toBe(400);
  });
});

describe('codes by SMS and push (webhook gateways)', () => {
  it('adds a phone with a code over SMS, then signs in by SMS code; requests are signed', async () => {
    const user = await server.user();
    const phone = `+37255${String(Date.now()).slice(-6)}`;
    expect(
      (
        await server.app.inject({
          method: 'POST',
          url: '/users/me/phone',
          headers: bearer(user.accessToken),
          payload: { phone },
        })
      ).statusCode,
    ).toBe(204);
    await server.lifecycle.settled();
    await server.mailer.settled();
    const request = await sms.next();
    expect(request.body).toMatchObject({ to: phone, purpose: 'verify_phone' });
    expect(request.headers['content-type']).toBe('application/json');
    expect(verifyWebhookSignature(GATEWAY_SECRET, request.headers, request.raw, server.clock.now())).toMatchObject({
      valid: true,
    });
    expect(
      verifyWebhookSignature('another-secret-another-secret', request.headers, request.raw, server.clock.now()).valid,
    ).toBe(false);
    const phoneCode = codeIn(request.body.text);
    secrets.push(phoneCode);

    // Not verified yet: the number is nobody's and cannot be used to sign in.
    const early = await post('/auth/code/generate', { identifier: phone, channel: 'sms', purpose: 'login' });
    expect(early.statusCode).toBe(204);
    await server.lifecycle.settled();
    await server.mailer.settled();
    expect(sms.received).toHaveLength(1);

    const verified = await server.app.inject({
      method: 'POST',
      url: '/users/me/phone/verify',
      headers: bearer(user.accessToken),
      payload: { code: phoneCode },
    });
    expect(verified.statusCode).toBe(200);
    expect(verified.json().data).toMatchObject({ id: user.id, phone });

    server.clock.advance(MINUTE);
    expect(
      (await post('/auth/code/generate', { identifier: phone, channel: 'sms', purpose: 'login' })).statusCode,
    ).toBe(204);
    await server.lifecycle.settled();
    await server.mailer.settled();
    const login = await sms.next();
    expect(login.body).toMatchObject({ to: phone, purpose: 'login' });
    const code = codeIn(login.body.text);
    secrets.push(code);
    const signedIn = await post('/auth/code/login', { identifier: phone, code });
    expect(signedIn.statusCode).toBe(200);
    expect(claimsOf(signedIn.json().data.access_token)).toMatchObject({ sub: user.id, amr: ['sms', 'otp'] });

    // The number is unique per project: another account cannot confirm it.
    const other = await server.user();
    await server.app.inject({
      method: 'POST',
      url: '/users/me/phone',
      headers: bearer(other.accessToken),
      payload: { phone },
    });
    await server.lifecycle.settled();
    await server.mailer.settled();
    const otherCode = codeIn((await sms.next()).body.text);
    secrets.push(otherCode);
    const taken = await server.app.inject({
      method: 'POST',
      url: '/users/me/phone/verify',
      headers: bearer(other.accessToken),
      payload: { code: otherCode },
    });
    expect([taken.statusCode, taken.json().errors[0].extensions.code]).toEqual([409, 'RECORD_NOT_UNIQUE']);
  });

  it('sends a push code to the user id for the account e-mail', async () => {
    const user = await server.user();
    expect(
      (await post('/auth/code/generate', { identifier: user.email, channel: 'push', purpose: 'login' })).statusCode,
    ).toBe(204);
    await server.lifecycle.settled();
    await server.mailer.settled();
    const request = await push.next();
    expect(request.body).toMatchObject({ to: user.id, purpose: 'login' });
    const code = codeIn(request.body.text);
    secrets.push(code);
    const response = await post(
      '/auth/code/login',
      { identifier: user.email, code, mode: 'cookie' },
      { origin: PUBLIC_URL },
    );
    expect(response.statusCode).toBe(200);
    expect(claimsOf(response.json().data.access_token)).toMatchObject({ amr: ['push', 'otp'] });
  });

  it('refuses phone routes to anonymous callers and wrong codes with INVALID_OTP', async () => {
    const user = await server.user();
    expect((await post('/users/me/phone', { phone: '+3725551234' })).statusCode).toBe(401);
    const wrong = await server.app.inject({
      method: 'POST',
      url: '/users/me/phone/verify',
      headers: bearer(user.accessToken),
      payload: { code: '000000' },
    });
    expect([wrong.statusCode, wrong.json().errors[0].extensions.code]).toEqual([401, 'INVALID_OTP']);
    const bad = await server.app.inject({
      method: 'POST',
      url: '/users/me/phone',
      headers: bearer(user.accessToken),
      payload: { phone: '5551234' },
    });
    expect(bad.statusCode).toBe(400);
  });
});

describe('templates', () => {
  it('renders codes and links from the project templates, and keeps secrets out of subjects', async () => {
    const admin = await server.admin();
    const put = (kind: string, body: object) =>
      server.app.inject({
        method: 'PUT',
        url: `/email-templates/${kind}`,
        headers: bearer(admin.accessToken),
        payload: body,
      });
    for (const [kind, variable] of [
      ['code', 'code'],
      ['magic_link', 'link'],
    ] as const) {
      const refused = await put(kind, {
        subject: `Here: {{${variable}}}`,
        text: `{{${variable}}}`,
        html: `{{${variable}}}`,
      });
      expect(refused.statusCode).toBe(400);
      expect(refused.json().errors[0].message).toContain(`may not contain the ${variable}`);
    }
    const stored = await put('code', { subject: 'Code', text: 'Kood {{code}} ({{action}})', html: '<p>{{code}}</p>' });
    expect(stored.statusCode).toBe(200);
    const user = await server.user();
    await post('/auth/code/generate', { identifier: user.email, channel: 'push', purpose: 'login' });
    await server.lifecycle.settled();
    await server.mailer.settled();
    const request = await push.next();
    expect(request.body.text).toMatch(/^Kood \d{6} \(sign in\)$/);
    secrets.push(codeIn(request.body.text));
    await server.app.inject({ method: 'DELETE', url: '/email-templates/code', headers: bearer(admin.accessToken) });
  });
});

describe('secrets at rest and in logs', () => {
  it('keeps no received link token or code in any table or log line', async () => {
    await server.lifecycle.settled();
    await server.mailer.settled();
    expect(secrets.length).toBeGreaterThan(10);
    const { db } = server.database;
    const tables = JSON.stringify([
      await db.selectFrom('one_time_tokens').selectAll().execute(),
      await db.selectFrom('users').selectAll().execute(),
      await db.selectFrom('audit_events').selectAll().execute(),
      await db.selectFrom('send_cooldowns').selectAll().execute(),
      // Delivered messages keep no body (see docs/mail.md); subjects never hold a secret.
      await db.selectFrom('outbox').selectAll().execute(),
    ]);
    const logs = server.logs();
    for (const secret of secrets) {
      // A code is six digits standing alone (not part of a longer number such as a timestamp).
      const pattern = /^\d{6}$/.test(secret) ? new RegExp(`(^|[^0-9])${secret}([^0-9]|$)`) : null;
      if (pattern) {
        expect(pattern.test(tables), `code ${secret} in a table`).toBe(false);
        expect(pattern.test(logs), `code ${secret} in the log`).toBe(false);
      } else {
        expect(tables).not.toContain(secret);
        expect(logs).not.toContain(secret);
      }
    }
  });
});
