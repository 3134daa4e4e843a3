import {
  type ActivateBody,
  type AuthMode,
  type CodeCheckBody,
  type CodeGenerateBody,
  type CodeLoginBody,
  type CodePurpose,
  type MagicLinkBody,
  PHONE_PATTERN,
} from '@gatehouse/protocol';
import type { Kysely } from 'kysely';
import type { RequestMeta } from '../../caller.js';
import type { Clock } from '../../clock.js';
import { isUniqueViolation } from '../../db/database.js';
import type { OneTimeTokenRow, Tables, UserProfile } from '../../db/types.js';
import { isAllowedUrl } from '../../http/allowed-url.js';
import type { Mailer } from '../../mail/index.js';
import type { AuditLog } from '../audit/index.js';
import type { AuthService, IssuedTokens } from '../auth/index.js';
import type { EmailTemplateService } from '../email-templates/index.js';
import type { OneTimeTokens, RedeemResult } from '../one-time-tokens/index.js';
import { claimSendSlot } from '../one-time-tokens/index.js';
import type { ProjectSettingsService } from '../projects/index.js';
import { findUserByEmail, findUserById, insertUser, newUserRow, normalizeEmail, updateUser } from '../users/index.js';

/** Purposes as stored in one_time_tokens; prefixed so they cannot meet another flow's. */
export const MAGIC_LINK_PURPOSE = 'magic_link';
const codePurpose = (purpose: CodePurpose | 'verify_phone'): string => `code:${purpose}`;
/** Every code allows this many checks in all, right or wrong. */
export const CODE_MAX_ATTEMPTS = 5;

const ACTIONS: Record<CodePurpose | 'verify_phone', string> = {
  login: 'sign in',
  activate: 'activate your account',
  verify_phone: 'confirm your phone number',
};

const phonePattern = new RegExp(PHONE_PATTERN);
const emailPattern = /^[^\s@]+@[^\s@]+$/;

export type Identifier = { kind: 'email'; value: string } | { kind: 'phone'; value: string };

/** An e-mail (normalized) or an E.164 phone number; null for anything else. */
export function parseIdentifier(raw: string): Identifier | null {
  const trimmed = raw.trim();
  if (phonePattern.test(trimmed)) return { kind: 'phone', value: trimmed };
  if (emailPattern.test(trimmed)) return { kind: 'email', value: normalizeEmail(trimmed) };
  return null;
}

/** Where a secret was sent: `data.to` for codes, the identifier (an e-mail) for magic links. */
function sentToOf(row: OneTimeTokenRow): string {
  const data = JSON.parse(row.data) as { to?: unknown };
  return typeof data.to === 'string' ? data.to : row.identifier;
}

export interface PasswordlessDeps {
  db: Kysely<Tables>;
  clock: Clock;
  projectId: string;
  tokens: OneTimeTokens;
  mailer: Mailer;
  templates: EmailTemplateService;
  audit: AuditLog;
  settings: ProjectSettingsService;
  auth: AuthService;
  publicUrl: string;
  redirectAllowList: readonly string[];
  magicLinkTtl: number;
  codeTtl: number;
  resendInterval: number;
}

export type SignInFailure = 'unknown' | 'used' | 'expired' | 'too_many_attempts' | 'suspended' | 'not_active';
export type SignInResult =
  | { ok: true; issued: IssuedTokens; redirect: string | null }
  | { ok: false; reason: SignInFailure | 'signup_closed' };

/** Why nothing was sent, for the audit log only: the caller is answered 204 either way. */
type NotSent = 'cooldown' | 'unknown_user' | 'signup_closed' | 'suspended' | 'not_active' | 'no_phone';

/**
 * Passwordless sign-in (magic links) and one-time codes (activation, sign-in, phone confirmation).
 *
 * Requests never tell whether an account exists: every request answers the same, and whether anything is sent
 * is decided after a per-address cool-down slot has been claimed, which every request claims alike. Secrets are
 * issued by OneTimeTokens (digests only in the database); codes allow CODE_MAX_ATTEMPTS checks, counted
 * atomically, and are used once.
 */
