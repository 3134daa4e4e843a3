import type {
  ActivateFactorResult,
  AuthenticationCredential,
  AuthMode,
  MfaFactor,
  MfaFactorType,
  MfaMethod,
  MfaProofBody,
  MfaStatus,
  PasskeyRequestOptions,
  ProjectSettings,
  TotpEnrolment,
} from '@gatehouse/protocol';
import type { Kysely } from 'kysely';
import type { Caller, RequestMeta } from '../../caller.js';
import type { Clock } from '../../clock.js';
import { hmacSha256 } from '../../crypto/hash.js';
import { type PasswordParams, verifyPassword } from '../../crypto/password.js';
import { randomId } from '../../crypto/random.js';
import { open, seal } from '../../crypto/secret-box.js';
import { generateTotpSecret, totpUri, verifyTotp } from '../../crypto/totp.js';
import type { MfaFactorRow, Tables, UserProfile } from '../../db/types.js';
import { AuthError, forbidden, invalidCredentials, invalidPayload } from '../../errors/auth-error.js';
import type { Mailer } from '../../mail/index.js';
import type { AuditLog } from '../audit/index.js';
import { type IssuedTokens, RECENT_AUTH_MAX_AGE, requireRecentAuth } from '../auth/index.js';
import type { EmailTemplateService } from '../email-templates/index.js';
import { claimSendSlot, type OneTimeTokens } from '../one-time-tokens/index.js';
import {
  CHALLENGE_TTL as PASSKEY_CHALLENGE_TTL,
  type PasskeyRefusal,
  type PasskeyResult,
  passkeyAmr,
  passkeyRefusalError,
  type VerifiedAssertion,
} from '../passkeys/index.js';
import type { ProjectSettingsService } from '../projects/index.js';
import { hasPermission, PERMISSIONS } from '../roles/index.js';
import { findUserById, findUserWithPermissions, iso } from '../users/index.js';
import * as store from './store.js';

/** The mfa_token of a login that still needs its second step: 5 minutes, 5 attempts (codes and e-mail sends). */
const MFA_TOKEN_TTL = 5 * 60 * 1000;
const MFA_TOKEN_ATTEMPTS = 5;
/** E-mail codes: 6 digits, 5 minutes, 5 attempts, at most one mailed per 30 s. */
const EMAIL_CODE_TTL = 5 * 60 * 1000;
const EMAIL_CODE_ATTEMPTS = 5;
const EMAIL_RESEND_INTERVAL = 30 * 1000;
/**
 * Across challenges: every 10th consecutive wrong code of a user locks their second step for 30 s, then 1, 2, 5
 * and 15 minutes, then an hour each time, until a right code. A new password check does not reset it.
 */
const USER_ATTEMPT_LIMIT = 10;
const LOCKOUT_BACKOFF = [30_000, 60_000, 120_000, 300_000, 900_000, 3_600_000] as const;
const RECOVERY_CODE_COUNT = 10;
/** 12 characters of a 32-letter alphabet without 0/o and 1/l: 60 bits each. */
const RECOVERY_ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';
const RECOVERY_CODE_LENGTH = 12;

const PURPOSE_LOGIN = 'mfa_login';
const PURPOSE_EMAIL_CODE = 'mfa_email';
const PURPOSE_EMAIL_SETUP = 'mfa_email_setup';

/**
 * The `amr` values (RFC 8176) a second step adds to the first factor's (`pwd` for a password): a TOTP or e-mail
 * code is a one-time password (`otp`) and a recovery code is not, and every second step makes it a
 * multiple-factor sign-in (`mfa`). A password and TOTP give `["pwd","otp","mfa"]`.
 */
const SECOND_AMR: Record<CodeMethod, string[]> = {
  totp: ['otp', 'mfa'],
  email: ['otp', 'mfa'],
  recovery_code: ['mfa'],
};

/** The second-step methods that take a typed code; `webauthn` takes a passkey assertion. */
type CodeMethod = Exclude<MfaMethod, 'webauthn'>;

function amrOf(first: readonly string[], second: readonly string[]): string[] {
  return [...new Set([...first, ...second])];
}

/** Whether the first factor of a sign-in was a passkey (then a passkey second step must verify the user). */
const afterPasskey = (firstAmr: readonly string[]) => firstAmr.includes('webauthn');

export interface SignInInput {
  userId: string;
  mode: AuthMode;
  amr: string[];
  meta: RequestMeta;
  method: string;
}

