import type { AuthenticationCredential, PasskeyRequestOptions, RegistrationCredential } from '@gatehouse/protocol';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Kysely } from 'kysely';
import type { RequestMeta } from '../../caller.js';
import type { Clock } from '../../clock.js';
import { hmacSha256 } from '../../crypto/hash.js';
import { randomId } from '../../crypto/random.js';
import type { PasskeyRow, Tables, UserProfile } from '../../db/types.js';
import type { AuditLog } from '../audit/index.js';
import { findUserByEmail, findUserById, normalizeEmail } from '../users/index.js';
import { type Ceremony, CHALLENGE_TTL, ChallengeStore } from './challenges.js';
import { suggestPasskeyName } from './names.js';

type WebAuthn = typeof import('@simplewebauthn/server');
let webauthn: Promise<WebAuthn> | undefined;
/**
 * `@simplewebauthn/server` is loaded on the first ceremony, not at start: its import takes ~230 ms and ~25 MB
 * (measured on Node 20), which a server whose users never register a passkey should not pay.
 */
function loadWebAuthn(): Promise<WebAuthn> {
  webauthn ??= import('@simplewebauthn/server');
  return webauthn;
}

import {
  deletePasskey,
  findByCredentialId,
  findOwnPasskey,
  insertPasskey,
  listPasskeys,
  recordUse,
  renamePasskey,
} from './store.js';

export type UserVerification = 'required' | 'preferred' | 'discouraged';

export interface PasskeyServiceDeps {
  db: Kysely<Tables>;
  clock: Clock;
  audit: AuditLog;
  projectId: string;
  /** Relying party id: the host of the public URL. */
  rpId: string;
  rpName: string;
  /** Origins whose ceremonies are accepted: the public URL's and the configured extra ones. */
  origins: readonly string[];
  userVerification: UserVerification;
  /** Key for the decoy credential ids answered for e-mails without passkeys. */
  decoyKey: Uint8Array;
}

export type PasskeyRefusal =
  | 'challenge_unknown'
  | 'challenge_used'
  | 'challenge_expired'
  | 'unknown_credential'
  | 'not_owner'
  | 'invalid'
  | 'clone_suspected'
  | 'suspended'
  | 'not_active'
  | 'already_registered'
  | 'not_found';

/** A refusal's `detail` (the verifier's own message) is for the log only, never for the client. */
export type PasskeyResult<T> = { ok: true; value: T } | { ok: false; reason: PasskeyRefusal; detail?: string };

/** A verified assertion: who signed, with which passkey, and whether the authenticator verified the user. */
export interface VerifiedAssertion {
  userId: string;
  passkey: PasskeyRow;
  /** The authenticator checked a PIN or biometric (UV flag): possession and the user, two factors in one. */
  userVerified: boolean;
}

/** Every signature algorithm WebAuthn authenticators commonly use: EdDSA, ES256, RS256. */
const SUPPORTED_ALGORITHMS = [-8, -7, -257];

/** A user id no account has, to query with when there is no account. */
const NO_USER = '00000000-0000-0000-0000-000000000000';

const refuse = (reason: PasskeyRefusal, detail?: string): { ok: false; reason: PasskeyRefusal; detail?: string } =>
  detail === undefined ? { ok: false, reason } : { ok: false, reason, detail };

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Passkeys: registration while signed in, sign-in (usernameless or by e-mail) and use as a second factor.
 *
 * The WebAuthn checks themselves (challenge, type, origin, RP id hash, flags, signature, attestation) are
 * `@simplewebauthn/server`'s. This service adds what the library leaves to its caller:
 * - challenges are stored, single-use under concurrency, bound to their ceremony and account, 5 minutes long;
 * - the signature counter: the library is handed 0 so that it only verifies the signature, and the counter is
 *   checked here afterwards. A non-increasing counter is then proven by a valid signature and recorded as
 *   `passkey.clone_suspected`; had the library refused it before checking the signature, anyone could fill the
 *   audit trail with clone warnings by sending a low counter;
 * - the credential must belong to the expected account (second factor) and match the user handle it claims.
 */
export class PasskeyService {
  private readonly challenges: ChallengeStore;

  constructor(private readonly deps: PasskeyServiceDeps) {
    this.challenges = new ChallengeStore(deps.db, deps.clock, deps.projectId);
  }

  /** Every origin whose ceremonies are accepted: the public URL's first, then GATEHOUSE_WEBAUTHN_ORIGINS. */
  get origins(): readonly string[] {
    return this.deps.origins;
  }