export class PasswordlessService {
  constructor(private readonly deps: PasswordlessDeps) {}

  /** Where a magic link may point, and where its user may be sent after signing in. */
  checkMagicLinkRequest(body: MagicLinkBody): 'redirect' | 'url' | null {
    const { redirectAllowList, publicUrl } = this.deps;
    if (body.redirect !== undefined && !isAllowedUrl(body.redirect, redirectAllowList)) return 'redirect';
    if (body.url !== undefined && !isAllowedUrl(body.url, [...redirectAllowList, `${publicUrl}/ui`])) return 'url';
    return null;
  }

  /** Sends a sign-in link when the address has an active account, or may create one; otherwise nothing. */
  async requestMagicLink(body: MagicLinkBody, meta: RequestMeta): Promise<void> {
    const { db, projectId, publicUrl } = this.deps;
    const email = normalizeEmail(body.email);
    const target = await this.resolveTarget(MAGIC_LINK_PURPOSE, email, () => findUserByEmail(db, projectId, email), {
      mayCreate: true,
    });
    if (!target.send) {
      await this.recordRequest('auth.magic_link_requested', target.user, { reason: target.reason }, meta);
      return;
    }
    const issued = await this.deps.tokens.issueToken({
      projectId,
      purpose: MAGIC_LINK_PURPOSE,
      identifier: email,
      channel: 'email',
      ttl: this.deps.magicLinkTtl,
      userId: target.user?.id ?? null,
      data: body.redirect ? { redirect: body.redirect } : {},
    });
    const link = new URL(body.url ?? `${publicUrl}/ui/magic-link`);
    link.searchParams.set('token', issued.token);
    const mail = await this.deps.templates.render(projectId, 'magic_link', target.user?.language ?? null, {
      link: link.toString(),
      site: new URL(publicUrl).host,
      expires_at: new Date(issued.expiresAt).toUTCString(),
    });
    await this.deps.mailer.send({ projectId, kind: 'magic_link', to: email, ...mail });
    await this.recordRequest('auth.magic_link_requested', target.user, { new_account: target.user === null }, meta);
  }

  /** Uses a magic link once and signs its user in, creating the account on first use when sign-up is open. */
  async verifyMagicLink(token: string, mode: AuthMode, meta: RequestMeta): Promise<SignInResult> {
    const redeemed = await this.deps.tokens.redeemToken(MAGIC_LINK_PURPOSE, token);
    if (!redeemed.ok) {
      await this.recordFailedSignIn('magic_link', redeemed.reason, null, meta);
      return { ok: false, reason: redeemed.reason };
    }
    const redirect = typeof redeemed.data.redirect === 'string' ? redeemed.data.redirect : null;
    return this.signIn(redeemed.row, { mode, meta, method: 'magic_link', amr: ['email'], redirect });
  }

  /** Sends a code for `purpose` through `channel` when the identifier leads to an account that can receive it. */
  async generateCode(body: CodeGenerateBody, identifier: Identifier, meta: RequestMeta): Promise<void> {
    const purpose = codePurpose(body.purpose);
    const target = await this.resolveTarget(purpose, identifier.value, () => this.findAccount(identifier), {
      // A code sign-in to an unknown address may create the account, as a magic link does; only by e-mail.
      mayCreate: body.purpose === 'login' && body.channel === 'email' && identifier.kind === 'email',
    });
    const details = { purpose: body.purpose, channel: body.channel };
    if (!target.send) {
      await this.recordRequest('auth.code_requested', target.user, { ...details, reason: target.reason }, meta);
      return;
    }
    const user = target.user;
    const to =
      body.channel === 'email'
        ? (user?.email ?? identifier.value)
        : body.channel === 'push'
          ? (user?.id ?? null)
          : user?.phone_verified_at !== null && user?.phone
            ? user.phone
            : null;
    if (to === null) {
      await this.recordRequest('auth.code_requested', user, { ...details, reason: 'no_phone' }, meta);
      return;
    }
    await this.sendCode({
      purpose: body.purpose,
      identifier: identifier.value,
      channel: body.channel,
      to,
      user,
      data: { to },
    });
    await this.recordRequest('auth.code_requested', user, details, meta);
  }

