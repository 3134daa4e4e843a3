import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTotp } from '../../crypto/totp.js';
import { startSmtpServer, type TestSmtpServer } from '../../testing/smtp-server.js';
import {
  createTestServer,
  PUBLIC_URL,
  TEST_PASSWORD,
  type TestServer,
  type TestUser,
} from '../../testing/test-server.js';

let smtp: TestSmtpServer;
let server: TestServer;
/** Every secret a test was handed: none may appear in a table or a log line. */
const secrets: string[] = [];

beforeAll(async () => {
  smtp = await startSmtpServer();
  server = await createTestServer({ GATEHOUSE_SMTP_URL: smtp.url });
});
afterAll(async () => {
  await server.close();
  await smtp.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const STEP = 30_000;

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

function post(url: string, payload: unknown, token?: string) {
  return server.app.inject({ method: 'POST', url, payload: payload as object, headers: token ? bearer(token) : {} });
}

function login(email: string, extra: Record<string, unknown> = {}) {
  return post('/auth/login', { email, password: TEST_PASSWORD, ...extra });
}

/** The next step of the clock's TOTP window, so a fresh code is never one already accepted. */
function nextStep(): void {
  server.clock.advance(STEP);
}

/** Enrols TOTP for `user` and answers the secret and the recovery codes of the first activation. */
async function withTotp(user: TestUser): Promise<{ secret: string; recoveryCodes: string[] }> {
  const started = await post('/users/me/mfa/totp', undefined, user.accessToken);
  expect(started.statusCode, started.body).toBe(200);
  const { id, secret } = started.json().data as { id: string; secret: string };
  const activated = await post(
    '/users/me/mfa/activate',
    { factor_id: id, code: generateTotp(secret, server.clock.now()) },
    user.accessToken,
  );
  expect(activated.statusCode, activated.body).toBe(200);
  const recoveryCodes = (activated.json().data.recovery_codes ?? []) as string[];
  secrets.push(secret, ...recoveryCodes);
  nextStep();
  return { secret, recoveryCodes };
}

/** Signs in without a code and answers the mfa_token of the second step. */
async function mfaTokenOf(email: string): Promise<string> {
  const response = await login(email);
  expect(response.statusCode, response.body).toBe(401);
  const token = response.json().errors[0].extensions.mfa_token as string;
  secrets.push(token);
  return token;
}

function verify(payload: Record<string, unknown>) {
  return post('/auth/mfa/verify', payload);
}

describe('TOTP enrolment', () => {
  it('hands out a secret, an otpauth URI and an SVG QR code, and turns on only after one valid code', async () => {
    const user = await server.user();
    const started = await post('/users/me/mfa/totp', undefined, user.accessToken);
    expect(started.statusCode, started.body).toBe(200);
    const { id, secret, otpauth_url, qr_code } = started.json().data;
    secrets.push(secret);
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(otpauth_url);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.searchParams.get('secret')).toBe(secret);
    expect(decodeURIComponent(uri.pathname)).toContain(user.email);
    expect(qr_code).toMatch(/^data:image\/svg\+xml;base64,/);
    expect(Buffer.from(qr_code.split(',')[1], 'base64').toString('utf8')).toContain('<svg');

    // Not active yet: the password alone still signs in.
    expect((await login(user.email)).statusCode).toBe(200);
    const pending = await server.app.inject({ method: 'GET', url: '/users/me/mfa', headers: bearer(user.accessToken) });
    expect(pending.json().data).toMatchObject({ enabled: false, default: null, recovery_codes_remaining: 0 });
    expect(pending.json().data.factors).toMatchObject([{ id, type: 'totp', active: false }]);

    const wrong = await post('/users/me/mfa/activate', { factor_id: id, code: '000000' }, user.accessToken);
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().errors[0].extensions.code).toBe('INVALID_OTP');

    const code = generateTotp(secret, server.clock.now());
    const activated = await post('/users/me/mfa/activate', { factor_id: id, code }, user.accessToken);
    expect(activated.statusCode, activated.body).toBe(200);
    const { factor, recovery_codes } = activated.json().data;
    secrets.push(...recovery_codes);
    expect(factor).toMatchObject({ id, type: 'totp', active: true, is_default: true });
    expect(recovery_codes).toHaveLength(10);
    expect(new Set(recovery_codes).size).toBe(10);
    for (const recovery of recovery_codes) expect(recovery).toMatch(/^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/);

    const status = await server.app.inject({ method: 'GET', url: '/users/me/mfa', headers: bearer(user.accessToken) });
    expect(status.json().data).toMatchObject({ enabled: true, default: 'totp', recovery_codes_remaining: 10 });

    // A second TOTP factor is refused while one is active.
    const again = await post('/users/me/mfa/totp', undefined, user.accessToken);
    expect(again.statusCode).toBe(409);
  });

  it('refuses to activate a factor that is not the caller’s', async () => {
    const owner = await server.user();
    const mallory = await server.user();
    const started = await post('/users/me/mfa/totp', undefined, owner.accessToken);
    const { id, secret } = started.json().data;
    secrets.push(secret);
    const stolen = await post(
      '/users/me/mfa/activate',
      { factor_id: id, code: generateTotp(secret, server.clock.now()) },
      mallory.accessToken,
    );
    expect(stolen.statusCode).toBe(404);
    expect(stolen.json().errors[0].extensions.code).toBe('RECORD_NOT_FOUND');
  });
});

