import type { PasskeyCreationOptions, PasskeyRequestOptions } from '@gatehouse/protocol';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.js';
import { createTestServer, PUBLIC_URL, type TestServer, type TestUser } from '../../testing/test-server.js';
import {
  type AssertionOverrides,
  type CeremonyOverrides,
  SoftwareAuthenticator,
} from '../../testing/webauthn-authenticator.js';

const EXTRA_ORIGIN = 'https://app.localhost:5173';
const FIVE_MINUTES = 5 * 60 * 1000;
const CHROME_ON_MAC =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const ICLOUD_KEYCHAIN = 'fbfc3007-154e-4ecc-8c0b-6e020557d7bd';

let server: TestServer;

beforeAll(async () => {
  server = await createTestServer({ GATEHOUSE_WEBAUTHN_ORIGINS: EXTRA_ORIGIN });
});
afterAll(async () => {
  await server.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const device = (options: Partial<ConstructorParameters<typeof SoftwareAuthenticator>[0]> = {}) =>
  new SoftwareAuthenticator({ origin: PUBLIC_URL, ...options });

async function creationOptions(user: TestUser): Promise<PasskeyCreationOptions> {
  const response = await server.app.inject({
    method: 'POST',
    url: '/users/me/passkeys/options',
    headers: bearer(user.accessToken),
  });
  expect(response.statusCode, response.body).toBe(200);
  return response.json().data;
}

function finishRegistration(user: TestUser, payload: Record<string, unknown>, userAgent = CHROME_ON_MAC) {
  return server.app.inject({
    method: 'POST',
    url: '/users/me/passkeys',
    headers: { ...bearer(user.accessToken), 'user-agent': userAgent },
    payload,
  });
}

/** Registers a passkey of `authenticator` for `user`; answers the stored passkey. */
async function registered(
  user: TestUser,
  authenticator: SoftwareAuthenticator,
  extra: { name?: string; overrides?: CeremonyOverrides } = {},
): Promise<{ id: string; name: string; backed_up: boolean }> {
  const options = await creationOptions(user);
  const credential = authenticator.register(options, extra.overrides);
  const response = await finishRegistration(user, { credential, ...(extra.name ? { name: extra.name } : {}) });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().data;
}

async function loginOptions(payload: Record<string, unknown> = {}): Promise<PasskeyRequestOptions> {
  const response = await server.app.inject({ method: 'POST', url: '/auth/passkey/login/options', payload });
  expect(response.statusCode, response.body).toBe(200);
  return response.json().data;
}

function verify(payload: Record<string, unknown>, headers: Record<string, string> = {}) {
  return server.app.inject({ method: 'POST', url: '/auth/passkey/login/verify', headers, payload });
}

async function signIn(
  authenticator: SoftwareAuthenticator,
  overrides: AssertionOverrides = {},
  mode?: 'json' | 'cookie' | 'session',
): Promise<LightMyRequestResponse> {
  const credential = authenticator.assert(await loginOptions(), overrides);
  return verify(mode ? { credential, mode } : { credential }, mode && mode !== 'json' ? { origin: PUBLIC_URL } : {});
}

function expectCode(response: LightMyRequestResponse, status: number, code: string): void {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.json().errors[0].extensions.code).toBe(code);
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
}

async function eventsOf(event: string, subjectId: string) {
  return server.database.db
    .selectFrom('audit_events')
    .selectAll()
    .where('event', '=', event)
    .where('subject_id', '=', subjectId)
    .orderBy('seq', 'asc')
    .execute();
}

async function listOf(user: TestUser) {
  const response = await server.app.inject({
    method: 'GET',
    url: '/users/me/passkeys',
    headers: bearer(user.accessToken),
  });
  expect(response.statusCode, response.body).toBe(200);
  return response.json().data as { id: string; name: string; last_used_at: string | null; backed_up: boolean }[];
}

describe('registering passkeys', () => {
  it('registers several passkeys per user, named from the authenticator or the browser, and lists them', async () => {
    const user = await server.user();
    const laptop = device();
    const phone = device({ aaguid: ICLOUD_KEYCHAIN, backedUp: true });

    const options = await creationOptions(user);
    expect(options.rp).toEqual({ id: 'localhost', name: 'Gatehouse' });
    expect(options.user.name).toBe(user.email);
    expect(options.authenticatorSelection).toMatchObject({ residentKey: 'required', userVerification: 'preferred' });
    expect(options.timeout).toBe(FIVE_MINUTES);
    expect(options.attestation).toBe('none');
    expect(options.pubKeyCredParams.map((param) => param.alg)).toEqual([-8, -7, -257]);
    expect(options.extensions).toEqual({ credProps: true });
    expect(options.authenticatorSelection).toMatchObject({ requireResidentKey: true });
    expect(Buffer.from(options.user.id, 'base64url').toString('utf8')).toBe(user.id);
    const first = await finishRegistration(user, { credential: laptop.register(options) });
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json().data).toMatchObject({ name: 'Chrome on Mac', backed_up: false, last_used_at: null });

    server.clock.advance(1);
    const second = await registered(user, phone);
    server.clock.advance(1);
    expect(second).toMatchObject({ name: 'iCloud Keychain', backed_up: true });
    const third = await registered(user, device(), { name: 'Work YubiKey' });
    expect(third.name).toBe('Work YubiKey');

    const list = await listOf(user);
    expect(list.map((passkey) => passkey.name)).toEqual(['Chrome on Mac', 'iCloud Keychain', 'Work YubiKey']);
    // The next ceremony excludes what is already registered, so the same authenticator is not added twice.
    const next = await creationOptions(user);
    const excluded = next.excludeCredentials?.map((descriptor) => descriptor.id) ?? [];
    expect(excluded).toHaveLength(3);
    expect(excluded).toEqual(expect.arrayContaining([...laptop.credentials.keys(), ...phone.credentials.keys()]));
    const registeredEvents = await eventsOf('passkey.registered', user.id);
    expect(registeredEvents).toHaveLength(3);
    expect(JSON.parse(registeredEvents[1]?.details ?? '{}')).toMatchObject({
      aaguid: ICLOUD_KEYCHAIN,
      backed_up: true,
    });
  });

  it('refuses a replayed registration, and parallel answers to one challenge register once', async () => {
    const user = await server.user();
    const options = await creationOptions(user);
    const credential = device().register(options);
    const answers = await Promise.all(Array.from({ length: 5 }, () => finishRegistration(user, { credential })));
    expect(answers.map((answer) => answer.statusCode).sort()).toEqual([201, 400, 400, 400, 400]);
    for (const answer of answers.filter((a) => a.statusCode === 400)) {
      expect(answer.json().errors[0].extensions.code).toBe('PASSKEY_CHALLENGE_INVALID');
    }
    expectCode(await finishRegistration(user, { credential }), 400, 'PASSKEY_CHALLENGE_INVALID');
    expect(await listOf(user)).toHaveLength(1);
  });

  it('registers a credential once per project, also when it comes back with new challenges in parallel', async () => {
    const alice = await server.user();
    const mallory = await server.user();
    const first = device().register(await creationOptions(alice));
    expect((await finishRegistration(alice, { credential: first })).statusCode).toBe(201);
    // `none` attestation signs nothing, so the same attestation object can be sent with any new challenge.
    const withNewChallenge = async (credential: typeof first, user: TestUser) => {
      const { challenge } = await creationOptions(user);
      const clientData = { type: 'webauthn.create', challenge, origin: PUBLIC_URL };
      const clientDataJSON = Buffer.from(JSON.stringify(clientData)).toString('base64url');
      return { ...credential, response: { ...credential.response, clientDataJSON } };
    };
    const again = (credential: typeof first, user: TestUser) =>
      withNewChallenge(credential, user).then((resent) => finishRegistration(user, { credential: resent }));
    expectCode(await again(first, mallory), 409, 'RECORD_NOT_UNIQUE');
    expectCode(await again(first, alice), 409, 'RECORD_NOT_UNIQUE');

    const twin = device().register(await creationOptions(alice));
    const answers = await Promise.all([again(twin, alice), again(twin, mallory), again(twin, alice)]);
    expect(answers.map((answer) => answer.statusCode).sort()).toEqual([201, 409, 409]);
    const rows = await server.database.db
      .selectFrom('passkeys')
      .select('user_id')
      .where('credential_id', 'in', [first.id, twin.id])
      .execute();
    // One row per credential: the first registration of `first` (Alice's) and one winner for `twin`.
    expect(rows).toHaveLength(2);
    expect(rows.filter((row) => row.user_id === alice.id).length).toBeGreaterThanOrEqual(1);
  });

  it('binds the challenge to the user it was issued to', async () => {
    const alice = await server.user();
    const mallory = await server.user();
    const credential = device().register(await creationOptions(alice));
    expectCode(await finishRegistration(mallory, { credential }), 400, 'PASSKEY_CHALLENGE_INVALID');
    expect(await listOf(mallory)).toHaveLength(0);
    // Not burnt by the foreign attempt: the challenge still serves its own user.
    expect((await finishRegistration(alice, { credential })).statusCode).toBe(201);
  });

  it('refuses a challenge older than five minutes', async () => {
    const user = await server.user();
    const credential = device().register(await creationOptions(user));
    server.clock.advance(FIVE_MINUTES + 1);
    const fresh = await server.login(user.email);
    expectCode(
      await finishRegistration({ ...user, accessToken: fresh.json().data.access_token }, { credential }),
      400,
      'PASSKEY_CHALLENGE_EXPIRED',
    );
  });

  it('refuses a wrong origin, a wrong relying party, a sign-in challenge and a forged type', async () => {
    const user = await server.user();
    const cases: [CeremonyOverrides, string][] = [
      [{ origin: 'https://evil.example' }, 'PASSKEY_REGISTRATION_INVALID'],
      [{ rpId: 'evil.example' }, 'PASSKEY_REGISTRATION_INVALID'],
      [{ type: 'webauthn.get' }, 'PASSKEY_REGISTRATION_INVALID'],
      [{ userPresence: false }, 'PASSKEY_REGISTRATION_INVALID'],
    ];
    for (const [overrides, code] of cases) {
      const credential = device().register(await creationOptions(user), overrides);
      expectCode(await finishRegistration(user, { credential }), 400, code);
    }
    const signInChallenge = (await loginOptions()).challenge;
    const credential = device().register(await creationOptions(user), { challenge: signInChallenge });
    expectCode(await finishRegistration(user, { credential }), 400, 'PASSKEY_CHALLENGE_INVALID');
    // An origin from GATEHOUSE_WEBAUTHN_ORIGINS is accepted.
    expect((await registered(user, device({ origin: EXTRA_ORIGIN }))).name).toBe('Chrome on Mac');
    expect(await listOf(user)).toHaveLength(1);
  });

  it('answers 4xx with a code to malformed bodies', async () => {
    const user = await server.user();
    const bodies: unknown[] = [
      {},
      { credential: {} },
      { credential: 'x' },
      { credential: { id: 'a', rawId: 'a', type: 'public-key', response: {}, clientExtensionResults: {} } },
      {
        credential: {
          id: 'abc',
          rawId: 'abc',
          type: 'public-key',
          response: { clientDataJSON: 'bm90LWpzb24', attestationObject: 'AAAA' },
          clientExtensionResults: {},
        },
      },
      {
        credential: {
          id: 'abc',
          rawId: 'abc',
          type: 'public-key',
          response: {
            clientDataJSON: Buffer.from(JSON.stringify({ challenge: 'nope', type: 'webauthn.create' })).toString(
              'base64url',
            ),
            attestationObject: 'AAAA',
          },
          clientExtensionResults: {},
        },
      },
    ];
    for (const payload of bodies) {
      const response = await finishRegistration(user, payload as Record<string, unknown>);
      expect(response.statusCode, response.body).toBeGreaterThanOrEqual(400);
      expect(response.statusCode, response.body).toBeLessThan(500);
      expect(response.json().errors[0].extensions.code).toMatch(/^(INVALID_PAYLOAD|PASSKEY_)/);
    }
    const options = await creationOptions(user);
    const good = device().register(options);
    const garbled = { ...good, response: { ...good.response, attestationObject: 'AAAA' } };
    expectCode(await finishRegistration(user, { credential: garbled }), 400, 'PASSKEY_REGISTRATION_INVALID');
  });

  it('refuses registration to an admin acting as the user', async () => {
    const admin = await server.admin();
    const user = await server.user();
    const impersonated = await server.app.inject({
      method: 'POST',
      url: `/users/${user.id}/impersonate`,
      headers: bearer(admin.accessToken),
    });
    expect(impersonated.statusCode, impersonated.body).toBe(200);
    const token = impersonated.json().data.access_token as string;
    const response = await server.app.inject({
      method: 'POST',
      url: '/users/me/passkeys/options',
      headers: bearer(token),
    });
    expectCode(response, 403, 'FORBIDDEN');
  });
});

