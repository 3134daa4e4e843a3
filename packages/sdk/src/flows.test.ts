import type {
  AuthenticationCredential,
  PasskeyCreationOptions,
  PasskeyRequestOptions,
  RegistrationCredential,
} from '@gatehouse/protocol';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/browser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTotp } from '../../server/src/crypto/totp.js';
import { Mailbox } from '../../server/src/testing/mailbox.js';
import { startSmtpServer, type TestSmtpServer } from '../../server/src/testing/smtp-server.js';
import { TEST_PASSWORD } from '../../server/src/testing/test-server.js';
import { SoftwareAuthenticator } from '../../server/src/testing/webauthn-authenticator.js';
import { createClient, type GatehouseClient } from './client.js';
import { GatehouseError, isGatehouseError } from './errors.js';
import { deletePasskey, listPasskeys, registerPasskey, renamePasskey, signInWithPasskey } from './passkeys/index.js';
import { type LiveServer, startLiveServer } from './testing/live-server.js';

/**
 * The passwordless, MFA and passkey methods against a real Gatehouse, with mail through a real SMTP server. The
 * passkey ceremonies run on the server's software authenticator in place of `@simplewebauthn/browser`, which needs
 * a browser's `navigator.credentials`.
 */
let live: LiveServer;
let smtp: TestSmtpServer;
let mailbox: Mailbox;
const clients: GatehouseClient[] = [];
const secrets: string[] = [];
let counter = 0;

beforeAll(async () => {
  smtp = await startSmtpServer();
  // The project's real defaults, e-mail verification included (sign-up mails a link).
  live = await startLiveServer({ GATEHOUSE_SMTP_URL: smtp.url }, { projectSettings: null });
  mailbox = new Mailbox(() => live.server, smtp);
});
afterAll(async () => {
  for (const client of clients) client.close();
  const logs = live.server.logs();
  const { db } = live.server.database;
  const stored = JSON.stringify([
    await db.selectFrom('one_time_tokens').selectAll().execute(),
    await db.selectFrom('outbox').selectAll().execute(),
    await db.selectFrom('refresh_tokens').selectAll().execute(),
  ]);
  expect(secrets.length).toBeGreaterThan(3);
  for (const secret of secrets) {
    expect(logs).not.toContain(secret);
    expect(stored).not.toContain(secret);
  }
  await live.close();
  await smtp.close();
});

function client(): GatehouseClient {
  const created = createClient({ url: live.url, crossTab: false });
  clients.push(created);
  return created;
}

async function account(): Promise<{ sdk: GatehouseClient; email: string }> {
  const email = `flows-${++counter}-${Date.now()}@example.com`;
  const sdk = client();
  await sdk.signUp({ email, password: TEST_PASSWORD });
  return { sdk, email };
}

/** The text of the mail that `action` sends to `to` (sign-up also mails, so mails are told apart by count). */
async function mailFrom(to: string, action: () => Promise<unknown>): Promise<string> {
  const before = (await mailbox.to(to)).length;
  await action();
  const after = await mailbox.to(to);
  expect(after.length).toBe(before + 1);
  return after.at(-1)?.parsed.text ?? '';
}

describe('magic links and codes', () => {
  it('sendMagicLink and verifyMagicLink sign in', async () => {
    const { sdk, email } = await account();
    const text = await mailFrom(email, () => sdk.sendMagicLink(email));
    const token = /[?&]token=([A-Za-z0-9_-]+)/.exec(text)?.[1] ?? '';
    secrets.push(token);
    const result = await sdk.verifyMagicLink(token);
    expect(result.access_token).toEqual(expect.any(String));
    expect(await sdk.getProfile()).toMatchObject({ email });
    const again = await sdk.verifyMagicLink(token).catch((error: unknown) => error);
    expect(again).toBeInstanceOf(GatehouseError);
  });

  it('generateCode, checkCode, activateUser and signInWithCode', async () => {
    const { sdk, email } = await account();
    const sent = await mailFrom(email, () =>
      sdk.generateCode({ identifier: email, channel: 'email', purpose: 'activate' }),
    );
    const activation = /\b(\d{6})\b/.exec(sent)?.[1] ?? '';
    secrets.push(activation);
    await sdk.checkCode({ identifier: email, purpose: 'activate', code: activation });
    await sdk.activateUser({ identifier: email, code: activation });
    const used = await sdk.activateUser({ identifier: email, code: activation }).catch((error: unknown) => error);
    expect(used).toBeInstanceOf(GatehouseError);

    const loginMail = await mailFrom(email, () =>
      sdk.generateCode({ identifier: email, channel: 'email', purpose: 'login' }),
    );
    const login = /\b(\d{6})\b/.exec(loginMail)?.[1] ?? '';
    secrets.push(login);
    const wrong = login === '000000' ? '111111' : '000000';
    await expect(sdk.checkCode({ identifier: email, purpose: 'login', code: wrong })).rejects.toBeInstanceOf(
      GatehouseError,
    );
    await sdk.signInWithCode({ identifier: email, code: login });
    expect(await sdk.getProfile()).toMatchObject({ email, email_verified: true });
  });
});

