import type { PasswordResetBody } from '@gatehouse/protocol';
import type { RequestMeta } from '../../caller.js';
import { hashPassword } from '../../crypto/password.js';
import { invalidPayload } from '../../errors/auth-error.js';
import { checkPasswordPolicy } from '../projects/index.js';
import { findUserByEmail, findUserById, normalizeEmail } from '../users/index.js';
import { mailTime, passwordChanged, sendAccountMail } from './account-mail.js';
import { issueUnlessRecent } from './cool-down.js';
import { type LifecycleDeps, PURPOSE, RESEND_COOL_DOWN } from './deps.js';
import { linkBase, linkWithToken } from './links.js';

/** Where the reset link points when the request names no `reset_url`. */
export const RESET_PATH = '/ui/reset-password';

export type ResetResult = { ok: true } | { ok: false; reason: 'unknown' | 'used' | 'expired' | 'not_active' };

/**
 * Password reset (Directus's `/auth/password/request` and `/auth/password/reset`):
 * - A request answers 204 for any address: unknown, suspended, invited and cool-down alike. It only checks
 *   `reset_url` before answering; the lookup, the token and the mail run afterwards, so neither the answer
 *   nor its timing says whether the account exists.
 * - The link token is 32 random bytes, stored as SHA-256, single use (one conditional UPDATE decides between
 *   parallel redemptions), valid for `GATEHOUSE_PASSWORD_RESET_TTL`; a newer link ends the older ones.
 * - Resetting checks the project's password policy before the token is used (a refused password does not burn
 *   the link), stores the new argon2id hash, ends every session of the user through SessionService (so their
 *   access tokens stop at once on every node), ends other reset links, marks the address verified (the link
 *   proved it) and mails a `password_changed` notice.
 */
export class PasswordReset {
  constructor(private readonly deps: LifecycleDeps) {}

  /** `POST /auth/password/request`: throws 400 for a `reset_url` that is not allowed; everything else is later. */
  request(projectId: string, input: { email: string; resetUrl?: string }, meta: RequestMeta): void {
    const base = linkBase(input.resetUrl, {
      publicUrl: this.deps.publicUrl,
      defaultPath: RESET_PATH,
      allowList: this.deps.passwordResetUrlAllowList,
    });
    if (base === null) throw invalidPayload('reset_url is not allowed (GATEHOUSE_PASSWORD_RESET_URL_ALLOW_LIST).');
    const email = normalizeEmail(input.email);
    this.deps.background.run('password reset request', async () => {
      const user = await findUserByEmail(this.deps.database.db, projectId, email);
      let reason: string | null = null;
      if (!user) reason = 'unknown_user';
      else if (user.status !== 'active') reason = 'not_active';
      else {
        const issued = await issueUnlessRecent(
          this.deps,
          {
            projectId,
            purpose: PURPOSE.reset,
            identifier: user.email,
            channel: 'email',
            ttl: this.deps.passwordResetTtl,
            userId: user.id,
          },
          RESEND_COOL_DOWN,
        );
        if (!issued) reason = 'cool_down';
        else {
          await sendAccountMail(
            this.deps,
            { projectId, email: user.email, language: user.language },
            'reset_password',
            {
              link: linkWithToken(base, issued.token),
              expires_at: mailTime(issued.expiresAt),
            },
          );
        }
      }
      await this.deps.audit.record(projectId, {
        event: 'auth.password_reset_requested',
        ...(reason === null ? {} : { outcome: 'failure' as const }),
        subjectId: user?.id ?? null,
        ...meta,
        details: reason === null ? {} : { reason, email },
      });
    });
  }

  /** `POST /auth/password/reset`. */
  async reset(body: PasswordResetBody, meta: RequestMeta): Promise<ResetResult> {
    const { database, clock, sessions, audit } = this.deps;
    const tokens = this.deps.tokens;
    const found = await tokens.findToken(PURPOSE.reset, body.token);
    if (!found) return { ok: false, reason: 'unknown' };
    const user = found.user_id === null ? undefined : await findUserById(database.db, found.user_id);
    // A link sent to an address the account no longer has, or to an account since suspended, is dead.
    if (!user || user.email !== found.identifier || user.status !== 'active') {
      return { ok: false, reason: user && user.email === found.identifier ? 'not_active' : 'unknown' };
    }
    let passwordHash: string | null = null;
    if (found.used_at === null && found.expires_at > clock.now()) {
      checkPasswordPolicy(await this.deps.settings.get(user.project_id), body.password, user.email);
      // Hashed before the token is used: argon2 is slow, and the claim below must stay short.
      passwordHash = await hashPassword(body.password, this.deps.passwordParams);
    }
    // Used or expired links fail here too, with their reason; of parallel redemptions one wins.
    const redeemed = await tokens.redeemToken(PURPOSE.reset, body.token);
    if (!redeemed.ok || passwordHash === null) {
      const reason = redeemed.ok ? 'used' : redeemed.reason === 'expired' ? 'expired' : 'used';
      await audit.record(user.project_id, {
        event: 'user.password_changed',
        outcome: 'failure',
        subjectId: user.id,
        ...meta,
        details: { via: 'reset', reason },
      });
      return { ok: false, reason };
    }
    const now = clock.now();
    await database.db
      .updateTable('users')
      .set({ password_hash: passwordHash, updated_at: now })
      .where('id', '=', user.id)
      .execute();
    // The link reached the mailbox: the address is proven.
    await database.db
      .updateTable('users')
      .set({ email_verified_at: now })
      .where('id', '=', user.id)
      .where('email', '=', found.identifier)
      .where('email_verified_at', 'is', null)
      .execute();
    await tokens.revokeForUser(user.id, PURPOSE.reset);
    const ended = await sessions.endAllForUser(user.id, 'password_reset');
    await passwordChanged(this.deps, user, { via: 'reset', actorId: user.id, sessionsEnded: ended.length, now, meta });
    return { ok: true };
  }
}