export interface MfaServiceDeps {
  db: Kysely<Tables>;
  clock: Clock;
  projectId: string;
  settings: ProjectSettingsService;
  audit: AuditLog;
  mailer: Mailer;
  templates: EmailTemplateService;
  tokens: OneTimeTokens;
  /** Seals TOTP secrets at rest (deriveKey(secret, 'mfa-totp')). */
  sealKey: Uint8Array;
  /** Keys the HMAC of recovery codes (deriveKey(secret, 'mfa-recovery-codes')). */
  recoveryKey: Uint8Array;
  publicUrl: string;
  passwordParams: PasswordParams;
  /** Opens a session and issues its tokens, as a password sign-in does. */
  signIn(input: SignInInput): Promise<IssuedTokens>;
  /** A short access token that only admits the enrolment routes (scope `mfa_enrollment`). */
  issueSetupToken(input: { userId: string; meta: RequestMeta }): Promise<{ token: string; expires: number }>;
  /** The account's passkeys as a second factor (features/passkeys). */
  passkeys: PasskeyFactor;
}

/** What the second step needs of the passkeys feature (`PasskeyService`). */
export interface PasskeyFactor {
  countPasskeys(userId: string): Promise<number>;
  authenticationOptionsForUser(
    userId: string,
    options?: { userVerification?: 'required' },
  ): Promise<PasskeyRequestOptions | null>;
  verifyAssertionForUser(
    userId: string,
    credential: AuthenticationCredential,
    meta: RequestMeta,
  ): Promise<PasskeyResult<VerifiedAssertion>>;
}

/** The account a second step is for: what the password check found. */
export interface MfaSubject {
  id: string;
  email: string;
  role: string;
  /** Chooses the templates' locale, as for every account message. */
  language?: string | null;
}

type CodeCheck = { ok: true; method: CodeMethod } | { ok: false; reason: 'wrong_code' } | LockedOut;
type PasskeyCheck =
  | { ok: true; amr: string[] }
  | { ok: false; reason: PasskeyRefusal | 'user_not_verified' }
  | LockedOut;
interface LockedOut {
  ok: false;
  reason: 'locked';
  lockedUntil: number;
}

const active = (factor: MfaFactorRow) => factor.confirmed_at !== null;

/**
 * Second factors: TOTP (RFC 6238) and e-mail codes, recovery codes as the fallback, passkeys (features/passkeys)
 * as a second step, the second step of sign-in, and the project's and roles' requirement of MFA.
 *
 * What holds under parallel requests: a TOTP factor stores the last time step it accepted and a conditional
 * UPDATE accepts only later ones, so one code signs in once; a recovery code is used by a conditional UPDATE;
 * the mfa_token counts each attempt before the code is checked (5 at most); and each user's attempts are
 * counted, before the check too, towards a lockout with backoff that spans challenges.
 */
export class MfaService {
  constructor(private readonly deps: MfaServiceDeps) {}

  // --- sign-in --------------------------------------------------------------------------------------------

  /**
   * The step after a first factor (a right password, a magic link, a sign-in code, a passkey): answers the `amr` of the
   * sign-in, or throws what the client must do next: INVALID_OTP with an `mfa_token` (a second factor is needed,
   * or `otp` was wrong), MFA_SETUP_REQUIRED with a setup token (one is required and there is none),
   * REQUESTS_EXCEEDED (locked out).
   */
  async afterFirstFactor(
    user: MfaSubject,
    input: { amr: string[]; method: string; otp?: string; mode: AuthMode; meta: RequestMeta },
  ): Promise<string[]> {
    const settings = await this.deps.settings.get(this.deps.projectId);
    if (settings.mfa === 'off') return input.amr;
    const factors = (await store.listFactors(this.deps.db, user.id)).filter(active);
    // A first factor that is two by itself (a passkey whose authenticator verified the user: `mfa` in its amr) is
    // the whole of MFA, whatever factors the account has or the project requires. Only a flow that proved two
    // factors may put `mfa` in the amr it hands to AuthService.signIn.
    if (input.amr.includes('mfa')) {
      if (factors.length > 0) {
        await this.recordCheck(user.id, input.meta, 'success', { method: input.method, via: 'first_factor' });
      }
      return input.amr;
    }
    // A passkey counts as having a second factor for the requirement (docs/mfa.md), but does not by itself turn the
    // second step on for an account that is not required to have one.
    if (factors.length === 0 && !(await this.isRequired(user, settings))) return input.amr;
    const hasPasskey = (await this.deps.passkeys.countPasskeys(user.id)) > 0;
    if (factors.length === 0 && !hasPasskey) {
      const setup = await this.deps.issueSetupToken({ userId: user.id, meta: input.meta });
      await this.recordCheck(user.id, input.meta, 'failure', { reason: 'setup_required' });
      throw new AuthError('MFA_SETUP_REQUIRED', 'A second factor is required: set one up to sign in.', {
        extensions: { setup_token: setup.token, expires: setup.expires },
      });
    }
    if (input.otp !== undefined) {
      const check = await this.checkCode(user, factors, input.otp, null);
      if (check.ok) {
        await this.recordCheck(user.id, input.meta, 'success', { method: check.method, via: input.method });
        return amrOf(input.amr, SECOND_AMR[check.method]);
      }
      await this.recordCheck(user.id, input.meta, 'failure', { reason: check.reason, via: input.method });
      if (check.reason === 'locked') throw lockedError(check, this.deps.clock.now());
    }
    const challenge = await this.openChallenge(user, factors, hasPasskey, input);
    throw new AuthError(
      'INVALID_OTP',
      input.otp === undefined ? 'A second factor is required.' : 'The one-time password is wrong.',
      { extensions: challenge },
    );
  }