describe('managing passkeys', () => {
  it('renames and deletes only the caller’s own passkeys', async () => {
    const alice = await server.user();
    const mallory = await server.user();
    const passkey = await registered(alice, device());
    const rename = (user: TestUser, id: string, name: unknown) =>
      server.app.inject({
        method: 'PATCH',
        url: `/users/me/passkeys/${id}`,
        headers: bearer(user.accessToken),
        payload: { name },
      });
    const remove = (user: TestUser, id: string) =>
      server.app.inject({ method: 'DELETE', url: `/users/me/passkeys/${id}`, headers: bearer(user.accessToken) });

    expectCode(await rename(mallory, passkey.id, 'mine now'), 404, 'RECORD_NOT_FOUND');
    expectCode(await remove(mallory, passkey.id), 404, 'RECORD_NOT_FOUND');
    expectCode(await rename(alice, 'not-a-uuid', 'x'), 404, 'RECORD_NOT_FOUND');
    expectCode(await rename(alice, passkey.id, ''), 400, 'INVALID_PAYLOAD');
    expectCode(await rename(alice, passkey.id, 'x'.repeat(65)), 400, 'INVALID_PAYLOAD');

    const renamed = await rename(alice, passkey.id, 'Laptop');
    expect(renamed.statusCode, renamed.body).toBe(200);
    expect(renamed.json().data.name).toBe('Laptop');
    expect((await listOf(alice)).map((row) => row.name)).toEqual(['Laptop']);

    const removals = await Promise.all([remove(alice, passkey.id), remove(alice, passkey.id)]);
    expect(removals.map((response) => response.statusCode).sort()).toEqual([204, 404]);
    expect(await listOf(alice)).toEqual([]);
    expect(await eventsOf('passkey.renamed', alice.id)).toHaveLength(1);
    expect(await eventsOf('passkey.deleted', alice.id)).toHaveLength(1);
  });
});

