import type { AuthenticationCredential, PasskeyRequestOptions } from '@gatehouse/protocol';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTotp } from '../../crypto/totp.js';
import {
  createTestServer,
  PUBLIC_URL,
  TEST_PASSWORD,
  type TestServer,
  type TestUser,
} from '../../testing/test-server.js';
import { SoftwareAuthenticator } from '../../testing/webauthn-authenticator.js';

/**
 * Passkeys and MFA: a passkey sign-in with user verification is MFA by itself, one without it is a first factor
 * like a password, and a passkey is a second step (`method: "webauthn"`) after any first factor.
 */

let server: TestServer;
let admin: TestUser;
/** Every secret a test was handed: none may appear in a table or a log line. */
const secrets: string[] = [];

beforeAll(async () => {
  server = await createTestServer();
  admin = await server.admin();
});
afterAll(async () => {
  await server.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const STEP = 30_000;
const device = (options: { userVerification?: boolean; backedUp?: boolean } = {}) =>
  new SoftwareAuthenticator({ origin: PUBLIC_URL, ...options });

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

function post(url: string, payload: unknown, headers: Record<string, string> = {}) {
  return server.app.inject({ method: 'POST', url, payload: payload as object, headers });
}

function expectCode(response: LightMyRequestResponse, status: number, code: string): void {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.json().errors[0].extensions.code).toBe(code);
}

function tokensOf(response: LightMyRequestResponse): { access_token: string; refresh_token: string } {
  expect(response.statusCode, response.body).toBe(200);
  const data = response.json().data;
  secrets.push(data.access_token, data.refresh_token);
  return data;
}

/** Registers a passkey of `authenticator` for the signed-in `token` (a user's access token or a setup token). */
async function registerPasskey(token: string, authenticator: SoftwareAuthenticator): Promise<void> {
  const options = await post('/users/me/passkeys/options', {}, bearer(token));
  expect(options.statusCode, options.body).toBe(200);
  secrets.push(options.json().data.challenge);
  const created = await post(
    '/users/me/passkeys',
    { credential: authenticator.register(options.json().data) },
    bearer(token),
  );
  expect(created.statusCode, created.body).toBe(201);
}

/** Enrols TOTP for `user` and answers the secret. */
async function withTotp(user: TestUser): Promise<string> {
  const started = await post('/users/me/mfa/totp', undefined, bearer(user.accessToken));
  expect(started.statusCode, started.body).toBe(200);
  const { id, secret } = started.json().data as { id: string; secret: string };
  const activated = await post(
    '/users/me/mfa/activate',
    { factor_id: id, code: generateTotp(secret, server.clock.now()) },
    bearer(user.accessToken),
  );
  expect(activated.statusCode, activated.body).toBe(200);
  secrets.push(secret, ...(activated.json().data.recovery_codes as string[]));
  server.clock.advance(STEP);
  return secret;
}

/** A user with a passkey of `authenticator` (and TOTP when asked). */
async function userWith(
  authenticator: SoftwareAuthenticator,
  options: { totp?: boolean } = {},
): Promise<TestUser & { secret?: string }> {
  const user = await server.user();
  await registerPasskey(user.accessToken, authenticator);
  if (!options.totp) return user;
  return { ...user, secret: await withTotp(user) };
}

async function passkeySignIn(authenticator: SoftwareAuthenticator): Promise<LightMyRequestResponse> {
  const options = await post('/auth/passkey/login/options', {});
  secrets.push(options.json().data.challenge);
  return post('/auth/passkey/login/verify', { credential: authenticator.assert(options.json().data) });
}

/** The INVALID_OTP extensions of a first factor that needs a second step. */
function secondStepOf(response: LightMyRequestResponse): { mfa_token: string; methods: string[]; default: string } {
  expectCode(response, 401, 'INVALID_OTP');
  const extensions = response.json().errors[0].extensions;
  secrets.push(extensions.mfa_token);
  return extensions;
}

async function webauthnOptions(mfaToken: string): Promise<PasskeyRequestOptions> {
  const response = await post('/auth/mfa/challenge', { mfa_token: mfaToken, method: 'webauthn' });
  expect(response.statusCode, response.body).toBe(200);
  expect(response.json().data.expires).toBe(300_000);
  const options = response.json().data.options as PasskeyRequestOptions;
  secrets.push(options.challenge);
  return options;
}

function verifyPasskey(mfaToken: string, credential: AuthenticationCredential, extra: Record<string, unknown> = {}) {
  return post('/auth/mfa/verify', { mfa_token: mfaToken, method: 'webauthn', credential, ...extra });
}

async function lastLogin(userId: string): Promise<Record<string, unknown>> {
  const row = await server.database.db
    .selectFrom('audit_events')
    .select('details')
    .where('event', '=', 'auth.login')
    .where('outcome', '=', 'success')
    .where('subject_id', '=', userId)
    .orderBy('seq', 'desc')
    .executeTakeFirstOrThrow();
  return JSON.parse(row.details);
}

async function setPolicy(mfa: string): Promise<void> {
  const response = await server.app.inject({
    method: 'PATCH',
    url: '/projects/default/settings',
    headers: bearer(admin.accessToken),
    payload: { mfa },
  });
  expect(response.statusCode, response.body).toBe(200);
}

describe('a passkey sign-in and the MFA gate', () => {
  it('with user verification is MFA by itself: an account with TOTP signs in without a second step', async () => {
    const authenticator = device();
    const user = await userWith(authenticator, { totp: true });
    const { access_token } = tokensOf(await passkeySignIn(authenticator));
    expect(claimsOf(access_token)).toMatchObject({ sub: user.id, amr: ['webauthn', 'hwk', 'user', 'mfa'] });
    expect(await lastLogin(user.id)).toMatchObject({ method: 'passkey' });
    // It counts as a sign-in with a second factor: the sensitive action that demands one is allowed.
    const off = await server.app.inject({
      method: 'DELETE',
      url: '/users/me/mfa',
      headers: bearer(access_token),
      payload: { password: TEST_PASSWORD },
    });
    expect(off.statusCode, off.body).toBe(204);
  });

  it('without user verification is one factor: an account with TOTP must take the second step', async () => {
    const authenticator = device({ userVerification: false });
    const user = await userWith(authenticator, { totp: true });
    const step = secondStepOf(await passkeySignIn(authenticator));
    expect(step.methods).toEqual(['totp', 'webauthn', 'recovery_code']);
    expect(step.default).toBe('totp');
    const done = await post('/auth/mfa/verify', {
      mfa_token: step.mfa_token,
      method: 'totp',
      code: generateTotp(user.secret as string, server.clock.now()),
    });
    expect(claimsOf(tokensOf(done).access_token).amr).toEqual(['webauthn', 'hwk', 'user', 'otp', 'mfa']);
    expect(await lastLogin(user.id)).toMatchObject({ method: 'passkey+totp' });
  });

  it('without user verification, a passkey second step must verify the user (the same possession twice is one factor)', async () => {
    const authenticator = device({ userVerification: false });
    const user = await userWith(authenticator, { totp: true });
    const step = secondStepOf(await passkeySignIn(authenticator));
    const options = await webauthnOptions(step.mfa_token);
    expect(options.userVerification).toBe('required');
    expectCode(await verifyPasskey(step.mfa_token, authenticator.assert(options)), 401, 'PASSKEY_INVALID');
    const again = await webauthnOptions(step.mfa_token);
    const done = await verifyPasskey(step.mfa_token, authenticator.assert(again, { userVerification: true }));
    expect(claimsOf(tokensOf(done).access_token).amr).toEqual(['webauthn', 'hwk', 'user', 'mfa']);
    expect(await lastLogin(user.id)).toMatchObject({ method: 'passkey+webauthn' });
  });

  it('without user verification signs in at once when the account has no MFA', async () => {
    const authenticator = device({ userVerification: false });
    await userWith(authenticator);
    expect(claimsOf(tokensOf(await passkeySignIn(authenticator)).access_token).amr).toEqual([
      'webauthn',
      'hwk',
      'user',
    ]);
  });
});

describe('a passkey as the second step (method "webauthn")', () => {
  it('finishes a password sign-in: options list the account’s passkeys, amr gets webauthn and mfa', async () => {
    const authenticator = device({ backedUp: true });
    const user = await userWith(authenticator, { totp: true });
    const step = secondStepOf(await server.login(user.email));
    expect(step.methods).toEqual(['totp', 'webauthn', 'recovery_code']);
    const options = await webauthnOptions(step.mfa_token);
    expect(options.allowCredentials?.map((credential) => credential.id)).toEqual([...authenticator.credentials.keys()]);
    const credential = authenticator.assert(options);
    const done = await verifyPasskey(step.mfa_token, credential);
    expect(claimsOf(tokensOf(done).access_token)).toMatchObject({
      sub: user.id,
      amr: ['pwd', 'webauthn', 'swk', 'user', 'mfa'],
    });
    expect(await lastLogin(user.id)).toMatchObject({ method: 'password+webauthn' });

    // The mfa_token is used up; the same assertion with a new sign-in is a replayed challenge.
    expectCode(await verifyPasskey(step.mfa_token, credential), 403, 'INVALID_TOKEN');
    const next = secondStepOf(await server.login(user.email));
    expectCode(await verifyPasskey(next.mfa_token, credential), 400, 'PASSKEY_CHALLENGE_INVALID');
  });

  it('answers cookies in the login’s mode and checks the Origin', async () => {
    const authenticator = device();
    const user = await userWith(authenticator, { totp: true });
    const step = secondStepOf(await server.login(user.email, TEST_PASSWORD, 'cookie'));
    const options = await webauthnOptions(step.mfa_token);
    const credential = authenticator.assert(options);
    const foreign = await post(
      '/auth/mfa/verify',
      { mfa_token: step.mfa_token, method: 'webauthn', credential },
      { origin: 'https://evil.example.com' },
    );
    expectCode(foreign, 403, 'FORBIDDEN');
    const done = await post(
      '/auth/mfa/verify',
      { mfa_token: step.mfa_token, method: 'webauthn', credential },
      { origin: PUBLIC_URL },
    );
    expect(done.statusCode, done.body).toBe(200);
    const cookie = done.cookies.find((c) => c.name === 'gatehouse_refresh_token');
    expect(cookie?.httpOnly).toBe(true);
    secrets.push(cookie?.value as string, done.json().data.access_token);
  });

  it('refuses another user’s passkey, a sign-in challenge, another sign-in’s challenge and a replay', async () => {
    const alices = device();
    const mallorys = device();
    const alice = await userWith(alices, { totp: true });
    const mallory = await userWith(mallorys, { totp: true });
    const step = secondStepOf(await server.login(alice.email));

    // Mallory's own passkey on Alice's challenge.
    const options = await webauthnOptions(step.mfa_token);
    const foreign = mallorys.assert(options, { credentialId: [...mallorys.credentials.keys()][0] });
    expectCode(await verifyPasskey(step.mfa_token, foreign), 401, 'PASSKEY_INVALID');

    // Alice's passkey answering a sign-in challenge, or the challenge of Mallory's second step.
    const signIn = (await post('/auth/passkey/login/options', {})).json().data as PasskeyRequestOptions;
    expectCode(await verifyPasskey(step.mfa_token, alices.assert(signIn)), 400, 'PASSKEY_CHALLENGE_INVALID');
    const mallorysStep = secondStepOf(await server.login(mallory.email));
    const mallorysOptions = await webauthnOptions(mallorysStep.mfa_token);
    const crossed = alices.assert({ ...mallorysOptions, allowCredentials: [] });
    expectCode(await verifyPasskey(step.mfa_token, crossed), 400, 'PASSKEY_CHALLENGE_INVALID');

    // None of it signed anyone in; the challenge burnt by Mallory's passkey is not usable again.
    expectCode(await verifyPasskey(step.mfa_token, alices.assert(options)), 400, 'PASSKEY_CHALLENGE_INVALID');
    const events = await server.database.db
      .selectFrom('audit_events')
      .select('details')
      .where('event', '=', 'auth.mfa')
      .where('subject_id', '=', alice.id)
      .where('outcome', '=', 'failure')
      .execute();
    expect(events.map((event) => JSON.parse(event.details).reason)).toEqual(
      expect.arrayContaining(['not_owner', 'challenge_unknown']),
    );
  });

  it('counts failed passkey answers against the mfa_token: 5 attempts, even in parallel', async () => {
    const authenticator = device();
    const user = await userWith(authenticator, { totp: true });
    const step = secondStepOf(await server.login(user.email));
    const options = await webauthnOptions(step.mfa_token);
    const wrong = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const signIn = (await post('/auth/passkey/login/options', {})).json().data as PasskeyRequestOptions;
        return verifyPasskey(step.mfa_token, authenticator.assert(signIn));
      }),
    );
    const codes = wrong.map((response) => response.json().errors[0].extensions.code);
    expect(codes.filter((code) => code === 'PASSKEY_CHALLENGE_INVALID')).toHaveLength(4);
    expect(codes.filter((code) => code === 'TOO_MANY_ATTEMPTS')).toHaveLength(2);
    // Out of tries: the right passkey on the challenge it was given is refused too.
    expectCode(await verifyPasskey(step.mfa_token, authenticator.assert(options)), 429, 'TOO_MANY_ATTEMPTS');
    const fresh = secondStepOf(await server.login(user.email));
    tokensOf(await verifyPasskey(fresh.mfa_token, authenticator.assert(await webauthnOptions(fresh.mfa_token))));
  });

  it('counts failed passkey answers towards the account lockout, under parallel requests across sign-ins', async () => {
    const authenticator = device();
    const user = await userWith(authenticator, { totp: true });
    // A new sign-in voids the earlier mfa_token, so the rounds come one after another, each fired in parallel.
    const wrong: LightMyRequestResponse[] = [];
    for (let round = 0; round < 3; round++) {
      const step = secondStepOf(await server.login(user.email));
      const answers = await Promise.all(
        Array.from({ length: 4 }, async () => {
          const signIn = (await post('/auth/passkey/login/options', {})).json().data as PasskeyRequestOptions;
          return verifyPasskey(step.mfa_token, authenticator.assert(signIn));
        }),
      );
      wrong.push(...answers);
    }
    const codes = wrong.map((response) => response.json().errors[0].extensions.code);
    expect(codes.filter((code) => code === 'PASSKEY_CHALLENGE_INVALID')).toHaveLength(10);
    expect(codes.filter((code) => code === 'REQUESTS_EXCEEDED')).toHaveLength(2);

    // Locked: the right passkey, and a right TOTP code, are refused with Retry-After until the backoff passes.
    const step = secondStepOf(await server.login(user.email));
    const locked = await verifyPasskey(step.mfa_token, authenticator.assert(await webauthnOptions(step.mfa_token)));
    expectCode(locked, 429, 'REQUESTS_EXCEEDED');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    server.clock.advance(31_000);
    const after = secondStepOf(await server.login(user.email));
    tokensOf(await verifyPasskey(after.mfa_token, authenticator.assert(await webauthnOptions(after.mfa_token))));
  });

  it('signs in once when one right answer is sent in parallel', async () => {
    const authenticator = device();
    const user = await userWith(authenticator, { totp: true });
    const step = secondStepOf(await server.login(user.email));
    const credential = authenticator.assert(await webauthnOptions(step.mfa_token));
    const answers = await Promise.all(Array.from({ length: 4 }, () => verifyPasskey(step.mfa_token, credential)));
    const ok = answers.filter((response) => response.statusCode === 200);
    expect(ok).toHaveLength(1);
    secrets.push(ok[0]?.json().data.access_token, ok[0]?.json().data.refresh_token);
    for (const refused of answers.filter((response) => response.statusCode !== 200)) {
      expect(['PASSKEY_CHALLENGE_INVALID', 'INVALID_TOKEN']).toContain(refused.json().errors[0].extensions.code);
    }
    const sessions = await server.database.db
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', user.id)
      .where('amr', 'like', '%webauthn%')
      .execute();
    expect(sessions).toHaveLength(1);
  });

  it('refuses a user suspended between the steps, and an expired mfa_token', async () => {
    const authenticator = device();
    const user = await userWith(authenticator, { totp: true });
    const step = secondStepOf(await server.login(user.email));
    const credential = authenticator.assert(await webauthnOptions(step.mfa_token));
    await server.database.db.updateTable('users').set({ status: 'suspended' }).where('id', '=', user.id).execute();
    expectCode(await verifyPasskey(step.mfa_token, credential), 401, 'INVALID_CREDENTIALS');
    await server.database.db.updateTable('users').set({ status: 'active' }).where('id', '=', user.id).execute();

    const late = secondStepOf(await server.login(user.email));
    const lateCredential = authenticator.assert(await webauthnOptions(late.mfa_token));
    server.clock.advance(5 * 60 * 1000 + 1);
    expectCode(await verifyPasskey(late.mfa_token, lateCredential), 401, 'TOKEN_EXPIRED');
    expectCode(
      await post('/auth/mfa/challenge', { mfa_token: late.mfa_token, method: 'webauthn' }),
      401,
      'TOKEN_EXPIRED',
    );
  });

  it('refuses a webauthn challenge to an account without passkeys, and a body that mixes code and credential', async () => {
    const user = await server.user();
    await withTotp(user);
    const step = secondStepOf(await server.login(user.email));
    expectCode(
      await post('/auth/mfa/challenge', { mfa_token: step.mfa_token, method: 'webauthn' }),
      400,
      'INVALID_PAYLOAD',
    );
    expect(step.methods).toEqual(['totp', 'recovery_code']);

    const authenticator = device();
    const other = await userWith(authenticator, { totp: true });
    const otherStep = secondStepOf(await server.login(other.email));
    const credential = authenticator.assert(await webauthnOptions(otherStep.mfa_token));
    for (const payload of [
      { mfa_token: otherStep.mfa_token, method: 'webauthn' },
      { mfa_token: otherStep.mfa_token, method: 'webauthn', credential, code: '123456' },
      { mfa_token: otherStep.mfa_token, method: 'totp', credential },
      { mfa_token: otherStep.mfa_token, method: 'webauthn', credential: { id: 'x' } },
    ]) {
      expectCode(await post('/auth/mfa/verify', payload), 400, 'INVALID_PAYLOAD');
    }
    // Malformed bodies cost no attempt: the right answer still signs in.
    tokensOf(await verifyPasskey(otherStep.mfa_token, credential));
  });
});