describe('sign-in with TOTP', () => {
  it('answers INVALID_OTP with an mfa_token, the methods and the default; verify finishes with amr', async () => {
    const user = await server.user();
    const { secret } = await withTotp(user);
    const response = await login(user.email);
    expect(response.statusCode).toBe(401);
    const error = response.json().errors[0];
    expect(error.extensions).toMatchObject({
      code: 'INVALID_OTP',
      methods: ['totp', 'recovery_code'],
      default: 'totp',
      expires: 300_000,
    });
    const mfaToken = error.extensions.mfa_token as string;
    secrets.push(mfaToken);
    expect(mfaToken).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const done = await verify({ mfa_token: mfaToken, method: 'totp', code: generateTotp(secret, server.clock.now()) });
    expect(done.statusCode, done.body).toBe(200);
    const { access_token, refresh_token, expires } = done.json().data;
    expect(typeof refresh_token).toBe('string');
    expect(expires).toBe(900_000);
    expect(claimsOf(access_token)).toMatchObject({ sub: user.id, amr: ['pwd', 'otp', 'mfa'] });
    const me = await server.app.inject({ method: 'GET', url: '/users/me', headers: bearer(access_token) });
    expect(me.statusCode).toBe(200);

    // The mfa_token is single-use.
    nextStep();
    const replay = await verify({
      mfa_token: mfaToken,
      method: 'totp',
      code: generateTotp(secret, server.clock.now()),
    });
    expect(replay.statusCode).toBe(403);
    expect(replay.json().errors[0].extensions.code).toBe('INVALID_TOKEN');
  });

  it('signs in at once with a valid otp in the login body (Directus), and refuses the same code again', async () => {
    const user = await server.user();
    const { secret } = await withTotp(user);
    const code = generateTotp(secret, server.clock.now());
    const first = await login(user.email, { otp: code });
    expect(first.statusCode, first.body).toBe(200);
    expect(claimsOf(first.json().data.access_token).amr).toEqual(['pwd', 'otp', 'mfa']);

    const replay = await login(user.email, { otp: code });
    expect(replay.statusCode).toBe(401);
    expect(replay.json().errors[0].extensions.code).toBe('INVALID_OTP');
    // Still within the code's own window: the next step's code works.
    nextStep();
    expect((await login(user.email, { otp: generateTotp(secret, server.clock.now()) })).statusCode).toBe(200);
    // A code of an earlier step than the last accepted one is refused, though it is within the window.
    const earlier = generateTotp(secret, server.clock.now() - STEP);
    expect((await login(user.email, { otp: earlier })).statusCode).toBe(401);
  });

  it('a wrong password with a right code answers INVALID_CREDENTIALS and does not use the code', async () => {
    const user = await server.user();
    const { secret } = await withTotp(user);
    const code = generateTotp(secret, server.clock.now());
    const wrong = await post('/auth/login', { email: user.email, password: 'not the password', otp: code });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().errors[0].extensions.code).toBe('INVALID_CREDENTIALS');
    expect(wrong.json().errors[0].extensions.mfa_token).toBeUndefined();
    expect((await login(user.email, { otp: code })).statusCode).toBe(200);
  });

  it('accepts one TOTP code exactly once under parallel submissions (login and verify)', async () => {
    const user = await server.user();
    const { secret } = await withTotp(user);
    const code = generateTotp(secret, server.clock.now());
    const logins = await Promise.all(Array.from({ length: 8 }, () => login(user.email, { otp: code })));
    expect(logins.filter((response) => response.statusCode === 200)).toHaveLength(1);
    expect(logins.filter((response) => response.statusCode === 401)).toHaveLength(7);

    nextStep();
    const mfaToken = await mfaTokenOf(user.email);
    const next = generateTotp(secret, server.clock.now());
    const verifies = await Promise.all(
      Array.from({ length: 6 }, () => verify({ mfa_token: mfaToken, method: 'totp', code: next })),
    );
    expect(verifies.filter((response) => response.statusCode === 200)).toHaveLength(1);
  });

  it('allows at most 5 attempts per mfa_token, even in parallel, after which a right code is refused', async () => {
    const user = await server.user();
    const { secret } = await withTotp(user);
    const mfaToken = await mfaTokenOf(user.email);
    const wrong = await Promise.all(
      Array.from({ length: 9 }, (_, i) => verify({ mfa_token: mfaToken, method: 'totp', code: `10000${i}` })),
    );
    const codes = wrong.map((response) => response.json().errors[0].extensions.code);
    expect(codes.filter((code) => code === 'INVALID_OTP')).toHaveLength(5);
    expect(codes.filter((code) => code === 'TOO_MANY_ATTEMPTS')).toHaveLength(4);
    const right = await verify({ mfa_token: mfaToken, method: 'totp', code: generateTotp(secret, server.clock.now()) });
    expect(right.statusCode).toBe(429);
    expect(right.json().errors[0].extensions.code).toBe('TOO_MANY_ATTEMPTS');
    // The password step can be done again; a right code then signs in.
    const fresh = await mfaTokenOf(user.email);
    const done = await verify({ mfa_token: fresh, method: 'totp', code: generateTotp(secret, server.clock.now()) });
    expect(done.statusCode, done.body).toBe(200);
  });

  it('locks the second step of an account after 10 wrong codes across challenges, with a growing backoff', async () => {
    const user = await server.user();
    const { secret } = await withTotp(user);
    let answers: number[] = [];
    for (let round = 0; round < 2; round++) {
      const mfaToken = await mfaTokenOf(user.email);
      const wrong = await Promise.all(
        Array.from({ length: 5 }, (_, i) => verify({ mfa_token: mfaToken, method: 'totp', code: `20000${i}` })),
      );
      answers = answers.concat(wrong.map((response) => response.statusCode));
    }
    expect(answers.filter((status) => status === 401)).toHaveLength(10);

    // Locked: even the right code, through a fresh challenge or in the login body, is refused with Retry-After.
    const locked = await verify({
      mfa_token: await mfaTokenOf(user.email),
      method: 'totp',
      code: generateTotp(secret, server.clock.now()),
    });
    expect(locked.statusCode).toBe(429);
    expect(locked.json().errors[0].extensions.code).toBe('REQUESTS_EXCEEDED');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(locked.headers['retry-after'])).toBeLessThanOrEqual(30);
    expect((await login(user.email, { otp: generateTotp(secret, server.clock.now()) })).statusCode).toBe(429);

    // After the lockout, 10 more wrong codes lock for longer (60 s).
    server.clock.advance(31_000);
    for (let round = 0; round < 2; round++) {
      const mfaToken = await mfaTokenOf(user.email);
      await Promise.all(
        Array.from({ length: 5 }, (_, i) => verify({ mfa_token: mfaToken, method: 'totp', code: `30000${i}` })),
      );
    }
    const again = await login(user.email, { otp: '123456' });
    expect(again.statusCode).toBe(429);
    expect(Number(again.headers['retry-after'])).toBeGreaterThan(30);
    server.clock.advance(61_000);
    expect((await login(user.email, { otp: generateTotp(secret, server.clock.now()) })).statusCode).toBe(200);
  });

  it('holds the account lockout under parallel wrong guesses across many challenges', async () => {
    const user = await server.user();
    await withTotp(user);
    const guesses = await Promise.all(
      Array.from({ length: 25 }, (_, i) => login(user.email, { otp: `4${String(i).padStart(5, '0')}` })),
    );
    const statuses = guesses.map((response) => response.statusCode);
    expect(statuses.filter((status) => status === 401)).toHaveLength(10);
    expect(statuses.filter((status) => status === 429)).toHaveLength(15);
  });
});