  /**
   * For the sign-in an mfa_token stands for: mails an e-mail code (`email`), or answers WebAuthn request options
   * listing the account's passkeys, with a challenge bound to the account and the second-factor ceremony
   * (`webauthn`; after a passkey sign-in without user verification, they ask for it).
   */
  async challenge(
    mfaToken: string,
    method: 'email' | 'webauthn',
    meta: RequestMeta,
  ): Promise<{ expires: number; options?: PasskeyRequestOptions }> {
    const { user, data } = await this.openToken(mfaToken, meta);
    if (method === 'webauthn') {
      const options = await this.deps.passkeys.authenticationOptionsForUser(
        user.id,
        afterPasskey(firstAmrOf(data)) ? { userVerification: 'required' } : {},
      );
      if (!options) throw invalidPayload('This account has no passkey.');
      return { expires: PASSKEY_CHALLENGE_TTL, options };
    }
    const factors = (await store.listFactors(this.deps.db, user.id)).filter(active);
    if (!factors.some((factor) => factor.type === 'email')) {
      throw invalidPayload('E-mail codes are not set up for this account.');
    }
    return this.sendCode(user, PURPOSE_EMAIL_CODE);
  }

  /** Finishes a sign-in with a code or a passkey assertion; the mfa_token is used up only by a right one. */
  async verify(
    input: {
      mfaToken: string;
      method: MfaMethod;
      code?: string;
      credential?: AuthenticationCredential;
      mode?: AuthMode;
      /** Throws unless the request comes from a trusted origin; run when the answer will set cookies. */
      checkOrigin(): void;
    },
    meta: RequestMeta,
  ): Promise<IssuedTokens> {
    const answer = answerOf(input);
    const { user, data } = await this.openToken(input.mfaToken, meta);
    // The mode of the login this finishes, unless the call names one.
    const mode = input.mode ?? (data.mode === 'cookie' || data.mode === 'session' ? data.mode : 'json');
    if (mode !== 'json') input.checkOrigin();
    const first = firstAmrOf(data);
    let second: string[];
    if (answer.method === 'webauthn') {
      const check = await this.checkPasskey(user, answer.credential, first, meta);
      if (!check.ok) {
        await this.recordCheck(user.id, meta, 'failure', { reason: check.reason, method: 'webauthn' });
        if (check.reason === 'locked') throw lockedError(check, this.deps.clock.now());
        throw check.reason === 'user_not_verified'
          ? passkeyRefusalError({ reason: 'invalid', detail: 'no user verification after a passkey sign-in' })
          : passkeyRefusalError({ reason: check.reason });
      }
      second = check.amr;
    } else {
      const factors = (await store.listFactors(this.deps.db, user.id)).filter(active);
      const check = await this.checkCode(user, factors, answer.code, answer.method);
      if (!check.ok) {
        await this.recordCheck(user.id, meta, 'failure', { reason: check.reason, method: answer.method });
        if (check.reason === 'locked') throw lockedError(check, this.deps.clock.now());
        throw new AuthError('INVALID_OTP', 'The one-time password is wrong.');
      }
      second = SECOND_AMR[check.method];
    }
    const redeemed = await this.deps.tokens.redeemToken(PURPOSE_LOGIN, input.mfaToken);
    if (!redeemed.ok) {
      await this.recordCheck(user.id, meta, 'failure', { reason: redeemed.reason, method: input.method });
      throw new AuthError('INVALID_TOKEN', 'The MFA token is no longer valid: sign in again.');
    }
    await this.recordCheck(user.id, meta, 'success', { method: input.method, via: 'verify' });
    const firstMethod = typeof data.method === 'string' ? data.method : 'password';
    return this.deps.signIn({
      userId: user.id,
      mode,
      amr: amrOf(first, second),
      meta,
      method: `${firstMethod}+${input.method}`,
    });
  }

  // --- self-service ---------------------------------------------------------------------------------------