describe('admin: a user’s passkeys', () => {
  it('lists and removes a user’s passkey, which then no longer signs in', async () => {
    const admin = await server.admin();
    const user = await server.user();
    const authenticator = device();
    const passkey = await registered(user, authenticator);
    const list = await server.app.inject({
      method: 'GET',
      url: `/users/${user.id}/passkeys`,
      headers: bearer(admin.accessToken),
    });
    expect(list.statusCode, list.body).toBe(200);
    expect(list.json().data.map((row: { id: string }) => row.id)).toEqual([passkey.id]);

    const other = await server.user();
    const wrongOwner = await server.app.inject({
      method: 'DELETE',
      url: `/users/${other.id}/passkeys/${passkey.id}`,
      headers: bearer(admin.accessToken),
    });
    expectCode(wrongOwner, 404, 'RECORD_NOT_FOUND');
    const removed = await server.app.inject({
      method: 'DELETE',
      url: `/users/${user.id}/passkeys/${passkey.id}`,
      headers: bearer(admin.accessToken),
    });
    expect(removed.statusCode, removed.body).toBe(204);
    expectCode(await signIn(authenticator), 401, 'PASSKEY_INVALID');
    const [event] = await eventsOf('passkey.deleted', user.id);
    expect(event).toMatchObject({ actor_id: admin.id, subject_id: user.id });
  });

  it('refuses to remove a passkey of an account that outranks the caller', async () => {
    const admin = await server.admin();
    const authenticator = device();
    const passkey = await registered(admin, authenticator);
    const role = `passkey-helpdesk-${Date.now()}`;
    await server.database.db
      .insertInto('roles')
      .values({
        id: crypto.randomUUID(),
        project_id: server.projectId,
        name: role,
        description: null,
        permissions: JSON.stringify(['users:read', 'users:write']),
        created_at: server.clock.now(),
      })
      .execute();
    const helpdesk = await server.user(undefined, { role });
    const response = await server.app.inject({
      method: 'DELETE',
      url: `/users/${admin.id}/passkeys/${passkey.id}`,
      headers: bearer(helpdesk.accessToken),
    });
    expectCode(response, 403, 'FORBIDDEN');
    expect(await listOf(admin)).toHaveLength(1);
  });
});