describe('the MFA requirement and passkeys', () => {
  it('under a required project, a passkey is a second factor: no setup demanded, the second step offers it', async () => {
    const authenticator = device();
    const user = await userWith(authenticator);
    await setPolicy('required');
    try {
      const step = secondStepOf(await server.login(user.email));
      expect(step.methods).toEqual(['webauthn']);
      expect(step.default).toBe('webauthn');
      const done = await verifyPasskey(step.mfa_token, authenticator.assert(await webauthnOptions(step.mfa_token)));
      expect(claimsOf(tokensOf(done).access_token).amr).toEqual(['pwd', 'webauthn', 'hwk', 'user', 'mfa']);

      // A passkey sign-in with user verification satisfies the requirement by itself.
      expect(claimsOf(tokensOf(await passkeySignIn(authenticator)).access_token).amr).toContain('mfa');
      const status = await server.app.inject({
        method: 'GET',
        url: '/users/me/mfa',
        headers: bearer(user.accessToken),
      });
      expect(status.json().data).toMatchObject({ required: true, enabled: false, passkeys: 1 });
    } finally {
      await setPolicy('optional');
    }
  });

  it('under a required role, a passkey sign-in without user verification still needs a verified passkey', async () => {
    const role = await post(
      '/roles',
      { name: `vault-${Date.now()}`, permissions: [], mfa_required: true },
      bearer(admin.accessToken),
    );
    expect(role.statusCode, role.body).toBe(201);
    const authenticator = device({ userVerification: false });
    const user = await userWith(authenticator);
    await server.database.db
      .updateTable('users')
      .set({ role: role.json().data.name })
      .where('id', '=', user.id)
      .execute();
    // The password alone is not enough now either.
    expect(secondStepOf(await server.login(user.email)).methods).toEqual(['webauthn']);
    const step = secondStepOf(await passkeySignIn(authenticator));
    expect(step.methods).toEqual(['webauthn']);
    const options = await webauthnOptions(step.mfa_token);
    expect(options.userVerification).toBe('required');
    const done = await verifyPasskey(step.mfa_token, authenticator.assert(options, { userVerification: true }));
    expect(claimsOf(tokensOf(done).access_token)).toMatchObject({
      sub: user.id,
      amr: ['webauthn', 'hwk', 'user', 'mfa'],
    });
  });

  it('lets an account told MFA_SETUP_REQUIRED register a passkey with the setup token', async () => {
    const user = await server.user();
    await setPolicy('required');
    try {
      const refused = await server.login(user.email);
      expectCode(refused, 403, 'MFA_SETUP_REQUIRED');
      const setupToken = refused.json().errors[0].extensions.setup_token as string;
      secrets.push(setupToken);
      const authenticator = device();
      await registerPasskey(setupToken, authenticator);
      // The setup token still admits nothing else.
      const list = await server.app.inject({ method: 'GET', url: '/users/me/passkeys', headers: bearer(setupToken) });
      expect(list.statusCode).toBe(403);
      const step = secondStepOf(await server.login(user.email));
      expect(step.methods).toEqual(['webauthn']);
      tokensOf(await verifyPasskey(step.mfa_token, authenticator.assert(await webauthnOptions(step.mfa_token))));
    } finally {
      await setPolicy('optional');
    }
  });

  it('does not turn the second step on for an account that is not required to have one', async () => {
    const authenticator = device();
    const user = await userWith(authenticator);
    const { access_token } = tokensOf(await server.login(user.email));
    expect(claimsOf(access_token).amr).toEqual(['pwd']);
  });
});

describe('secrets at rest and in logs', () => {
  it('stores and logs no mfa_token, challenge, token or code it handed out', async () => {
    expect(secrets.length).toBeGreaterThan(40);
    const { db } = server.database;
    const tables = await Promise.all(
      (
        [
          'webauthn_challenges',
          'passkeys',
          'one_time_tokens',
          'mfa_factors',
          'recovery_codes',
          'audit_events',
          'sessions',
          'refresh_tokens',
        ] as const
      ).map((table) => db.selectFrom(table).selectAll().execute()),
    );
    const dump = JSON.stringify(tables);
    const logs = server.logs();
    for (const secret of secrets.filter(Boolean)) {
      expect(dump.includes(secret), `stored: ${secret}`).toBe(false);
      expect(logs.includes(secret), `logged: ${secret}`).toBe(false);
    }
  });
});