  /** Checks a code without using it up; every check counts as one of its tries. */
  async checkCode(body: CodeCheckBody, identifier: Identifier): Promise<RedeemResult> {
    return this.deps.tokens.checkCode({
      projectId: this.deps.projectId,
      purpose: codePurpose(body.purpose),
      identifier: identifier.value,
      code: body.code,
      consume: false,
    });
  }

  /** Uses an activation code: the address it was sent to is confirmed. */
  async activate(
    body: ActivateBody,
    identifier: Identifier,
    meta: RequestMeta,
  ): Promise<{ ok: true } | { ok: false; reason: SignInFailure }> {
    const { db, projectId, clock, audit } = this.deps;
    const result = await this.deps.tokens.checkCode({
      projectId,
      purpose: codePurpose('activate'),
      identifier: identifier.value,
      code: body.code,
      consume: true,
    });
    const user = result.ok && result.row.user_id ? await findUserById(db, result.row.user_id) : undefined;
    // The code must have gone to an address the account still has (its e-mail or phone may have changed since).
    const addressOf = (found: UserProfile, channel: string) => (channel === 'sms' ? found.phone : found.email);
    const reason: SignInFailure | null = !result.ok
      ? result.reason
      : !user || sentToOf(result.row) !== addressOf(user, result.row.channel)
        ? 'unknown'
        : user.status === 'suspended'
          ? 'suspended'
          : user.status !== 'active'
            ? 'not_active'
            : null;
    if (reason !== null || !result.ok || !user) {
      await audit.record(projectId, {
        event: 'auth.activated',
        outcome: 'failure',
        subjectId: user?.id ?? null,
        ...meta,
        details: { reason: reason === 'unknown' ? 'wrong_code' : reason },
      });
      return { ok: false, reason: reason ?? 'unknown' };
    }
    const now = clock.now();
    if (result.row.channel === 'email' && user.email_verified_at === null) {
      await updateUser(db, user.id, { email_verified_at: now, updated_at: now });
    }
    await audit.record(projectId, {
      event: 'auth.activated',
      actorId: user.id,
      subjectId: user.id,
      ...meta,
      details: { channel: result.row.channel },
    });
    return { ok: true };
  }

  /** Uses a sign-in code and signs its user in (creating the account when the code was sent to a new address). */
  async loginWithCode(body: CodeLoginBody, identifier: Identifier, meta: RequestMeta): Promise<SignInResult> {
    const result = await this.deps.tokens.checkCode({
      projectId: this.deps.projectId,
      purpose: codePurpose('login'),
      identifier: identifier.value,
      code: body.code,
      consume: true,
    });
    if (!result.ok) {
      await this.recordFailedSignIn('code', result.reason, null, meta);
      return { ok: false, reason: result.reason };
    }
    const channel = result.row.channel;
    const amr = [channel === 'email' ? 'email' : channel, 'otp'];
    return this.signIn(result.row, { mode: body.mode ?? 'json', meta, method: 'code', amr, redirect: null });
  }

  /** Sends a code to a phone number the signed-in user wants to add; it becomes theirs once the code comes back. */
  async requestPhone(user: UserProfile, phone: string): Promise<void> {
    const claimed = await claimSendSlot(this.deps.db, {
      projectId: this.deps.projectId,
      purpose: codePurpose('verify_phone'),
      identifier: user.id,
      now: this.deps.clock.now(),
      interval: this.deps.resendInterval,
    });
    if (!claimed) return;
    await this.sendCode({
      purpose: 'verify_phone',
      identifier: user.id,
      channel: 'sms',
      to: phone,
      user,
      data: { phone },
    });
  }