describe('account lifecycle', () => {
  const linkToken = (text: string) => /[?&]token=([A-Za-z0-9_-]+)/.exec(text)?.[1] ?? '';

  it('requestEmailVerification and verifyEmail confirm the address', async () => {
    const { sdk, email } = await account();
    live.server.clock.advance(61_000); // past the resend cool-down of the mail sent at sign-up
    const token = linkToken(await mailFrom(email, () => sdk.requestEmailVerification(email)));
    secrets.push(token);
    await sdk.verifyEmail(token);
    await sdk.auth({ email, password: TEST_PASSWORD });
    expect(await sdk.getProfile()).toMatchObject({ email_verified: true });
  });

  it('requestPasswordReset and resetPassword set a new password and end every session', async () => {
    const { sdk, email } = await account();
    await sdk.auth({ email, password: TEST_PASSWORD });
    const out: string[] = [];
    sdk.on('signedOut', (event) => out.push(event.reason));
    const stranger = client();
    const token = linkToken(await mailFrom(email, () => stranger.requestPasswordReset(email)));
    secrets.push(token);
    const password = 'a brand new passphrase';
    await stranger.resetPassword(token, password);
    await expect(sdk.getProfile()).rejects.toBeInstanceOf(GatehouseError);
    expect(out).toEqual(['revoked']);
    await expect(client().auth({ email, password: TEST_PASSWORD })).rejects.toMatchObject({
      code: 'INVALID_CREDENTIALS',
    });
    await client().auth({ email, password });
    await expect(stranger.resetPassword(token, 'yet another passphrase')).rejects.toBeInstanceOf(GatehouseError);
  });

  it('changePassword: a wrong current password keeps the session; the right one ends the others', async () => {
    const { sdk, email } = await account();
    await sdk.auth({ email, password: TEST_PASSWORD });
    const other = client();
    await other.auth({ email, password: TEST_PASSWORD });
    const out: string[] = [];
    sdk.on('signedOut', (event) => out.push(event.reason));

    const wrong = await sdk.changePassword('not it', 'whatever new passphrase').catch((error: unknown) => error);
    expect(wrong).toMatchObject({ code: 'INVALID_CREDENTIALS', status: 401 });
    expect(sdk.isSignedIn).toBe(true);
    expect(out).toEqual([]);

    await sdk.changePassword(TEST_PASSWORD, 'a changed passphrase');
    expect(await sdk.getProfile()).toMatchObject({ email });
    await expect(other.getProfile()).rejects.toBeInstanceOf(GatehouseError);
    await client().auth({ email, password: 'a changed passphrase' });
  });

  it('deleteAccount removes the account and signs out', async () => {
    const { sdk, email } = await account();
    await sdk.auth({ email, password: TEST_PASSWORD });
    const out: string[] = [];
    sdk.on('signedOut', (event) => out.push(event.reason));
    await expect(sdk.deleteAccount('not it')).rejects.toBeInstanceOf(GatehouseError);
    expect(sdk.isSignedIn).toBe(true);
    await sdk.deleteAccount(TEST_PASSWORD);
    expect(out).toEqual(['logout']);
    expect(sdk.isSignedIn).toBe(false);
    await expect(client().auth({ email, password: TEST_PASSWORD })).rejects.toMatchObject({
      code: 'INVALID_CREDENTIALS',
    });
  });
});

describe('multi-factor authentication', () => {
  it('enrols TOTP, then a password sign-in needs mfaVerify with the mfa_token', async () => {
    const { sdk, email } = await account();
    await sdk.auth({ email, password: TEST_PASSWORD });
    const enrolment = await sdk.enrolTotp();
    secrets.push(enrolment.secret);
    const now = live.server.clock.now();
    const activated = await sdk.activateMfaFactor(enrolment.id, generateTotp(enrolment.secret, now));
    expect(activated.recovery_codes).toHaveLength(10);
    secrets.push(...(activated.recovery_codes ?? []));
    expect(await sdk.getMfaStatus()).toMatchObject({ enabled: true });
    await sdk.logout();
    live.server.clock.advance(30_000);

    const second = client();
    const refused = await second.auth({ email, password: TEST_PASSWORD }).catch((error: unknown) => error);
    if (!isGatehouseError(refused, 'INVALID_OTP')) throw refused;
    expect(refused.status).toBe(401);
    const mfaToken = String(refused.extensions.mfa_token);
    expect(second.isSignedIn).toBe(false);
    const code = generateTotp(enrolment.secret, live.server.clock.now());
    await second.mfaVerify(mfaToken, 'totp', code);
    expect(await second.getProfile()).toMatchObject({ email });
  });

  it('mfaChallenge mails a code for the e-mail factor', async () => {
    const { sdk, email } = await account();
    await sdk.auth({ email, password: TEST_PASSWORD });
    let enrolment = { id: '' };
    const enrolMail = await mailFrom(email, async () => {
      enrolment = await sdk.enrolEmailFactor();
    });
    const enrolCode = /\b(\d{6})\b/.exec(enrolMail)?.[1] ?? '';
    secrets.push(enrolCode);
    await sdk.activateMfaFactor(enrolment.id, enrolCode);
    await sdk.logout();

    const second = client();
    const refused = await second.auth({ email, password: TEST_PASSWORD }).catch((error: unknown) => error);
    if (!isGatehouseError(refused, 'INVALID_OTP')) throw refused;
    const mfaToken = String(refused.extensions.mfa_token);
    let expires = 0;
    const challengeMail = await mailFrom(email, async () => {
      expires = (await second.mfaChallenge(mfaToken)).expires;
    });
    expect(expires).toBeGreaterThan(0);
    const code = /\b(\d{6})\b/.exec(challengeMail)?.[1] ?? '';
    secrets.push(code);
    await second.mfaVerify(mfaToken, 'email', code);
    expect(await second.getProfile()).toMatchObject({ email });
  });
});