describe('other first factors', () => {
  it('a magic link is a first factor only: an account with MFA still passes the second step', async () => {
    const user = await server.user();
    const { secret } = await withTotp(user);
    const requested = await post('/auth/magic-link', { email: user.email });
    expect(requested.statusCode).toBe(204);
    await server.lifecycle.settled();
    await server.mailer.settled();
    const mail = await smtp.next();
    const token = /[?&]token=([A-Za-z0-9_-]+)/.exec(mail.parsed.text ?? '')?.[1] as string;
    secrets.push(token);
    const first = await post('/auth/magic-link/verify', { token });
    expect(first.statusCode, first.body).toBe(401);
    const { code, mfa_token, methods } = first.json().errors[0].extensions;
    expect(code).toBe('INVALID_OTP');
    expect(methods).toEqual(['totp', 'recovery_code']);
    secrets.push(mfa_token);
    const done = await verify({ mfa_token, method: 'totp', code: generateTotp(secret, server.clock.now()) });
    expect(done.statusCode, done.body).toBe(200);
    expect(claimsOf(done.json().data.access_token).amr).toEqual(['email', 'otp', 'mfa']);
    const login = await server.database.db
      .selectFrom('audit_events')
      .select('details')
      .where('event', '=', 'auth.login')
      .where('subject_id', '=', user.id)
      .orderBy('seq', 'desc')
      .executeTakeFirstOrThrow();
    expect(JSON.parse(login.details)).toMatchObject({ method: 'magic_link+totp' });
    nextStep();
  });
});

