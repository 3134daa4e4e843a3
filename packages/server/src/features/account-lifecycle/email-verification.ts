import type { RequestMeta } from '../../caller.js';
import type { UserProfile } from '../../db/types.js';
import { invalidPayload } from '../../errors/auth-error.js';
import { findUserByEmail, findUserById, normalizeEmail } from '../users/index.js';
import { mailTime, sendAccountMail } from './account-mail.js';
import { issueUnlessRecent } from './cool-down.js';
import { type LifecycleDeps, PURPOSE, RESEND_COOL_DOWN } from './deps.js';
import { linkBase, linkWithToken } from './links.js';

/** Where the verification link points when the request names no `verification_url`. */
export const VERIFY_PATH = '/ui/verify-email';

export type VerifyResult = { ok: true } | { ok: false; reason: 'unknown' | 'used' | 'expired' | 'changed' };

/**
 * E-mail verification:
 * - A link (32 random bytes, stored as SHA-256, single use, `GATEHOUSE_EMAIL_VERIFICATION_TTL`) goes to the
 *   address at sign-up unless the project's `email_verification` is `off`, and on request.
 * - A request answers 204 whatever the account: unknown, not active, already verified or within the resend
 *   cool-down alike. The lookup and the mail run after the answer, so its timing does not tell either.
 * - The link verifies the address it was sent to: once the account's e-mail has changed it no longer works.
 * - Admin-created and invited accounts are verified from the start (an invitation link proves the address).
 */
export class EmailVerification {
  constructor(private readonly deps: LifecycleDeps) {}

  /** The link target for `verificationUrl`; throws 400 INVALID_PAYLOAD when it is not allowed. */
  checkUrl(verificationUrl: string | undefined): string {
    const base = linkBase(verificationUrl, {
      publicUrl: this.deps.publicUrl,
      defaultPath: VERIFY_PATH,
      allowList: this.deps.emailVerificationUrlAllowList,
    });
    if (base === null) {
      throw invalidPayload('verification_url is not allowed (GATEHOUSE_EMAIL_VERIFICATION_URL_ALLOW_LIST).');
    }
    return base;
  }

  /** Sign-up: mails the link in the background unless the project turned verification off. */
  signedUp(user: UserProfile, verificationUrl: string | undefined): void {
    const base = this.checkUrl(verificationUrl);
    this.deps.background.run('verification mail', async () => {
      const settings = await this.deps.settings.get(user.project_id);
      if (settings.email_verification === 'off') return;
      await this.send(user, base);
    });
  }

  /** `POST /auth/email/verify/request`: checks the URL, then looks the account up and mails after answering. */
  request(projectId: string, input: { email: string; verificationUrl?: string }, meta: RequestMeta): void {
    const base = this.checkUrl(input.verificationUrl);
    const email = normalizeEmail(input.email);
    this.deps.background.run('verification request', async () => {
      const { audit, settings } = this.deps;
      const user = await findUserByEmail(this.deps.database.db, projectId, email);
      let reason: string | null = null;
      if ((await settings.get(projectId)).email_verification === 'off') reason = 'verification_off';
      else if (!user) reason = 'unknown_user';
      else if (user.status !== 'active') reason = 'not_active';
      else if (user.email_verified_at !== null) reason = 'already_verified';
      else if (!(await this.send(user, base))) reason = 'cool_down';
      await audit.record(projectId, {
        event: 'auth.email_verification_requested',
        ...(reason === null ? {} : { outcome: 'failure' as const }),
        subjectId: user?.id ?? null,
        ...meta,
        details: reason === null ? {} : { reason, email },
      });
    });
  }

  /** `POST /auth/email/verify`: uses the token once and marks the address it was sent to as verified. */
  async verify(token: string, meta: RequestMeta): Promise<VerifyResult> {
    const { database, clock, audit } = this.deps;
    const redeemed = await this.deps.tokens.redeemToken(PURPOSE.verification, token);
    if (!redeemed.ok) {
      return { ok: false, reason: redeemed.reason === 'too_many_attempts' ? 'used' : redeemed.reason };
    }
    const { row } = redeemed;
    const user = row.user_id === null ? undefined : await findUserById(database.db, row.user_id);
    if (!user || user.email !== row.identifier) {
      await audit.record(row.project_id, {
        event: 'user.email_verified',
        outcome: 'failure',
        subjectId: row.user_id,
        ...meta,
        details: { reason: 'email_changed' },
      });
      return { ok: false, reason: 'changed' };
    }
    const now = clock.now();
    await database.db
      .updateTable('users')
      .set({ email_verified_at: now, updated_at: now })
      .where('id', '=', user.id)
      .where('email', '=', row.identifier)
      .where('email_verified_at', 'is', null)
      .execute();
    await audit.record(row.project_id, { event: 'user.email_verified', actorId: user.id, subjectId: user.id, ...meta });
    return { ok: true };
  }

  /** Issues a link and mails it; answers false (and sends nothing) within the resend cool-down. */
  private async send(user: UserProfile, base: string): Promise<boolean> {
    const issued = await issueUnlessRecent(
      this.deps,
      {
        projectId: user.project_id,
        purpose: PURPOSE.verification,
        identifier: user.email,
        channel: 'email',
        ttl: this.deps.emailVerificationTtl,
        userId: user.id,
      },
      RESEND_COOL_DOWN,
    );
    if (!issued) return false;
    await sendAccountMail(
      this.deps,
      { projectId: user.project_id, email: user.email, language: user.language },
      'verify_email',
      {
        link: linkWithToken(base, issued.token),
        expires_at: mailTime(issued.expiresAt),
      },
    );
    return true;
  }
}