  async status(account: UserProfile): Promise<MfaStatus> {
    const factors = await store.listFactors(this.deps.db, account.id);
    const confirmed = factors.filter(active);
    const settings = await this.deps.settings.get(account.project_id);
    return {
      enabled: confirmed.length > 0,
      required: settings.mfa !== 'off' && (await this.isRequired(account, settings)),
      default: defaultOf(confirmed)?.type ?? null,
      factors: factors.map(toFactor),
      recovery_codes_remaining: await store.countRecoveryCodes(this.deps.db, account.id),
      passkeys: await this.deps.passkeys.countPasskeys(account.id),
    };
  }

  /** Starts a TOTP enrolment: a new secret, its otpauth URI and QR code. Active once a code is confirmed. */
  async enrolTotp(account: UserProfile): Promise<TotpEnrolment> {
    await this.ensureEnrolable(account, 'totp');
    const secret = generateTotpSecret();
    const id = randomId();
    await store.deletePending(this.deps.db, account.id, 'totp');
    await store.insertFactor(this.deps.db, {
      id,
      project_id: account.project_id,
      user_id: account.id,
      type: 'totp',
      secret: seal(this.deps.sealKey, secret, id),
      is_default: 0,
      last_step: null,
      created_at: this.deps.clock.now(),
      confirmed_at: null,
    });
    const otpauthUrl = totpUri(secret, { issuer: new URL(this.deps.publicUrl).host, label: account.email });
    // Loaded on the first enrolment rather than at start.
    const { default: QRCode } = await import('qrcode');
    const svg = await QRCode.toString(otpauthUrl, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    return {
      id,
      secret,
      otpauth_url: otpauthUrl,
      qr_code: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`,
    };
  }

  /** Starts an e-mail-code enrolment: mails a code to the account's address. */
  async enrolEmail(account: UserProfile): Promise<{ id: string; expires: number }> {
    await this.ensureEnrolable(account, 'email');
    const id = randomId();
    await store.deletePending(this.deps.db, account.id, 'email');
    await store.insertFactor(this.deps.db, {
      id,
      project_id: account.project_id,
      user_id: account.id,
      type: 'email',
      secret: null,
      is_default: 0,
      last_step: null,
      created_at: this.deps.clock.now(),
      confirmed_at: null,
    });
    const sent = await this.sendCode(account, PURPOSE_EMAIL_SETUP);
    return { id, expires: sent.expires };
  }

  /** Confirms a pending factor with one valid code; the first factor of an account comes with recovery codes. */
  async activate(
    account: UserProfile,
    factorId: string,
    code: string,
    meta: RequestMeta,
  ): Promise<ActivateFactorResult> {
    const { db, clock } = this.deps;
    const factor = await store.findFactor(db, account.id, factorId);
    if (!factor) throw new AuthError('RECORD_NOT_FOUND', 'Factor not found.');
    if (factor.confirmed_at !== null) throw invalidPayload('This factor is already active.');
    const reservation = await this.reserve(account.id);
    if (!reservation.ok) throw lockedError(reservation, clock.now());
    const right =
      factor.type === 'totp'
        ? await this.matchTotp(factor, code)
        : (
            await this.deps.tokens.checkCode({
              projectId: account.project_id,
              purpose: PURPOSE_EMAIL_SETUP,
              identifier: account.email,
              code,
              consume: true,
            })
          ).ok;
    if (!right) {
      await this.recordCheck(account.id, meta, 'failure', { reason: 'wrong_code', via: 'activate' });
      throw new AuthError('INVALID_OTP', 'The one-time password is wrong.');
    }
    await store.clearAttempts(db, account.id);
    const now = clock.now();
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    const first = await db.transaction().execute(async (trx) => {
      await store.lockAccount(trx, account.id);
      const isFirst = (await store.listFactors(trx, account.id)).filter(active).length === 0;
      if (!(await store.confirmFactor(trx, factor.id, now, isFirst))) return null;
      if (isFirst) await store.replaceRecoveryCodes(trx, this.recoveryRows(account, codes));
      return isFirst;
    });
    if (first === null) throw invalidPayload('This factor is already active.');
    await this.deps.audit.record(account.project_id, {
      event: 'mfa.factor_enrolled',
      actorId: account.id,
      subjectId: account.id,
      ...meta,
      details: { factor_id: factor.id, type: factor.type },
    });
    const confirmed = toFactor({ ...factor, confirmed_at: now, is_default: first ? 1 : 0 });
    if (!first) return { factor: confirmed };
    await this.recordRecoveryCodes(account, codes.length, meta);
    return { factor: confirmed, recovery_codes: codes };
  }

  /** A new set of recovery codes; the earlier set stops working. */
  async regenerateRecoveryCodes(
    caller: Caller,
    account: UserProfile,
    proof: MfaProofBody,
    meta: RequestMeta,
  ): Promise<string[]> {
    await this.requireProof(caller, account, proof, meta);
    if ((await store.listFactors(this.deps.db, account.id)).filter(active).length === 0) {
      throw invalidPayload('Multi-factor authentication is not on for this account.');
    }
    return this.newRecoveryCodes(account, meta);
  }

  async setDefault(caller: Caller, account: UserProfile, factorId: string, proof: MfaProofBody, meta: RequestMeta) {
    const factor = await store.findFactor(this.deps.db, account.id, factorId);
    if (!factor || !active(factor)) throw new AuthError('RECORD_NOT_FOUND', 'Factor not found.');
    await this.requireProof(caller, account, proof, meta);
    await store.setDefault(this.deps.db, account.id, factor.id);
    await this.deps.audit.record(account.project_id, {
      event: 'mfa.default_changed',
      actorId: caller.actorId ?? account.id,
      subjectId: account.id,
      ...meta,
      details: { factor_id: factor.id, type: factor.type },
    });
  }

  /** Removes one factor. Removing the last active one turns MFA off, and needs what turning it off needs. */
  async removeFactor(caller: Caller, account: UserProfile, factorId: string, proof: MfaProofBody, meta: RequestMeta) {
    const { db } = this.deps;
    const factor = await store.findFactor(db, account.id, factorId);
    if (!factor) throw new AuthError('RECORD_NOT_FOUND', 'Factor not found.');
    const others = (await store.listFactors(db, account.id)).filter((row) => active(row) && row.id !== factor.id);
    if (active(factor) && others.length === 0) return this.disable(caller, account, proof, meta);
    if (active(factor)) await this.requireProof(caller, account, proof, meta);
    await store.deleteFactor(db, account.id, factor.id);
    if (factor.is_default === 1 && others[0]) await store.setDefault(db, account.id, others[0].id);
    await this.deps.audit.record(account.project_id, {
      event: 'mfa.factor_removed',
      actorId: caller.actorId ?? account.id,
      subjectId: account.id,
      ...meta,
      details: { factor_id: factor.id, type: factor.type },
    });
  }

  /**
   * Turns MFA off: every factor and recovery code goes. A sensitive action: it needs a recent sign-in that used a
   * second factor, and the password or a current code; a user whom the project or role requires MFA of cannot.
   */
  async disable(caller: Caller, account: UserProfile, proof: MfaProofBody, meta: RequestMeta): Promise<void> {
    const { db, clock } = this.deps;
    if ((await store.listFactors(db, account.id)).filter(active).length === 0) {
      throw invalidPayload('Multi-factor authentication is not on for this account.');
    }
    requireRecentAuth(caller, RECENT_AUTH_MAX_AGE, clock.now(), { amr: 'mfa' });
    const settings = await this.deps.settings.get(account.project_id);
    if (settings.mfa !== 'off' && (await this.isRequired(account, settings))) {
      throw forbidden('Multi-factor authentication is required for this account and cannot be turned off.');
    }
    await this.requireProof(caller, account, proof, meta);
    const removed = await db.transaction().execute(async (trx) => {
      await store.lockAccount(trx, account.id);
      const count = await store.deleteAllFactors(trx, account.id);
      await store.replaceRecoveryCodes(trx, {
        projectId: account.project_id,
        userId: account.id,
        hashes: [],
        now: clock.now(),
      });
      return count;
    });
    if (removed === 0) throw invalidPayload('Multi-factor authentication is not on for this account.');
    await this.deps.audit.record(account.project_id, {
      event: 'mfa.disabled',
      actorId: caller.actorId ?? account.id,
      subjectId: account.id,
      ...meta,
      details: { factors: removed },
    });
  }

  // --- internals ------------------------------------------------------------------------------------------

  /** Whether the project or the account's role requires a second factor of this account. */
  private async isRequired(user: { id: string; role: string }, settings: ProjectSettings): Promise<boolean> {
    if (settings.mfa === 'required') return true;
    if (await store.roleRequiresMfa(this.deps.db, this.deps.projectId, user.role)) return true;
    if (settings.mfa !== 'required_for_admins') return false;
    // An administrator is anyone whose role grants one of the server's own permissions (or `*`).
    const found = await findUserWithPermissions(this.deps.db, user.id);
    const granted = found?.permissions ?? [];
    return Object.keys(PERMISSIONS).some((permission) => hasPermission(granted, permission));
  }

  private async ensureEnrolable(account: UserProfile, type: MfaFactorType): Promise<void> {
    const settings = await this.deps.settings.get(account.project_id);
    if (settings.mfa === 'off') throw forbidden('Multi-factor authentication is turned off for this project.');
    const existing = await store.listFactors(this.deps.db, account.id);
    if (existing.some((factor) => factor.type === type && active(factor))) {
      throw new AuthError('RECORD_NOT_UNIQUE', `A ${type === 'totp' ? 'TOTP' : 'e-mail'} factor is already active.`);
    }
  }

  /** The mfa_token stands for the first factor just checked: it carries that sign-in's mode, amr and method. */
  private async openChallenge(
    user: MfaSubject,
    factors: MfaFactorRow[],
    hasPasskey: boolean,
    first: { mode: AuthMode; amr: string[]; method: string },
  ) {
    const issued = await this.deps.tokens.issueToken({
      projectId: this.deps.projectId,
      purpose: PURPOSE_LOGIN,
      identifier: user.id,
      // Not sent anywhere: the token goes back in the login answer; codes it leads to go by e-mail.
      channel: 'email',
      ttl: MFA_TOKEN_TTL,
      userId: user.id,
      data: { mode: first.mode, amr: first.amr, method: first.method },
      maxAttempts: MFA_TOKEN_ATTEMPTS,
    });
    const methods: MfaMethod[] = [...new Set(factors.map((factor) => factor.type))];
    if (hasPasskey) methods.push('webauthn');
    if ((await store.countRecoveryCodes(this.deps.db, user.id)) > 0) methods.push('recovery_code');
    const preferred: MfaMethod | null = defaultOf(factors)?.type ?? (hasPasskey ? 'webauthn' : null);
    return { mfa_token: issued.token, expires: MFA_TOKEN_TTL, methods, default: preferred };
  }

  /** Counts one attempt against an mfa_token and answers the account it is for, or throws why not. */
  private async openToken(mfaToken: string, meta: RequestMeta) {
    const attempt = await this.deps.tokens.attemptToken(PURPOSE_LOGIN, mfaToken);
    if (!attempt.ok) {
      if (attempt.reason !== 'unknown') {
        await this.recordCheck(null, meta, 'failure', { reason: attempt.reason });
      }
      if (attempt.reason === 'expired') {
        throw new AuthError('TOKEN_EXPIRED', 'The MFA token has expired: sign in again.');
      }
      if (attempt.reason === 'too_many_attempts') {
        throw new AuthError('TOO_MANY_ATTEMPTS', 'The MFA token has had its 5 tries: sign in again.');
      }
      throw new AuthError('INVALID_TOKEN', 'The MFA token is not valid: sign in again.');
    }
    const user = attempt.row.user_id === null ? undefined : await findUserById(this.deps.db, attempt.row.user_id);
    if (user?.status !== 'active') throw invalidCredentials();
    return { user, data: attempt.data };
  }

  private async sendCode(
    user: { id: string; email: string; language?: string | null },
    purpose: string,
  ): Promise<{ expires: number }> {
    const { tokens, clock, projectId } = this.deps;
    const now = clock.now();
    // One conditional upsert decides, so parallel requests send one code (a second would end the first).
    const slot = { projectId, purpose, identifier: user.email, now, interval: EMAIL_RESEND_INTERVAL };
    if (!(await claimSendSlot(this.deps.db, slot))) {
      const last = (await tokens.lastIssuedAt(projectId, purpose, user.email)) ?? now;
      const retryAfter = Math.max(1, Math.ceil((last + EMAIL_RESEND_INTERVAL - now) / 1000));
      throw new AuthError('REQUESTS_EXCEEDED', 'A code was sent moments ago; wait before asking for another.', {
        extensions: { retryAfter },
      });
    }
    const issued = await tokens.issueCode({
      projectId,
      purpose,
      identifier: user.email,
      channel: 'email',
      ttl: EMAIL_CODE_TTL,
      userId: user.id,
      maxAttempts: EMAIL_CODE_ATTEMPTS,
    });
    const mail = await this.deps.templates.render(projectId, 'mfa_code', user.language ?? null, {
      code: issued.code,
      site: new URL(this.deps.publicUrl).host,
      minutes: String(EMAIL_CODE_TTL / 60_000),
    });
    await this.deps.mailer.send({ projectId, kind: 'mfa_code', to: user.email, ...mail });
    return { expires: EMAIL_CODE_TTL };
  }

  private reserve(userId: string): Promise<store.Reservation> {
    return store.reserveAttempt(this.deps.db, {
      projectId: this.deps.projectId,
      userId,
      now: this.deps.clock.now(),
      limit: USER_ATTEMPT_LIMIT,
      backoff: LOCKOUT_BACKOFF,
    });
  }

  /**
   * Checks a code against the account's active factors (or only `method`'s): TOTP, a mailed code, a recovery
   * code. The attempt is counted against the user first; a right code clears the count.
   */
  private async checkCode(
    user: MfaSubject,
    factors: MfaFactorRow[],
    code: string,
    method: CodeMethod | null,
  ): Promise<CodeCheck> {
    const reservation = await this.reserve(user.id);
    if (!reservation.ok) return { ok: false, reason: 'locked', lockedUntil: reservation.lockedUntil };
    const matched = await this.match(user, factors, code.trim(), method);
    if (!matched) return { ok: false, reason: 'wrong_code' };
    await store.clearAttempts(this.deps.db, user.id);
    return { ok: true, method: matched };
  }

  private async match(
    user: MfaSubject,
    factors: MfaFactorRow[],
    code: string,
    method: CodeMethod | null,
  ): Promise<CodeMethod | null> {
    const wants = (candidate: CodeMethod) => method === null || method === candidate;
    if (/^\d{6}$/.test(code)) {
      const totp = factors.find((factor) => factor.type === 'totp');
      if (totp && wants('totp') && (await this.matchTotp(totp, code))) return 'totp';
      if (wants('email') && factors.some((factor) => factor.type === 'email')) {
        const checked = await this.deps.tokens.checkCode({
          projectId: this.deps.projectId,
          purpose: PURPOSE_EMAIL_CODE,
          identifier: user.email,
          code,
          consume: true,
        });
        if (checked.ok) return 'email';
      }
      return null;
    }
    if (wants('recovery_code') && (await this.useRecoveryCode(user, code))) return 'recovery_code';
    return null;
  }

  /**
   * Checks a passkey assertion answering the webauthn challenge of `user`'s second step, counted against the
   * user's lockout as a code is. After a passkey first factor the assertion must carry user verification: the same
   * possession twice is one factor.
   */
  private async checkPasskey(
    user: MfaSubject,
    credential: AuthenticationCredential,
    firstAmr: readonly string[],
    meta: RequestMeta,
  ): Promise<PasskeyCheck> {
    const reservation = await this.reserve(user.id);
    if (!reservation.ok) return { ok: false, reason: 'locked', lockedUntil: reservation.lockedUntil };
    const result = await this.deps.passkeys.verifyAssertionForUser(user.id, credential, meta);
    if (!result.ok) return { ok: false, reason: result.reason };
    if (afterPasskey(firstAmr) && !result.value.userVerified) return { ok: false, reason: 'user_not_verified' };
    await store.clearAttempts(this.deps.db, user.id);
    // Possession of the key after a password (or with its PIN or biometric): `mfa` either way.
    return { ok: true, amr: passkeyAmr({ passkey: result.value.passkey, userVerified: true }) };
  }

  /** A right TOTP code of a time step later than the last one this factor accepted; claims that step. */
  private async matchTotp(factor: MfaFactorRow, code: string): Promise<boolean> {
    if (factor.secret === null) return false;
    const secret = open(this.deps.sealKey, factor.secret, factor.id);
    if (secret === null) return false;
    const step = verifyTotp(secret, code, this.deps.clock.now());
    if (step === null) return false;
    return store.claimTotpStep(this.deps.db, factor.id, step);
  }

  private async useRecoveryCode(user: MfaSubject, code: string): Promise<boolean> {
    const normalized = normalizeRecoveryCode(code);
    if (normalized.length !== RECOVERY_CODE_LENGTH) return false;
    const used = await store.useRecoveryCode(
      this.deps.db,
      user.id,
      this.recoveryHash(user.id, normalized),
      this.deps.clock.now(),
    );
    if (used) await this.notifyRecoveryCodeUsed(user);
    return used;
  }

  private async notifyRecoveryCodeUsed(user: MfaSubject): Promise<void> {
    const { projectId, clock } = this.deps;
    const remaining = await store.countRecoveryCodes(this.deps.db, user.id);
    const mail = await this.deps.templates.render(projectId, 'recovery_code_used', user.language ?? null, {
      site: new URL(this.deps.publicUrl).host,
      remaining: String(remaining),
      time: new Date(clock.now()).toUTCString(),
    });
    await this.deps.mailer.send({ projectId, kind: 'recovery_code_used', to: user.email, ...mail });
    await this.deps.audit.record(projectId, {
      event: 'mfa.recovery_code_used',
      actorId: user.id,
      subjectId: user.id,
      details: { remaining },
    });
  }

  private async newRecoveryCodes(account: UserProfile, meta: RequestMeta): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    await this.deps.db.transaction().execute(async (trx) => {
      await store.lockAccount(trx, account.id);
      await store.replaceRecoveryCodes(trx, this.recoveryRows(account, codes));
    });
    await this.recordRecoveryCodes(account, codes.length, meta);
    return codes;
  }

  private recoveryRows(account: UserProfile, codes: string[]) {
    return {
      projectId: account.project_id,
      userId: account.id,
      hashes: codes.map((code) => ({
        id: randomId(),
        hash: this.recoveryHash(account.id, normalizeRecoveryCode(code)),
      })),
      now: this.deps.clock.now(),
    };
  }

  private async recordRecoveryCodes(account: UserProfile, count: number, meta: RequestMeta): Promise<void> {
    await this.deps.audit.record(account.project_id, {
      event: 'mfa.recovery_codes_generated',
      actorId: account.id,
      subjectId: account.id,
      ...meta,
      details: { count },
    });
  }

  /** Recovery codes carry 60 random bits, so a keyed hash (not a slow one) is enough; bound to the user. */
  private recoveryHash(userId: string, normalized: string): string {
    return hmacSha256(this.deps.recoveryKey, `${userId}:${normalized}`);
  }

  /** The password, or a current code of the account's second factors (TOTP, mailed code or recovery code). */
  private async requireProof(caller: Caller, account: UserProfile, proof: MfaProofBody, meta: RequestMeta) {
    if (proof.password !== undefined) {
      const row = await this.deps.db
        .selectFrom('users')
        .select('password_hash')
        .where('id', '=', account.id)
        .executeTakeFirst();
      const result = await verifyPassword(row?.password_hash ?? null, proof.password, this.deps.passwordParams);
      if (!result.valid) throw new AuthError('INVALID_CREDENTIALS', 'The password is wrong.');
      return;
    }
    if (proof.otp !== undefined) {
      const factors = (await store.listFactors(this.deps.db, account.id)).filter(active);
      const check = await this.checkCode(account, factors, proof.otp, null);
      if (check.ok) return;
      await this.recordCheck(caller.userId, meta, 'failure', { reason: check.reason, via: 'proof' });
      if (check.reason === 'locked') throw lockedError(check, this.deps.clock.now());
      throw new AuthError('INVALID_OTP', 'The one-time password is wrong.');
    }
    throw invalidPayload('This needs the password or a current one-time password ("password" or "otp").');
  }

  private async recordCheck(
    userId: string | null,
    meta: RequestMeta,
    outcome: 'success' | 'failure',
    details: Record<string, unknown>,
  ): Promise<void> {
    await this.deps.audit.record(this.deps.projectId, {
      event: 'auth.mfa',
      outcome,
      ...(outcome === 'success' && userId ? { actorId: userId } : {}),
      subjectId: userId,
      ...meta,
      details,
    });
  }
}

function lockedError(locked: { lockedUntil: number }, now: number): AuthError {
  const retryAfter = Math.max(1, Math.ceil((locked.lockedUntil - now) / 1000));
  return new AuthError('REQUESTS_EXCEEDED', 'Too many wrong codes: try again later.', { extensions: { retryAfter } });
}

/** The first factor's amr an mfa_token carries. */
function firstAmrOf(data: Record<string, unknown>): string[] {
  return Array.isArray(data.amr) ? data.amr.map(String) : ['pwd'];
}

/** A verify body's answer for its method: a `credential` for `webauthn`, a `code` for the others, not both. */
function answerOf(input: {
  method: MfaMethod;
  code?: string;
  credential?: AuthenticationCredential;
}): { method: 'webauthn'; credential: AuthenticationCredential } | { method: CodeMethod; code: string } {
  if (input.method === 'webauthn') {
    if (input.credential === undefined || input.code !== undefined) {
      throw invalidPayload('A passkey answer goes in "credential" (and no "code").');
    }
    return { method: 'webauthn', credential: input.credential };
  }
  if (input.code === undefined || input.credential !== undefined) {
    throw invalidPayload(`The method "${input.method}" needs a "code" (and no "credential").`);
  }
  return { method: input.method, code: input.code };
}

function defaultOf(factors: MfaFactorRow[]): MfaFactorRow | undefined {
  return factors.find((factor) => factor.is_default === 1) ?? factors[0];
}

function toFactor(row: MfaFactorRow): MfaFactor {
  return {
    id: row.id,
    type: row.type,
    is_default: row.is_default === 1,
    active: row.confirmed_at !== null,
    created_at: iso(row.created_at),
    confirmed_at: row.confirmed_at === null ? null : iso(row.confirmed_at),
  };
}

function newRecoveryCode(): string {
  const bytes = new Uint8Array(RECOVERY_CODE_LENGTH);
  crypto.getRandomValues(bytes);
  // 256 is a multiple of 32, so taking each byte modulo 32 is uniform.
  const chars = Array.from(bytes, (byte) => RECOVERY_ALPHABET[byte % RECOVERY_ALPHABET.length]).join('');
  return `${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8)}`;
}

/** Case and separators do not matter when a code is typed back. */
function normalizeRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '');
}