describe('recovery codes', () => {
  it('sign in once each, in parallel too, notify the owner, and a new set voids the old one', async () => {
    const user = await server.user();
    const { secret, recoveryCodes } = await withTotp(user);
    const [first, second, third] = recoveryCodes as [string, string, string];
    const mfaToken = await mfaTokenOf(user.email);
    const done = await verify({ mfa_token: mfaToken, method: 'recovery_code', code: first.toUpperCase() });
    expect(done.statusCode, done.body).toBe(200);
    expect(claimsOf(done.json().data.access_token).amr).toEqual(['pwd', 'mfa']);
    await server.mailer.settled();
    const notice = await smtp.next();
    expect(notice.envelope.to).toEqual([user.email]);
    expect(notice.parsed.subject).toBe('A recovery code was used for your localhost:4000 account');
    expect(notice.parsed.text).toContain('9 unused recovery codes are left');

    expect((await login(user.email, { otp: first })).statusCode).toBe(401);

    const parallel = await Promise.all(Array.from({ length: 6 }, () => login(user.email, { otp: second })));
    expect(parallel.filter((response) => response.statusCode === 200)).toHaveLength(1);
    await server.mailer.settled();
    await smtp.next();

    const regenerated = await post(
      '/users/me/mfa/recovery-codes',
      { otp: generateTotp(secret, server.clock.now()) },
      user.accessToken,
    );
    expect(regenerated.statusCode, regenerated.body).toBe(200);
    const fresh = regenerated.json().data.recovery_codes as string[];
    secrets.push(...fresh);
    expect(fresh).toHaveLength(10);
    expect((await login(user.email, { otp: third })).statusCode).toBe(401);
    expect((await login(user.email, { otp: fresh[0] })).statusCode).toBe(200);
    await server.mailer.settled();
    await smtp.next();
  });

  it('needs the password or a current code to make a new set', async () => {
    const user = await server.user();
    await withTotp(user);
    const none = await post('/users/me/mfa/recovery-codes', {}, user.accessToken);
    expect(none.statusCode).toBe(400);
    const wrong = await post('/users/me/mfa/recovery-codes', { password: 'wrong password!' }, user.accessToken);
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().errors[0].extensions.code).toBe('INVALID_CREDENTIALS');
    const right = await post('/users/me/mfa/recovery-codes', { password: TEST_PASSWORD }, user.accessToken);
    expect(right.statusCode).toBe(200);
    secrets.push(...right.json().data.recovery_codes);
  });
});