describe('passkeys', () => {
  it('registers, lists, renames, signs in with and deletes a passkey', async () => {
    const authenticator = new SoftwareAuthenticator({ origin: live.url });
    const webauthn = {
      async startRegistration(options: { optionsJSON: PublicKeyCredentialCreationOptionsJSON }) {
        const credential: RegistrationCredential = authenticator.register(
          options.optionsJSON as unknown as PasskeyCreationOptions,
        );
        return credential as unknown as RegistrationResponseJSON;
      },
      async startAuthentication(options: { optionsJSON: PublicKeyCredentialRequestOptionsJSON }) {
        const credential: AuthenticationCredential = authenticator.assert(
          options.optionsJSON as unknown as PasskeyRequestOptions,
        );
        return credential as unknown as AuthenticationResponseJSON;
      },
    };
    const { sdk, email } = await account();
    await sdk.auth({ email, password: TEST_PASSWORD });
    const passkey = await registerPasskey(sdk, { name: 'Laptop', webauthn });
    expect(passkey).toMatchObject({ name: 'Laptop' });
    expect(await listPasskeys(sdk)).toHaveLength(1);
    expect(await renamePasskey(sdk, passkey.id, 'Phone')).toMatchObject({ name: 'Phone' });

    const other = client();
    const result = await signInWithPasskey(other, { webauthn });
    expect(result.access_token).toEqual(expect.any(String));
    expect(await other.getProfile()).toMatchObject({ email });

    await deletePasskey(sdk, passkey.id);
    expect(await listPasskeys(sdk)).toEqual([]);
    await expect(signInWithPasskey(client(), { webauthn })).rejects.toBeInstanceOf(GatehouseError);
  });
});

describe('API keys', () => {
  it('creates, lists, exchanges, uses, rotates and deletes a personal API key', async () => {
    const { sdk, email } = await account();
    await sdk.auth({ email, password: TEST_PASSWORD });
    const created = await sdk.createApiKey({ name: 'CI' });
    secrets.push(created.key);
    expect(created).toMatchObject({ name: 'CI', status: 'active' });
    expect(await sdk.listApiKeys()).toEqual([expect.objectContaining({ id: created.id, name: 'CI' })]);

    const exchanged = await client().exchangeApiKey(created.key);
    expect(exchanged).toMatchObject({ user: { email }, token: expect.any(String) });
    // The key itself is a credential for the typed fetch of a client without a session.
    const anonymous = client();
    expect(
      await anonymous.fetch('/users/me', { auth: 'none', headers: { authorization: `Bearer ${created.key}` } }),
    ).toMatchObject({ email });

    const rotated = await sdk.rotateApiKey(created.id);
    secrets.push(rotated.key);
    expect(rotated.key).not.toBe(created.key);
    await expect(client().exchangeApiKey(created.key)).rejects.toBeInstanceOf(GatehouseError);
    await sdk.deleteApiKey(rotated.id);
    await expect(client().exchangeApiKey(rotated.key)).rejects.toBeInstanceOf(GatehouseError);
  });

  it('sends a publishable key with every call to Gatehouse; a wrong one answers PROJECT_KEY_INVALID', async () => {
    const admin = await live.server.admin();
    const response = await fetch(`${live.url}/projects/default/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'publishable', name: 'web' }),
    });
    expect(response.status).toBe(201);
    const { data } = (await response.json()) as { data: { id: string; key: string } };
    const email = `pk-${Date.now()}@example.com`;
    const sdk = createClient({ url: live.url, crossTab: false, publishableKey: data.key });
    clients.push(sdk);
    await sdk.signUp({ email, password: TEST_PASSWORD });
    await sdk.auth({ email, password: TEST_PASSWORD });
    expect(await sdk.getProfile()).toMatchObject({ email });
    await sdk.refresh();

    const stale = createClient({ url: live.url, crossTab: false, publishableKey: `${data.key.slice(0, -4)}AAAA` });
    clients.push(stale);
    const refused = await stale.auth({ email, password: TEST_PASSWORD }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(GatehouseError);
    expect(refused).toMatchObject({ code: 'PROJECT_KEY_INVALID', status: 401 });
  });
});