describe('GET /.well-known/webauthn', () => {
  it('lists the public origin and the extra ones, for related origin requests', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/.well-known/webauthn' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.json()).toEqual({ origins: [PUBLIC_URL, EXTRA_ORIGIN] });
  });
});

describe('configuration', () => {
  it('names the variable when an extra WebAuthn origin is not an origin', () => {
    for (const value of ['ftp://example.com', 'https://example.com/path', 'not a url']) {
      expect(() => loadConfig({ GATEHOUSE_SECRET: 'x'.repeat(32), GATEHOUSE_WEBAUTHN_ORIGINS: value })).toThrow(
        /GATEHOUSE_WEBAUTHN_ORIGINS must list http or https origins/,
      );
    }
    expect(() =>
      loadConfig({ GATEHOUSE_SECRET: 'x'.repeat(32), GATEHOUSE_WEBAUTHN_USER_VERIFICATION: 'always' }),
    ).toThrow(/GATEHOUSE_WEBAUTHN_USER_VERIFICATION must be one of required, preferred, discouraged/);
    const config = loadConfig({
      GATEHOUSE_SECRET: 'x'.repeat(32),
      GATEHOUSE_WEBAUTHN_ORIGINS: 'https://app.example.com/, http://localhost:5173',
    });
    expect(config.webauthnOrigins).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect(config.webauthnUserVerification).toBe('preferred');
  });
});