describe('e-mail codes', () => {
  async function codeFromMail(email: string): Promise<string> {
    await server.mailer.settled();
    const mail = await smtp.next();
    expect(mail.envelope.to).toEqual([email]);
    const match = /\b(\d{6})\b/.exec(mail.parsed.text ?? '');
    if (!match?.[1]) throw new Error(`no code in ${mail.parsed.text}`);
    secrets.push(match[1]);
    return match[1];
  }

  it("mail the code in the account's language when the project has a template for it", async () => {
    const admin = await server.admin();
    const german = {
      subject: 'Ihr Code für {{site}}',
      text: '{{code}} ist Ihr Code ({{minutes}} Minuten).\n',
      html: '<p>{{code}} ist Ihr Code ({{minutes}} Minuten).</p>',
    };
    const stored = await server.app.inject({
      method: 'PUT',
      url: '/email-templates/mfa_code?locale=de',
      headers: bearer(admin.accessToken),
      payload: german,
    });
    expect(stored.statusCode, stored.body).toBe(200);
    const user = await server.user();
    const patched = await server.app.inject({
      method: 'PATCH',
      url: '/users/me',
      headers: bearer(user.accessToken),
      payload: { language: 'de' },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect((await post('/users/me/mfa/email', undefined, user.accessToken)).statusCode).toBe(200);
    await server.mailer.settled();
    const mail = await smtp.next();
    expect(mail.parsed.subject).toBe('Ihr Code für localhost:4000');
    const code = /\b(\d{6})\b/.exec(mail.parsed.text ?? '')?.[1];
    expect(code).toBeDefined();
    secrets.push(code as string);
    const reset = await server.app.inject({
      method: 'DELETE',
      url: '/email-templates/mfa_code?locale=de',
      headers: bearer(admin.accessToken),
    });
    expect(reset.statusCode).toBe(204);
  });

  it('enrol with a mailed code, then sign in through challenge and verify', async () => {
    const user = await server.user();
    const started = await post('/users/me/mfa/email', undefined, user.accessToken);
    expect(started.statusCode, started.body).toBe(200);
    expect(started.json().data.expires).toBe(300_000);
    const enrolCode = await codeFromMail(user.email);
    const activated = await post(
      '/users/me/mfa/activate',
      { factor_id: started.json().data.id, code: enrolCode },
      user.accessToken,
    );
    expect(activated.statusCode, activated.body).toBe(200);
    secrets.push(...activated.json().data.recovery_codes);

    const response = await login(user.email);
    expect(response.json().errors[0].extensions).toMatchObject({
      methods: ['email', 'recovery_code'],
      default: 'email',
    });
    const mfaToken = response.json().errors[0].extensions.mfa_token as string;
    secrets.push(mfaToken);
    // Parallel challenges send one code: a second would end the first, and the mailed code would not work.
    const challenges = await Promise.all(
      [1, 2, 3].map(() => post('/auth/mfa/challenge', { mfa_token: mfaToken, method: 'email' })),
    );
    expect(challenges.map((answer) => answer.statusCode).sort()).toEqual([200, 429, 429]);
    const challenged = challenges.find((answer) => answer.statusCode === 200);
    expect(challenged?.json().data.expires).toBe(300_000);
    await server.mailer.settled();
    const mail = await smtp.next();
    expect(mail.parsed.subject).toBe('Your localhost:4000 sign-in code');
    const code = /\b(\d{6})\b/.exec(mail.parsed.text ?? '')?.[1] as string;
    secrets.push(code);

    // A second code within 30 s is refused.
    const tooSoon = await post('/auth/mfa/challenge', { mfa_token: mfaToken, method: 'email' });
    expect(tooSoon.statusCode).toBe(429);

    const done = await verify({ mfa_token: mfaToken, method: 'email', code, mode: 'json' });
    expect(done.statusCode, done.body).toBe(200);
    expect(claimsOf(done.json().data.access_token).amr).toEqual(['pwd', 'otp', 'mfa']);
    // The code works once.
    expect((await login(user.email, { otp: code })).statusCode).toBe(401);
  });

  it('expire after 5 minutes', async () => {
    const user = await server.user();
    const started = await post('/users/me/mfa/email', undefined, user.accessToken);
    const code = await codeFromMail(user.email);
    server.clock.advance(5 * 60 * 1000 + 1);
    const late = await post('/users/me/mfa/activate', { factor_id: started.json().data.id, code }, user.accessToken);
    expect(late.statusCode).toBe(401);
    expect(late.json().errors[0].extensions.code).toBe('INVALID_OTP');
  });
});

describe('the project and role requirement', () => {
  it('tells a user without a factor MFA_SETUP_REQUIRED, with a token that admits only enrolment', async () => {
    const admin = await server.admin();
    const user = await server.user();
    const patch = (mfa: string) =>
      server.app.inject({
        method: 'PATCH',
        url: '/projects/default/settings',
        headers: bearer(admin.accessToken),
        payload: { mfa },
      });
    expect((await patch('required')).statusCode).toBe(200);
    try {
      const response = await login(user.email);
      expect(response.statusCode).toBe(403);
      const { code, setup_token, expires } = response.json().errors[0].extensions;
      expect(code).toBe('MFA_SETUP_REQUIRED');
      expect(expires).toBe(600_000);
      secrets.push(setup_token);
      expect(claimsOf(setup_token)).toMatchObject({ sub: user.id, scope: 'mfa_enrollment' });

      for (const url of ['/users/me', '/users/me/sessions']) {
        const refused = await server.app.inject({ method: 'GET', url, headers: bearer(setup_token) });
        expect(refused.statusCode, url).toBe(403);
      }
      const status = await server.app.inject({ method: 'GET', url: '/users/me/mfa', headers: bearer(setup_token) });
      expect(status.json().data).toMatchObject({ enabled: false, required: true });
      const started = await post('/users/me/mfa/totp', undefined, setup_token);
      const { id, secret } = started.json().data;
      secrets.push(secret);
      const activated = await post(
        '/users/me/mfa/activate',
        { factor_id: id, code: generateTotp(secret, server.clock.now()) },
        setup_token,
      );
      expect(activated.statusCode, activated.body).toBe(200);
      secrets.push(...activated.json().data.recovery_codes);
      nextStep();
      const signedIn = await login(user.email, { otp: generateTotp(secret, server.clock.now()) });
      expect(signedIn.statusCode).toBe(200);

      // Required: MFA cannot be turned off.
      const off = await server.app.inject({
        method: 'DELETE',
        url: '/users/me/mfa',
        headers: bearer(signedIn.json().data.access_token),
        payload: { password: TEST_PASSWORD },
      });
      expect(off.statusCode).toBe(403);
      expect(off.json().errors[0].extensions.code).toBe('FORBIDDEN');
    } finally {
      expect((await patch('optional')).statusCode).toBe(200);
    }
  });

  it('requires MFA of a role that is flagged, and of admins under required_for_admins', async () => {
    const admin = await server.admin();
    const created = await server.app.inject({
      method: 'POST',
      url: '/roles',
      headers: bearer(admin.accessToken),
      payload: { name: 'finance', permissions: [], mfa_required: true },
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().data.mfa_required).toBe(true);
    const email = `fin-${Date.now()}@example.com`;
    await server.signup(email);
    await server.database.db.updateTable('users').set({ role: 'finance' }).where('email', '=', email).execute();
    const refused = await login(email);
    expect(refused.json().errors[0].extensions.code).toBe('MFA_SETUP_REQUIRED');
    const off = await server.app.inject({
      method: 'PATCH',
      url: `/roles/${created.json().data.id}`,
      headers: bearer(admin.accessToken),
      payload: { mfa_required: false },
    });
    expect(off.json().data.mfa_required).toBe(false);
    expect((await login(email)).statusCode).toBe(200);

    const settings = await server.app.inject({
      method: 'PATCH',
      url: '/projects/default/settings',
      headers: bearer(admin.accessToken),
      payload: { mfa: 'required_for_admins' },
    });
    expect(settings.statusCode).toBe(200);
    try {
      expect((await login(admin.email)).json().errors[0].extensions.code).toBe('MFA_SETUP_REQUIRED');
      expect((await login(email)).statusCode).toBe(200);
    } finally {
      const reset = await server.app.inject({
        method: 'PATCH',
        url: '/projects/default/settings',
        headers: bearer(admin.accessToken),
        payload: { mfa: 'optional' },
      });
      expect(reset.statusCode).toBe(200);
    }
  });
});

describe('managing factors and turning MFA off', () => {
  it('needs a recent sign-in with a second factor, and the password or a code', async () => {
    const user = await server.user();
    const { secret } = await withTotp(user);
    const headers = (token: string) => bearer(token);
    // The session opened before MFA was on has amr ["pwd"]: not enough.
    const pwdOnly = await server.app.inject({
      method: 'DELETE',
      url: '/users/me/mfa',
      headers: headers(user.accessToken),
      payload: { password: TEST_PASSWORD },
    });
    expect(pwdOnly.statusCode).toBe(403);
    expect(pwdOnly.json().errors[0].extensions.code).toBe('REAUTHENTICATION_REQUIRED');

    const signedIn = await login(user.email, { otp: generateTotp(secret, server.clock.now()) });
    const token = signedIn.json().data.access_token as string;
    server.clock.advance(11 * 60 * 1000);
    const stale = await server.app.inject({
      method: 'DELETE',
      url: '/users/me/mfa',
      headers: headers(token),
      payload: { password: TEST_PASSWORD },
    });
    expect(stale.statusCode).toBe(403);
    expect(stale.json().errors[0].extensions.code).toBe('REAUTHENTICATION_REQUIRED');

    const fresh = (await login(user.email, { otp: generateTotp(secret, server.clock.now()) })).json().data
      .access_token as string;
    const wrong = await server.app.inject({
      method: 'DELETE',
      url: '/users/me/mfa',
      headers: headers(fresh),
      payload: { password: 'not the password' },
    });
    expect(wrong.statusCode).toBe(401);
    const off = await server.app.inject({
      method: 'DELETE',
      url: '/users/me/mfa',
      headers: headers(fresh),
      payload: { password: TEST_PASSWORD },
    });
    expect(off.statusCode, off.body).toBe(204);
    expect((await login(user.email)).statusCode).toBe(200);
    const rows = await server.database.db
      .selectFrom('recovery_codes')
      .selectAll()
      .where('user_id', '=', user.id)
      .execute();
    expect(rows).toHaveLength(0);
  });

  it('chooses the default and removes one factor with proof', async () => {
    const user = await server.user();
    const { secret } = await withTotp(user);
    await post('/users/me/mfa/email', undefined, user.accessToken);
    await server.mailer.settled();
    const mail = await smtp.next();
    const code = /\b(\d{6})\b/.exec(mail.parsed.text ?? '')?.[1] as string;
    secrets.push(code);
    const status = await server.app.inject({ method: 'GET', url: '/users/me/mfa', headers: bearer(user.accessToken) });
    const emailFactor = status.json().data.factors.find((factor: { type: string }) => factor.type === 'email');
    const activated = await post('/users/me/mfa/activate', { factor_id: emailFactor.id, code }, user.accessToken);
    expect(activated.statusCode).toBe(200);
    expect(activated.json().data.recovery_codes).toBeUndefined();

    const setDefault = await server.app.inject({
      method: 'PUT',
      url: '/users/me/mfa/default',
      headers: bearer(user.accessToken),
      payload: { factor_id: emailFactor.id, otp: generateTotp(secret, server.clock.now()) },
    });
    expect(setDefault.statusCode, setDefault.body).toBe(204);
    expect((await login(user.email)).json().errors[0].extensions).toMatchObject({
      default: 'email',
      methods: ['totp', 'email', 'recovery_code'],
    });

    const mallory = await server.user();
    const foreign = await server.app.inject({
      method: 'DELETE',
      url: `/users/me/mfa/factors/${emailFactor.id}`,
      headers: bearer(mallory.accessToken),
      payload: { password: TEST_PASSWORD },
    });
    expect(foreign.statusCode).toBe(404);
    const removed = await server.app.inject({
      method: 'DELETE',
      url: `/users/me/mfa/factors/${emailFactor.id}`,
      headers: bearer(user.accessToken),
      payload: { password: TEST_PASSWORD },
    });
    expect(removed.statusCode, removed.body).toBe(204);
    expect((await login(user.email)).json().errors[0].extensions).toMatchObject({
      default: 'totp',
      methods: ['totp', 'recovery_code'],
    });
  });
});

describe('concurrency of enrolment', () => {
  it('gives recovery codes to exactly one of two parallel first activations, and keeps one set under parallel renewals', async () => {
    const user = await server.user();
    const totp = (await post('/users/me/mfa/totp', undefined, user.accessToken)).json().data;
    secrets.push(totp.secret);
    const email = (await post('/users/me/mfa/email', undefined, user.accessToken)).json().data;
    await server.mailer.settled();
    const code = /\b(\d{6})\b/.exec((await smtp.next()).parsed.text ?? '')?.[1] as string;
    secrets.push(code);
    const [a, b] = await Promise.all([
      post(
        '/users/me/mfa/activate',
        { factor_id: totp.id, code: generateTotp(totp.secret, server.clock.now()) },
        user.accessToken,
      ),
      post('/users/me/mfa/activate', { factor_id: email.id, code }, user.accessToken),
    ]);
    expect([a?.statusCode, b?.statusCode]).toEqual([200, 200]);
    const sets = [a, b].map((response) => response?.json().data.recovery_codes).filter(Boolean);
    expect(sets).toHaveLength(1);
    secrets.push(...sets[0]);
    const defaults = [a, b].filter((response) => response?.json().data.factor.is_default);
    expect(defaults).toHaveLength(1);
    const count = async () =>
      (await server.database.db.selectFrom('recovery_codes').select('id').where('user_id', '=', user.id).execute())
        .length;
    expect(await count()).toBe(10);

    const renewed = await Promise.all(
      Array.from({ length: 4 }, () =>
        post('/users/me/mfa/recovery-codes', { password: TEST_PASSWORD }, user.accessToken),
      ),
    );
    expect(renewed.map((response) => response.statusCode)).toEqual([200, 200, 200, 200]);
    for (const response of renewed) secrets.push(...response.json().data.recovery_codes);
    expect(await count()).toBe(10);
    nextStep();
  });
});

describe('cookie mode', () => {
  it('finishes a cookie-mode sign-in through verify with the refresh cookie, and checks the Origin', async () => {
    const user = await server.user();
    const { secret } = await withTotp(user);
    const started = await server.app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { origin: PUBLIC_URL },
      payload: { email: user.email, password: TEST_PASSWORD, mode: 'cookie' },
    });
    expect(started.statusCode).toBe(401);
    const mfaToken = started.json().errors[0].extensions.mfa_token as string;
    secrets.push(mfaToken);
    const code = generateTotp(secret, server.clock.now());
    const foreign = await server.app.inject({
      method: 'POST',
      url: '/auth/mfa/verify',
      headers: { origin: 'https://evil.example.com' },
      payload: { mfa_token: mfaToken, method: 'totp', code },
    });
    expect(foreign.statusCode).toBe(403);
    expect(foreign.json().errors[0].extensions.code).toBe('FORBIDDEN');
    // No mode named: the login's (cookie) applies.
    const done = await server.app.inject({
      method: 'POST',
      url: '/auth/mfa/verify',
      headers: { origin: PUBLIC_URL },
      payload: { mfa_token: mfaToken, method: 'totp', code },
    });
    expect(done.statusCode, done.body).toBe(200);
    expect(done.json().data.refresh_token).toBeUndefined();
    const cookie = done.cookies.find((c) => c.name === 'gatehouse_refresh_token');
    expect(cookie?.httpOnly).toBe(true);
    secrets.push(cookie?.value as string);
    expect(claimsOf(done.json().data.access_token).amr).toEqual(['pwd', 'otp', 'mfa']);
  });
});

describe('impersonation', () => {
  it('cannot enrol or change factors for the user', async () => {
    const admin = await server.admin();
    const user = await server.user();
    const issued = await post(`/users/${user.id}/impersonate`, {}, admin.accessToken);
    expect(issued.statusCode, issued.body).toBe(200);
    const token = issued.json().data.access_token as string;
    for (const url of ['/users/me/mfa/totp', '/users/me/mfa/email', '/users/me/mfa/recovery-codes']) {
      const response = await post(url, url.endsWith('codes') ? { password: TEST_PASSWORD } : undefined, token);
      expect(response.statusCode, url).toBe(403);
    }
    expect((await server.app.inject({ method: 'GET', url: '/users/me/mfa', headers: bearer(token) })).statusCode).toBe(
      200,
    );
  });
});

describe('bad input', () => {
  it('answers 4xx to garbage on the public routes, never 500', async () => {
    for (const url of ['/auth/mfa/challenge', '/auth/mfa/verify']) {
      for (const payload of [{}, { mfa_token: 1 }, { mfa_token: 'x', method: 'sms' }, 'null', '[]']) {
        const response = await server.app.inject({
          method: 'POST',
          url,
          payload: payload as object,
          headers: { 'content-type': 'application/json' },
        });
        expect(response.statusCode, `${url} ${JSON.stringify(payload)}`).toBe(400);
      }
    }
    const unknown = await verify({ mfa_token: 'not-a-token', method: 'totp', code: '123456' });
    expect(unknown.statusCode).toBe(403);
    expect(unknown.json().errors[0].extensions.code).toBe('INVALID_TOKEN');
    const cookie = await server.app.inject({
      method: 'POST',
      url: '/auth/mfa/verify',
      headers: { origin: 'https://evil.example.com' },
      payload: { mfa_token: 'x', method: 'totp', code: '123456', mode: 'cookie' },
    });
    expect(cookie.statusCode).toBe(403);
    expect(PUBLIC_URL).toBeTruthy();
  });
});

describe('secrets at rest and in logs', () => {
  it('stores no TOTP secret, code, recovery code or mfa_token in plaintext, and logs none', async () => {
    await server.mailer.settled();
    expect(secrets.length).toBeGreaterThan(30);
    const { db } = server.database;
    const tables = await Promise.all(
      (
        [
          'mfa_factors',
          'recovery_codes',
          'one_time_tokens',
          'mfa_lockouts',
          'outbox',
          'audit_events',
          'sessions',
        ] as const
      ).map((table) => db.selectFrom(table).selectAll().execute()),
    );
    const dump = JSON.stringify(tables);
    const logs = server.logs();
    // A 6-digit code is looked for as a number of its own: the millisecond timestamps in the tables and logs are full
    // of 6-digit runs, so a plain substring search fails by chance now and then without any code being stored.
    const holds = (text: string, secret: string) =>
      /^\d+$/.test(secret) ? new RegExp(`(?<!\\d)${secret}(?!\\d)`).test(text) : text.includes(secret);
    for (const secret of secrets) {
      expect(holds(dump, secret), `stored: ${secret}`).toBe(false);
      expect(holds(logs, secret), `logged: ${secret}`).toBe(false);
      // Recovery codes also not without their dashes.
      if (secret.includes('-') && secret.length === 14) expect(dump.includes(secret.replaceAll('-', ''))).toBe(false);
    }
  });
});