  /** Uses the phone code: the number becomes the user's verified phone. */
  async verifyPhone(
    user: UserProfile,
    code: string,
    meta: RequestMeta,
  ): Promise<{ ok: true; user: UserProfile } | { ok: false; reason: SignInFailure | 'taken' }> {
    const { db, projectId, clock } = this.deps;
    const result = await this.deps.tokens.checkCode({
      projectId,
      purpose: codePurpose('verify_phone'),
      identifier: user.id,
      code,
      consume: true,
    });
    if (!result.ok) return { ok: false, reason: result.reason };
    const phone = String(result.data.phone);
    const holder = await db
      .selectFrom('users')
      .select('id')
      .where('project_id', '=', projectId)
      .where('phone', '=', phone)
      .executeTakeFirst();
    if (holder && holder.id !== user.id) return { ok: false, reason: 'taken' };
    const now = clock.now();
    try {
      await updateUser(db, user.id, { phone, phone_verified_at: now, updated_at: now });
    } catch (error) {
      // Two accounts confirming one number at once: the unique index (per project) lets one win.
      if (isUniqueViolation(error)) return { ok: false, reason: 'taken' };
      throw error;
    }
    await this.deps.audit.record(projectId, {
      event: 'user.phone_changed',
      actorId: user.id,
      subjectId: user.id,
      ...meta,
      details: { verified: true },
    });
    return { ok: true, user: { ...user, phone, phone_verified_at: now, updated_at: now } };
  }

  async removePhone(user: UserProfile, meta: RequestMeta): Promise<void> {
    if (user.phone === null) return;
    const now = this.deps.clock.now();
    await updateUser(this.deps.db, user.id, { phone: null, phone_verified_at: null, updated_at: now });
    await this.deps.audit.record(this.deps.projectId, {
      event: 'user.phone_changed',
      actorId: user.id,
      subjectId: user.id,
      ...meta,
      details: { removed: true },
    });
  }

  /** The account behind an identifier: by e-mail, or by a verified phone number only. */
  private async findAccount(identifier: Identifier): Promise<UserProfile | undefined> {
    const { db, projectId } = this.deps;
    if (identifier.kind === 'email') return findUserByEmail(db, projectId, identifier.value);
    const row = await db
      .selectFrom('users')
      .select('id')
      .where('project_id', '=', projectId)
      .where('phone', '=', identifier.value)
      .where('phone_verified_at', 'is not', null)
      .executeTakeFirst();
    return row ? findUserById(db, row.id) : undefined;
  }

  /** Claims the cool-down slot first (alike for every address), then decides whether anything is sent. */
  private async resolveTarget(
    purpose: string,
    identifier: string,
    find: () => Promise<UserProfile | undefined>,
    options: { mayCreate: boolean },
  ): Promise<{ send: true; user: UserProfile | null } | { send: false; user: UserProfile | null; reason: NotSent }> {
    const { db, projectId, clock, resendInterval } = this.deps;
    const claimed = await claimSendSlot(db, {
      projectId,
      purpose,
      identifier,
      now: clock.now(),
      interval: resendInterval,
    });
    const user = (await find()) ?? null;
    if (!claimed) return { send: false, user, reason: 'cooldown' };
    if (user) {
      if (user.status === 'active') return { send: true, user };
      return { send: false, user, reason: user.status === 'suspended' ? 'suspended' : 'not_active' };
    }
    if (!options.mayCreate) return { send: false, user, reason: 'unknown_user' };
    const settings = await this.deps.settings.get(projectId);
    return settings.signup === 'open' ? { send: true, user: null } : { send: false, user, reason: 'signup_closed' };
  }