describe('signing in with a passkey', () => {
  it('signs in without an e-mail (discoverable credential) and answers like /auth/login', async () => {
    const user = await server.user();
    const authenticator = device();
    await registered(user, authenticator);
    const options = await loginOptions();
    expect(options.rpId).toBe('localhost');
    expect(options.allowCredentials ?? []).toEqual([]);
    expect(options.userVerification).toBe('preferred');

    const response = await verify({ credential: authenticator.assert(options) });
    expect(response.statusCode, response.body).toBe(200);
    const { access_token, refresh_token, expires } = response.json().data;
    expect(expires).toBe(15 * 60 * 1000);
    expect(typeof refresh_token).toBe('string');
    const claims = claimsOf(access_token);
    expect(claims.sub).toBe(user.id);
    expect(claims.amr).toEqual(['webauthn', 'hwk', 'user', 'mfa']);

    const me = await server.app.inject({ method: 'GET', url: '/users/me', headers: bearer(access_token) });
    expect(me.json().data.id).toBe(user.id);
    const [passkey] = await listOf(user);
    expect(passkey?.last_used_at).not.toBeNull();
    const logins = await eventsOf('auth.login', user.id);
    expect(JSON.parse(logins.at(-1)?.details ?? '{}')).toMatchObject({ method: 'passkey', mode: 'json' });
    const checks = await eventsOf('passkey.login', user.id);
    expect(checks.at(-1)).toMatchObject({ outcome: 'success' });

    // The refresh token it gave works like any other.
    const refreshed = await server.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token } });
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    expect(claimsOf(refreshed.json().data.access_token).amr).toEqual(['webauthn', 'hwk', 'user', 'mfa']);
  });

  it('accepts the null fields some browsers put in toJSON()', async () => {
    const user = await server.user();
    const authenticator = device();
    const options = await creationOptions(user);
    const created = authenticator.register(options);
    const registration = await finishRegistration(user, { credential: { ...created, authenticatorAttachment: null } });
    expect(registration.statusCode, registration.body).toBe(201);
    const assertion = authenticator.assert(await loginOptions());
    const response = await verify({
      credential: {
        ...assertion,
        authenticatorAttachment: null,
        response: { ...assertion.response, userHandle: null },
      },
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(claimsOf(response.json().data.access_token).sub).toBe(user.id);
  });

  it('answers in cookie and session modes with the same cookies as /auth/login', async () => {
    const user = await server.user();
    const authenticator = device({ backedUp: true });
    await registered(user, authenticator);

    const cookie = await signIn(authenticator, {}, 'cookie');
    expect(cookie.statusCode, cookie.body).toBe(200);
    expect(cookie.json().data.refresh_token).toBeUndefined();
    const refreshCookie = cookie.cookies.find((c) => c.name === 'gatehouse_refresh_token');
    expect(refreshCookie).toMatchObject({ httpOnly: true, path: '/auth', sameSite: 'Lax' });
    expect(claimsOf(cookie.json().data.access_token).amr).toEqual(['webauthn', 'swk', 'user', 'mfa']);

    const session = await signIn(authenticator, {}, 'session');
    expect(session.statusCode, session.body).toBe(200);
    expect(session.json().data.access_token).toBeUndefined();
    const sessionCookie = session.cookies.find((c) => c.name === 'gatehouse_session_token');
    expect(sessionCookie).toMatchObject({ httpOnly: true, path: '/' });
    const me = await server.app.inject({
      method: 'GET',
      url: '/users/me',
      cookies: { gatehouse_session_token: sessionCookie?.value ?? '' },
    });
    expect(me.json().data.id).toBe(user.id);

    // Cookie modes are cookie-authenticated writes: a foreign Origin is refused before anything is used.
    const options = await loginOptions();
    const foreign = await verify(
      { credential: authenticator.assert(options), mode: 'cookie' },
      { origin: 'https://evil.example' },
    );
    expectCode(foreign, 403, 'FORBIDDEN');
  });

  it('lists the account’s passkeys for an e-mail, and a stable decoy for an e-mail without any', async () => {
    const user = await server.user();
    const authenticator = device();
    await registered(user, authenticator);
    const options = await loginOptions({ email: user.email.toUpperCase() });
    expect(options.allowCredentials?.map((descriptor) => descriptor.id)).toEqual([...authenticator.credentials.keys()]);
    const response = await verify({ credential: authenticator.assert(options) });
    expect(response.statusCode, response.body).toBe(200);

    const nobody = await loginOptions({ email: 'nobody@example.com' });
    const again = await loginOptions({ email: 'nobody@example.com' });
    expect(nobody.allowCredentials).toHaveLength(1);
    expect(nobody.allowCredentials).toEqual(again.allowCredentials);
    const withoutPasskeys = await server.user();
    expect(await loginOptions({ email: withoutPasskeys.email })).toMatchObject({
      allowCredentials: [{ type: 'public-key' }],
    });
  });

  it('accepts each assertion once: a replay, and all but one of parallel ones, are refused', async () => {
    const user = await server.user();
    const authenticator = device();
    await registered(user, authenticator);
    const credential = authenticator.assert(await loginOptions());
    const answers = await Promise.all(Array.from({ length: 6 }, () => verify({ credential })));
    expect(answers.filter((answer) => answer.statusCode === 200)).toHaveLength(1);
    for (const answer of answers.filter((a) => a.statusCode !== 200)) {
      expectCode(answer, 400, 'PASSKEY_CHALLENGE_INVALID');
    }
    expectCode(await verify({ credential }), 400, 'PASSKEY_CHALLENGE_INVALID');
    const sessions = await server.database.db
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', user.id)
      .execute();
    expect(sessions).toHaveLength(2);
  });

  it('refuses an expired challenge, a registration challenge and a challenge it never issued', async () => {
    const user = await server.user();
    const authenticator = device();
    await registered(user, authenticator);
    const old = authenticator.assert(await loginOptions());
    server.clock.advance(FIVE_MINUTES);
    expectCode(await verify({ credential: old }), 400, 'PASSKEY_CHALLENGE_EXPIRED');

    const fresh = await server.login(user.email);
    const registration = await creationOptions({ ...user, accessToken: fresh.json().data.access_token });
    const crossed = authenticator.assert(await loginOptions(), { challenge: registration.challenge });
    expectCode(await verify({ credential: crossed }), 400, 'PASSKEY_CHALLENGE_INVALID');
    const invented = authenticator.assert(await loginOptions(), { challenge: 'bm90LWlzc3VlZA' });
    expectCode(await verify({ credential: invented }), 400, 'PASSKEY_CHALLENGE_INVALID');
  });

  it('refuses a wrong origin, a wrong relying party, a forged type and a tampered signature', async () => {
    const user = await server.user();
    const authenticator = device();
    await registered(user, authenticator);
    for (const overrides of [
      { origin: 'https://evil.example' },
      { origin: 'http://localhost:4001' },
      { rpId: 'evil.example' },
      { type: 'webauthn.create' },
      { userPresence: false },
    ] satisfies AssertionOverrides[]) {
      expectCode(await signIn(authenticator, overrides), 401, 'PASSKEY_INVALID');
    }
    const credential = authenticator.assert(await loginOptions());
    const signature = Buffer.from(credential.response.signature, 'base64url');
    signature[signature.length - 1] = (signature[signature.length - 1] ?? 0) ^ 1;
    const tampered = {
      ...credential,
      response: { ...credential.response, signature: signature.toString('base64url') },
    };
    expectCode(await verify({ credential: tampered }), 401, 'PASSKEY_INVALID');
    // The client hears only the code; the log says which check failed, for whoever configures the origins.
    expect(server.logs()).toContain('Unexpected authentication response origin \\"https://evil.example\\"');
    // An origin from GATEHOUSE_WEBAUTHN_ORIGINS is accepted.
    expect((await signIn(authenticator, { origin: EXTRA_ORIGIN })).statusCode).toBe(200);
    const failures = await eventsOf('passkey.login', user.id);
    expect(failures.filter((event) => event.outcome === 'failure').length).toBeGreaterThanOrEqual(6);
  });

  it('refuses a deleted passkey, an unknown credential and a user handle that is not the owner’s', async () => {
    const alice = await server.user();
    const bob = await server.user();
    const authenticator = device();
    const passkey = await registered(alice, authenticator);
    const bobs = device();
    await registered(bob, bobs);

    const [bobHandle] = [...bobs.credentials.values()].map((stored) => stored.userHandle);
    expectCode(await signIn(authenticator, { userHandle: bobHandle }), 401, 'PASSKEY_INVALID');

    const removed = await server.app.inject({
      method: 'DELETE',
      url: `/users/me/passkeys/${passkey.id}`,
      headers: bearer(alice.accessToken),
    });
    expect(removed.statusCode).toBe(204);
    expectCode(await signIn(authenticator), 401, 'PASSKEY_INVALID');
    expectCode(await signIn(unregistered()), 401, 'PASSKEY_INVALID');
    expect((await signIn(bobs)).statusCode).toBe(200);
  });

  it('refuses a signature counter that does not increase and records a clone warning', async () => {
    const user = await server.user();
    const authenticator = device();
    const passkey = await registered(user, authenticator);
    expect((await signIn(authenticator)).statusCode).toBe(200); // counter 2
    expectCode(await signIn(authenticator, { counter: 2 }), 401, 'PASSKEY_INVALID');
    expectCode(await signIn(authenticator, { counter: 1 }), 401, 'PASSKEY_INVALID');
    const warnings = await eventsOf('passkey.clone_suspected', user.id);
    expect(warnings).toHaveLength(2);
    expect(JSON.parse(warnings[0]?.details ?? '{}')).toMatchObject({
      passkey_id: passkey.id,
      stored_counter: 2,
      received_counter: 2,
    });
    expect((await signIn(authenticator, { counter: 10 })).statusCode).toBe(200);

    // An unsigned low counter is no evidence: a bad signature records no clone warning.
    const credential = authenticator.assert(await loginOptions(), { counter: 3 });
    const tampered = {
      ...credential,
      response: { ...credential.response, signature: `${credential.response.signature.slice(0, -4)}AAAA` },
    };
    expectCode(await verify({ credential: tampered }), 401, 'PASSKEY_INVALID');
    expect(await eventsOf('passkey.clone_suspected', user.id)).toHaveLength(2);
  });

  it('accepts one of two parallel assertions that carry the same counter (a copied key used twice at once)', async () => {
    const user = await server.user();
    const authenticator = device();
    await registered(user, authenticator);
    const [first, second] = await Promise.all([loginOptions(), loginOptions()]);
    const assertions = [authenticator.assert(first, { counter: 5 }), authenticator.assert(second, { counter: 5 })];
    const answers = await Promise.all(assertions.map((credential) => verify({ credential })));
    expect(answers.map((answer) => answer.statusCode).sort()).toEqual([200, 401]);
    expect(await eventsOf('passkey.clone_suspected', user.id)).toHaveLength(1);
  });

  it('accepts authenticators that do not count (counter always 0)', async () => {
    const user = await server.user();
    const authenticator = device({ counterStep: 0, backedUp: true });
    await registered(user, authenticator);
    expect((await signIn(authenticator)).statusCode).toBe(200);
    expect((await signIn(authenticator)).statusCode).toBe(200);
  });

  it('refuses a suspended user with USER_SUSPENDED, after the passkey proved who it is', async () => {
    const user = await server.user();
    const authenticator = device();
    await registered(user, authenticator);
    await server.database.db.updateTable('users').set({ status: 'suspended' }).where('id', '=', user.id).execute();
    expectCode(await signIn(authenticator), 401, 'USER_SUSPENDED');
    const listed = await server.app.inject({
      method: 'GET',
      url: '/users/me/passkeys',
      headers: bearer(user.accessToken),
    });
    expectCode(listed, 401, 'USER_SUSPENDED');
    const events = await eventsOf('passkey.login', user.id);
    expect(JSON.parse(events.at(-1)?.details ?? '{}')).toMatchObject({ reason: 'suspended' });
  });

  it('does not add mfa to amr when the authenticator did not verify the user', async () => {
    const user = await server.user();
    const authenticator = device({ userVerification: false });
    await registered(user, authenticator);
    const response = await signIn(authenticator);
    expect(response.statusCode, response.body).toBe(200);
    expect(claimsOf(response.json().data.access_token).amr).toEqual(['webauthn', 'hwk', 'user']);
  });

  it('answers 4xx with a code to malformed bodies', async () => {
    for (const payload of [
      {},
      { credential: null },
      { credential: {}, mode: 'json' },
      { credential: { id: '!!', rawId: '!!', type: 'public-key', response: {}, clientExtensionResults: {} } },
      {
        credential: {
          id: 'abc',
          rawId: 'abc',
          type: 'public-key',
          response: { clientDataJSON: 'e30', authenticatorData: 'AAAA', signature: 'AAAA' },
          clientExtensionResults: {},
        },
      },
    ]) {
      const response = await verify(payload as Record<string, unknown>);
      expect(response.statusCode, response.body).toBeGreaterThanOrEqual(400);
      expect(response.statusCode, response.body).toBeLessThan(500);
    }
    const email = await server.app.inject({
      method: 'POST',
      url: '/auth/passkey/login/options',
      payload: { email: 'not an e-mail' },
    });
    expectCode(email, 400, 'INVALID_PAYLOAD');
  });

  it('keeps no token in the logs or the database, and no challenge in the clear', async () => {
    const user = await server.user();
    const authenticator = device();
    await registered(user, authenticator);
    const options = await loginOptions();
    const response = await verify({ credential: authenticator.assert(options) });
    const { access_token, refresh_token } = response.json().data;
    const { db } = server.database;
    const stored = JSON.stringify([
      await db.selectFrom('webauthn_challenges').selectAll().execute(),
      await db.selectFrom('passkeys').selectAll().execute(),
      await db.selectFrom('audit_events').selectAll().execute(),
      await db.selectFrom('sessions').selectAll().execute(),
      await db.selectFrom('refresh_tokens').selectAll().execute(),
    ]);
    for (const secret of [access_token, refresh_token, options.challenge]) {
      expect(server.logs()).not.toContain(secret);
      expect(stored).not.toContain(secret);
    }
  });
});

