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
const clients: GatehouseClient[] = [];
const secrets: string[] = [];
let counter = 0;

beforeAll(async () => {
  smtp = await startSmtpServer();
  live = await startLiveServer({ GATEHOUSE_SMTP_URL: smtp.url });
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

async function nextMail(to: string): Promise<string> {
  await live.server.mailer.settled();
  const mail = await smtp.next();
  expect(mail.envelope.to).toEqual([to]);
  return mail.parsed.text ?? '';
}

describe('magic links and codes', () => {
  it('sendMagicLink and verifyMagicLink sign in', async () => {
    const { sdk, email } = await account();
    await sdk.sendMagicLink(email);
    const token = /[?&]token=([A-Za-z0-9_-]+)/.exec(await nextMail(email))?.[1] ?? '';
    secrets.push(token);
    const result = await sdk.verifyMagicLink(token);
    expect(result.access_token).toEqual(expect.any(String));
    expect(await sdk.getProfile()).toMatchObject({ email });
    const again = await sdk.verifyMagicLink(token).catch((error: unknown) => error);
    expect(again).toBeInstanceOf(GatehouseError);
  });

  it('generateCode, checkCode, activateUser and signInWithCode', async () => {
    const { sdk, email } = await account();
    await sdk.generateCode({ identifier: email, channel: 'email', purpose: 'activate' });
    const activation = /\b(\d{6})\b/.exec(await nextMail(email))?.[1] ?? '';
    secrets.push(activation);
    await sdk.checkCode({ identifier: email, purpose: 'activate', code: activation });
    await sdk.activateUser({ identifier: email, code: activation });
    const used = await sdk.activateUser({ identifier: email, code: activation }).catch((error: unknown) => error);
    expect(used).toBeInstanceOf(GatehouseError);

    await sdk.generateCode({ identifier: email, channel: 'email', purpose: 'login' });
    const login = /\b(\d{6})\b/.exec(await nextMail(email))?.[1] ?? '';
    secrets.push(login);
    const wrong = login === '000000' ? '111111' : '000000';
    await expect(sdk.checkCode({ identifier: email, purpose: 'login', code: wrong })).rejects.toBeInstanceOf(
      GatehouseError,
    );
    await sdk.signInWithCode({ identifier: email, code: login });
    expect(await sdk.getProfile()).toMatchObject({ email, email_verified: true });
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
    const enrolment = await sdk.enrolEmailFactor();
    const enrolCode = /\b(\d{6})\b/.exec(await nextMail(email))?.[1] ?? '';
    secrets.push(enrolCode);
    await sdk.activateMfaFactor(enrolment.id, enrolCode);
    await sdk.logout();

    const second = client();
    const refused = await second.auth({ email, password: TEST_PASSWORD }).catch((error: unknown) => error);
    if (!isGatehouseError(refused, 'INVALID_OTP')) throw refused;
    const mfaToken = String(refused.extensions.mfa_token);
    const challenge = await second.mfaChallenge(mfaToken);
    expect(challenge.expires).toBeGreaterThan(0);
    const code = /\b(\d{6})\b/.exec(await nextMail(email))?.[1] ?? '';
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