  private async sendCode(input: {
    purpose: CodePurpose | 'verify_phone';
    identifier: string;
    channel: 'email' | 'sms' | 'push';
    to: string;
    user: UserProfile | null;
    data: Record<string, unknown>;
  }): Promise<void> {
    const { projectId, publicUrl, codeTtl } = this.deps;
    const issued = await this.deps.tokens.issueCode({
      projectId,
      purpose: codePurpose(input.purpose),
      identifier: input.identifier,
      channel: input.channel,
      ttl: codeTtl,
      userId: input.user?.id ?? null,
      data: input.data,
      maxAttempts: CODE_MAX_ATTEMPTS,
    });
    const rendered = await this.deps.templates.render(projectId, 'code', input.user?.language ?? null, {
      code: issued.code,
      site: new URL(publicUrl).host,
      action: ACTIONS[input.purpose],
      minutes: String(Math.round(codeTtl / 60_000)),
    });
    if (input.channel === 'email') {
      await this.deps.mailer.send({ projectId, kind: 'code', to: input.to, ...rendered });
    } else {
      await this.deps.mailer.sendText({
        projectId,
        kind: 'code',
        channel: input.channel,
        to: input.to,
        purpose: input.purpose,
        subject: rendered.subject,
        text: rendered.text.trim(),
      });
    }
  }

  /** Signs in the user a redeemed secret belongs to; an unknown address becomes an account if sign-up is open. */
  private async signIn(
    row: OneTimeTokenRow,
    options: { mode: AuthMode; meta: RequestMeta; method: string; amr: string[]; redirect: string | null },
  ): Promise<SignInResult> {
    const { db, projectId, clock } = this.deps;
    let user = row.user_id ? await findUserById(db, row.user_id) : await findUserByEmail(db, projectId, row.identifier);
    if (!user && row.user_id === null && row.channel === 'email') {
      const settings = await this.deps.settings.get(projectId);
      if (settings.signup !== 'open') {
        await this.recordFailedSignIn(options.method, 'signup_closed', null, options.meta);
        return { ok: false, reason: 'signup_closed' };
      }
      const created = newUserRow({
        projectId,
        email: row.identifier,
        passwordHash: null,
        role: 'user',
        now: clock.now(),
        emailVerifiedAt: clock.now(),
      });
      if (await insertUser(db, created)) {
        await this.deps.audit.record(projectId, {
          event: 'auth.signup',
          actorId: created.id,
          subjectId: created.id,
          ...options.meta,
          details: { method: options.method },
        });
      }
      user = await findUserByEmail(db, projectId, row.identifier);
    }
    // A secret sent to an address the account no longer has (its e-mail or phone changed since) proves nothing.
    const sentTo = sentToOf(row);
    const current = row.channel === 'email' ? user?.email : row.channel === 'sms' ? user?.phone : user?.id;
    if (!user || sentTo !== current) {
      await this.recordFailedSignIn(options.method, 'unknown', user?.id ?? null, options.meta);
      return { ok: false, reason: 'unknown' };
    }
    if (user.status !== 'active') {
      const reason = user.status === 'suspended' ? 'suspended' : 'not_active';
      await this.recordFailedSignIn(options.method, reason, user.id, options.meta);
      return { ok: false, reason };
    }
    // The secret went to this address and came back: the address is the user's (written with the sign-in).
    const verified = row.channel === 'email' && user.email_verified_at === null;
    const issued = await this.deps.auth.signIn(user.id, {
      mode: options.mode,
      amr: options.amr,
      method: options.method,
      meta: options.meta,
      ...(verified ? { update: { email_verified_at: clock.now() } } : {}),
    });
    return { ok: true, issued, redirect: options.redirect };
  }

  private async recordRequest(
    event: 'auth.magic_link_requested' | 'auth.code_requested',
    user: UserProfile | null,
    details: Record<string, unknown>,
    meta: RequestMeta,
  ): Promise<void> {
    const failed = typeof details.reason === 'string';
    await this.deps.audit.record(this.deps.projectId, {
      event,
      outcome: failed ? 'failure' : 'success',
      subjectId: user?.id ?? null,
      ...meta,
      details,
    });
  }

  private async recordFailedSignIn(
    method: string,
    reason: string,
    userId: string | null,
    meta: RequestMeta,
  ): Promise<void> {
    await this.deps.audit.record(this.deps.projectId, {
      event: 'auth.login',
      outcome: 'failure',
      subjectId: userId,
      ...meta,
      details: { reason, method },
    });
  }
}