describe('required user verification', () => {
  let strict: TestServer;
  beforeAll(async () => {
    strict = await createTestServer({ GATEHOUSE_WEBAUTHN_USER_VERIFICATION: 'required' });
  });
  afterAll(async () => {
    await strict.close();
  });

  it('refuses registration and sign-in without user verification', async () => {
    const user = await strict.user();
    const options = (
      await strict.app.inject({ method: 'POST', url: '/users/me/passkeys/options', headers: bearer(user.accessToken) })
    ).json().data;
    expect(options.authenticatorSelection.userVerification).toBe('required');
    const register = (credential: unknown) =>
      strict.app.inject({
        method: 'POST',
        url: '/users/me/passkeys',
        headers: bearer(user.accessToken),
        payload: { credential },
      });
    const authenticator = device();
    expectCode(
      await register(device().register(options, { userVerification: false })),
      400,
      'PASSKEY_REGISTRATION_INVALID',
    );
    const again = (
      await strict.app.inject({ method: 'POST', url: '/users/me/passkeys/options', headers: bearer(user.accessToken) })
    ).json().data;
    expect((await register(authenticator.register(again))).statusCode).toBe(201);

    const login = async (overrides: AssertionOverrides) => {
      const request = (
        await strict.app.inject({ method: 'POST', url: '/auth/passkey/login/options', payload: {} })
      ).json().data;
      expect(request.userVerification).toBe('required');
      return strict.app.inject({
        method: 'POST',
        url: '/auth/passkey/login/verify',
        payload: { credential: authenticator.assert(request, overrides) },
      });
    };
    expectCode(await login({ userVerification: false }), 401, 'PASSKEY_INVALID');
    expect((await login({})).statusCode).toBe(200);
  });
});