  /** Creation options for a new passkey of `user`; their existing passkeys are excluded. */
  async registrationOptions(user: UserProfile): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const existing = await listPasskeys(this.deps.db, user.id);
    const displayName = [user.first_name, user.last_name].filter(Boolean).join(' ') || user.email;
    const options = await (await loadWebAuthn()).generateRegistrationOptions({
      rpName: this.deps.rpName,
      rpID: this.deps.rpId,
      userName: user.email,
      userDisplayName: displayName,
      userID: userHandleBytes(user.id),
      timeout: CHALLENGE_TTL,
      attestationType: 'none',
      excludeCredentials: existing.map((row) => ({ id: row.credential_id, transports: transportsOf(row) })),
      // Discoverable credentials are what make a passkey: sign-in without typing an e-mail, and autofill.
      authenticatorSelection: { residentKey: 'required', userVerification: this.deps.userVerification },
      supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
    });
    await this.challenges.issue(options.challenge, 'registration', user.id);
    return options;
  }

  /** Verifies the browser's answer to `registrationOptions` and stores the passkey. */
  async register(
    user: UserProfile,
    input: { credential: RegistrationCredential; name?: string; actorId: string | null; meta: RequestMeta },
  ): Promise<PasskeyResult<PasskeyRow>> {
    const { db, clock, projectId } = this.deps;
    const challenge = challengeOf(input.credential.response.clientDataJSON);
    if (challenge === null) return refuse('challenge_unknown');
    const consumed = await this.challenges.consume(challenge, 'registration', user.id);
    if (!consumed.ok) return consumed;
    let info: Awaited<ReturnType<WebAuthn['verifyRegistrationResponse']>>['registrationInfo'];
    try {
      const verified = await (await loadWebAuthn()).verifyRegistrationResponse({
        response: input.credential as RegistrationResponseJSON,
        expectedChallenge: challenge,
        expectedOrigin: [...this.deps.origins],
        expectedRPID: this.deps.rpId,
        requireUserVerification: this.deps.userVerification === 'required',
        supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
      });
      info = verified.registrationInfo;
    } catch (error) {
      return refuse('invalid', messageOf(error));
    }
    if (!info) return refuse('invalid');
    const { credential } = info;
    if (await findByCredentialId(db, projectId, credential.id)) return refuse('already_registered');
    const row: PasskeyRow = {
      id: randomId(),
      project_id: projectId,
      user_id: user.id,
      credential_id: credential.id,
      public_key: Buffer.from(credential.publicKey).toString('base64url'),
      counter: credential.counter,
      transports: JSON.stringify(input.credential.response.transports ?? credential.transports ?? []),
      aaguid: info.aaguid,
      name: input.name ?? suggestPasskeyName(info.aaguid, input.meta.userAgent),
      device_type: info.credentialDeviceType,
      backed_up: info.credentialBackedUp ? 1 : 0,
      created_at: clock.now(),
      last_used_at: null,
    };
    try {
      await insertPasskey(db, row);
    } catch (error) {
      // Two parallel registrations of one credential: the unique index lets one in.
      if (await findByCredentialId(db, projectId, credential.id)) return refuse('already_registered');
      throw error;
    }
    await this.deps.audit.record(projectId, {
      event: 'passkey.registered',
      actorId: input.actorId ?? user.id,
      subjectId: user.id,
      ...input.meta,
      details: { passkey_id: row.id, name: row.name, aaguid: row.aaguid, backed_up: row.backed_up === 1 },
    });
    return { ok: true, value: row };
  }

  list(userId: string): Promise<PasskeyRow[]> {
    return listPasskeys(this.deps.db, userId);
  }

  /** One passkey of `userId`, or undefined (also for another user's passkey). */
  find(userId: string, id: string): Promise<PasskeyRow | undefined> {
    return findOwnPasskey(this.deps.db, userId, id);
  }

  async rename(
    userId: string,
    id: string,
    input: { name: string; actorId: string | null; meta: RequestMeta },
  ): Promise<PasskeyResult<PasskeyRow>> {
    const row = await findOwnPasskey(this.deps.db, userId, id);
    if (!row) return refuse('not_found');
    await renamePasskey(this.deps.db, row.id, input.name);
    await this.deps.audit.record(this.deps.projectId, {
      event: 'passkey.renamed',
      actorId: input.actorId ?? userId,
      subjectId: userId,
      ...input.meta,
      details: { passkey_id: row.id, name: input.name },
    });
    return { ok: true, value: { ...row, name: input.name } };
  }

  async remove(
    userId: string,
    id: string,
    input: { actorId: string | null; meta: RequestMeta },
  ): Promise<PasskeyResult<null>> {
    const row = await findOwnPasskey(this.deps.db, userId, id);
    if (!row || !(await deletePasskey(this.deps.db, row.id))) return refuse('not_found');
    await this.deps.audit.record(this.deps.projectId, {
      event: 'passkey.deleted',
      actorId: input.actorId ?? userId,
      subjectId: userId,
      ...input.meta,
      details: { passkey_id: row.id, name: row.name },
    });
    return { ok: true, value: null };
  }

  /**
   * Request options for sign-in. Without an e-mail the list of credentials is empty, so the browser offers the
   * passkeys it holds for this site (usernameless sign-in, autofill with `mediation: "conditional"`). With one,
   * the account's passkeys are listed; an e-mail without passkeys (or without an account) gets one decoy id
   * derived from it with a server key, stable across calls, so the answer does not tell who has an account.
   */
  async loginOptions(email?: string): Promise<PasskeyRequestOptions> {
    const { db, projectId } = this.deps;
    let allowCredentials: { id: string; transports?: string[] }[] | undefined;
    if (email !== undefined) {
      const normalized = normalizeEmail(email);
      const user = await findUserByEmail(db, projectId, normalized);
      // The same queries whether or not the account exists.
      const rows = await listPasskeys(db, user?.id ?? NO_USER);
      allowCredentials =
        rows.length > 0
          ? rows.map((row) => ({ id: row.credential_id, transports: transportsOf(row) }))
          : [{ id: hmacSha256(this.deps.decoyKey, `${projectId}:${normalized}`), transports: ['internal', 'hybrid'] }];
    }
    return this.requestOptions('login', null, allowCredentials);
  }

  /**
   * Checks a sign-in assertion. On success the user is active and the passkey's counter and last use are
   * recorded; signing in is the caller's next step (`AuthService.signIn`).
   */
  async verifyLogin(
    credential: AuthenticationCredential,
    meta: RequestMeta,
  ): Promise<PasskeyResult<VerifiedAssertion>> {
    const result = await this.verifyAssertion(credential, 'login', null, meta);
    if (!result.ok) return result;
    const user = await findUserById(this.deps.db, result.value.userId);
    if (user?.status !== 'active') {
      const reason = user?.status === 'suspended' ? 'suspended' : 'not_active';
      await this.recordCheck('login', meta, { outcome: 'failure', userId: result.value.userId, reason });
      return refuse(reason);
    }
    return result;
  }

  /**
   * For the MFA challenge (`method: "webauthn"`): request options listing only `userId`'s passkeys, with a
   * challenge bound to that account and to the second-factor ceremony. Answers null when the user has none.
   * `userVerification: "required"` asks the authenticator for a PIN or biometric whatever the server's setting
   * (the second step after a passkey sign-in that lacked it).
   */
  async authenticationOptionsForUser(
    userId: string,
    options: { userVerification?: 'required' } = {},
  ): Promise<PasskeyRequestOptions | null> {
    const rows = await listPasskeys(this.deps.db, userId);
    if (rows.length === 0) return null;
    const allowCredentials = rows.map((row) => ({ id: row.credential_id, transports: transportsOf(row) }));
    return this.requestOptions('mfa', userId, allowCredentials, options.userVerification);
  }

  /** How many passkeys `userId` has registered (for the MFA policy: a passkey counts as a second factor). */
  async countPasskeys(userId: string): Promise<number> {
    return (await listPasskeys(this.deps.db, userId)).length;
  }

  /**
   * For the MFA verify step (`method: "webauthn"`): checks an assertion answering `authenticationOptionsForUser`.
   * Succeeds only with a passkey of `userId` and a challenge issued to `userId` for the second factor; a
   * sign-in challenge, another account's challenge or another account's passkey is refused. The caller decides
   * what the account's status means (the user has already passed the first factor).
   */
  verifyAssertionForUser(
    userId: string,
    credential: AuthenticationCredential,
    meta: RequestMeta,
  ): Promise<PasskeyResult<VerifiedAssertion>> {
    return this.verifyAssertion(credential, 'mfa', userId, meta);
  }

  private async requestOptions(
    ceremony: Ceremony,
    userId: string | null,
    allowCredentials: { id: string; transports?: string[] }[] | undefined,
    userVerification: UserVerification = this.deps.userVerification,
  ): Promise<PasskeyRequestOptions> {
    const options = await (await loadWebAuthn()).generateAuthenticationOptions({
      rpID: this.deps.rpId,
      timeout: CHALLENGE_TTL,
      userVerification,
      ...(allowCredentials ? { allowCredentials } : {}),
    });
    await this.challenges.issue(options.challenge, ceremony, userId);
    return options;
  }

  private async verifyAssertion(
    credential: AuthenticationCredential,
    ceremony: 'login' | 'mfa',
    expectedUserId: string | null,
    meta: RequestMeta,
  ): Promise<PasskeyResult<VerifiedAssertion>> {
    const { db, projectId } = this.deps;
    const fail = async (reason: PasskeyRefusal, row?: PasskeyRow, detail?: string) => {
      await this.recordCheck(ceremony, meta, {
        outcome: 'failure',
        userId: row?.user_id ?? expectedUserId,
        reason,
        passkeyId: row?.id,
      });
      return refuse(reason, detail);
    };
    const challenge = challengeOf(credential.response.clientDataJSON);
    if (challenge === null) return fail('challenge_unknown');
    const consumed = await this.challenges.consume(challenge, ceremony, expectedUserId);
    if (!consumed.ok) return fail(consumed.reason);
    const row = await findByCredentialId(db, projectId, credential.id);
    if (!row) return fail('unknown_credential');
    if (expectedUserId !== null && row.user_id !== expectedUserId) return fail('not_owner', row);
    const userHandle = credential.response.userHandle;
    if (userHandle && userHandle !== userHandleOf(row.user_id)) return fail('not_owner', row);
    let info: Awaited<ReturnType<WebAuthn['verifyAuthenticationResponse']>>['authenticationInfo'] | undefined;
    try {
      const verified = await (await loadWebAuthn()).verifyAuthenticationResponse({
        response: credential as AuthenticationResponseJSON,
        expectedChallenge: challenge,
        expectedOrigin: [...this.deps.origins],
        expectedRPID: this.deps.rpId,
        // Counter 0: the library checks the signature only; the counter is judged below (see the class comment).
        credential: {
          id: row.credential_id,
          publicKey: new Uint8Array(Buffer.from(row.public_key, 'base64url')),
          counter: 0,
          transports: transportsOf(row),
        },
        requireUserVerification: this.deps.userVerification === 'required',
      });
      info = verified.verified ? verified.authenticationInfo : undefined;
    } catch (error) {
      return fail('invalid', row, messageOf(error));
    }
    if (!info) return fail('invalid', row);
    const counter = info.newCounter;
    const now = this.deps.clock.now();
    const moved =
      (counter === 0 && row.counter === 0) || counter > row.counter
        ? await recordUse(db, row.id, { counter, backedUp: info.credentialBackedUp, now })
        : false;
    if (!moved) {
      if (!(await findByCredentialId(db, projectId, credential.id))) return fail('unknown_credential', row);
      await this.deps.audit.record(projectId, {
        event: 'passkey.clone_suspected',
        outcome: 'failure',
        subjectId: row.user_id,
        ...meta,
        details: { passkey_id: row.id, stored_counter: row.counter, received_counter: counter },
      });
      return fail('clone_suspected', row);
    }
    const passkey = { ...row, counter, last_used_at: now, backed_up: info.credentialBackedUp ? 1 : 0 };
    await this.recordCheck(ceremony, meta, {
      outcome: 'success',
      userId: row.user_id,
      passkeyId: row.id,
      userVerified: info.userVerified,
    });
    return { ok: true, value: { userId: row.user_id, passkey, userVerified: info.userVerified } };
  }

  private async recordCheck(
    ceremony: Ceremony,
    meta: RequestMeta,
    input: {
      outcome: 'success' | 'failure';
      userId: string | null;
      reason?: PasskeyRefusal;
      passkeyId?: string;
      userVerified?: boolean;
    },
  ): Promise<void> {
    await this.deps.audit.record(this.deps.projectId, {
      event: 'passkey.login',
      outcome: input.outcome,
      actorId: input.outcome === 'success' ? input.userId : null,
      subjectId: input.userId,
      ...meta,
      details: {
        purpose: ceremony === 'mfa' ? 'mfa' : 'login',
        ...(input.reason ? { reason: input.reason } : {}),
        ...(input.passkeyId ? { passkey_id: input.passkeyId } : {}),
        ...(input.userVerified !== undefined ? { user_verified: input.userVerified } : {}),
      },
    });
  }
}

/**
 * The WebAuthn user handle of an account: its id as UTF-8 bytes. A random UUID says nothing about the person,
 * and it lets a discoverable credential's `userHandle` be checked against the passkey's owner.
 */
function userHandleBytes(userId: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(userId, 'utf8'));
}

function userHandleOf(userId: string): string {
  return Buffer.from(userId, 'utf8').toString('base64url');
}

function transportsOf(row: PasskeyRow): string[] {
  return JSON.parse(row.transports) as string[];
}

/**
 * The challenge the browser signed into clientDataJSON, which names the ceremony to consume. Only read here to
 * find the stored challenge; the library checks clientDataJSON in full against it afterwards.
 */
function challengeOf(clientDataJSON: string): string | null {
  try {
    const parsed = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8')) as unknown;
    const challenge = (parsed as { challenge?: unknown } | null)?.challenge;
    return typeof challenge === 'string' && challenge.length > 0 && challenge.length <= 512 ? challenge : null;
  } catch {
    return null;
  }
}