describe('passkeys as a second factor (PasskeyService.verifyAssertionForUser)', () => {
  const meta = { ip: '127.0.0.1', userAgent: 'test' };

  it('verifies an assertion of the user’s own passkey against a challenge issued to them', async () => {
    const user = await server.user();
    const authenticator = device();
    await registered(user, authenticator);
    const options = await server.passkeys.authenticationOptionsForUser(user.id);
    expect(options?.allowCredentials).toHaveLength(1);
    const credential = authenticator.assert(options as PasskeyRequestOptions);
    const result = await server.passkeys.verifyAssertionForUser(user.id, credential, meta);
    expect(result).toMatchObject({ ok: true, value: { userId: user.id, userVerified: true } });
    expect(await server.passkeys.verifyAssertionForUser(user.id, credential, meta)).toEqual({
      ok: false,
      reason: 'challenge_used',
    });
    const checks = await eventsOf('passkey.login', user.id);
    expect(JSON.parse(checks.at(-1)?.details ?? '{}')).toMatchObject({ purpose: 'mfa', reason: 'challenge_used' });
  });

  it('refuses another user’s passkey, another user’s challenge and a sign-in challenge', async () => {
    const alice = await server.user();
    const mallory = await server.user();
    const alices = device();
    const mallorys = device();
    await registered(alice, alices);
    await registered(mallory, mallorys);

    // Mallory answers Alice's second-factor challenge with her own passkey.
    const forAlice = (await server.passkeys.authenticationOptionsForUser(alice.id)) as PasskeyRequestOptions;
    const foreign = mallorys.assert(forAlice, { credentialId: [...mallorys.credentials.keys()][0] });
    expect(await server.passkeys.verifyAssertionForUser(alice.id, foreign, meta)).toEqual({
      ok: false,
      reason: 'not_owner',
    });

    // A challenge issued to Mallory does not serve Alice's second factor.
    const forMallory = (await server.passkeys.authenticationOptionsForUser(mallory.id)) as PasskeyRequestOptions;
    const crossed = alices.assert({ ...forMallory, allowCredentials: [] });
    expect(await server.passkeys.verifyAssertionForUser(alice.id, crossed, meta)).toEqual({
      ok: false,
      reason: 'challenge_unknown',
    });

    // Nor does a usernameless sign-in challenge.
    const signInOptions = await loginOptions();
    const fromSignIn = alices.assert(signInOptions);
    expect(await server.passkeys.verifyAssertionForUser(alice.id, fromSignIn, meta)).toEqual({
      ok: false,
      reason: 'challenge_unknown',
    });
    expect(await server.passkeys.authenticationOptionsForUser((await server.user()).id)).toBeNull();
  });
});

function unregistered(): SoftwareAuthenticator {
  const stranger = device();
  stranger.register({
    rp: { id: 'localhost', name: 'Gatehouse' },
    user: { id: 'c3RyYW5nZXI', name: 'stranger', displayName: 'stranger' },
    challenge: 'Y2hhbGxlbmdl',
    pubKeyCredParams: [{ alg: -7, type: 'public-key' }],
  });
  return stranger;
}
