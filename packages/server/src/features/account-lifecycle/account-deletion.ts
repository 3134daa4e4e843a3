import type { Caller, RequestMeta } from '../../caller.js';
import { verifyPassword } from '../../crypto/password.js';
import type { UserProfile } from '../../db/types.js';
import { mailTime, sendAccountMail } from './account-mail.js';
import type { LifecycleDeps } from './deps.js';

/** How recent a sign-in must be to delete an account that has no password. */
export const RECENT_SIGN_IN = 5 * 60_000;

export type DeleteResult =
  | { ok: true }
  | {
      ok: false;
      reason: 'password_required' | 'wrong_password' | 'reauthenticate' | 'impersonating' | 'last_admin' | 'not_found';
    };

/** Deletes an account under the admin rules (last admin, sessions revoked); handed over by app.ts. */
export type OwnAccountRemover = (
  caller: Caller,
  meta: RequestMeta,
) => Promise<{ ok: true; value: UserProfile } | { ok: false; reason: string }>;

/**
 * `DELETE /users/me`. The user proves it is them again: with the password when the account has one, else with
 * a sign-in less than five minutes old (the session's `auth_time`). An impersonating admin cannot use it (they
 * have `DELETE /users/:id`). The deletion itself is the admin one (`removeOwn`): the last admin cannot delete
 * themselves, sessions are revoked at once, and the rows that belong to the user go with it. A notice goes to
 * the address afterwards.
 */
export class AccountDeletion {
  constructor(
    private readonly deps: LifecycleDeps,
    private readonly removeOwn: OwnAccountRemover,
  ) {}

  async deleteOwn(caller: Caller, password: string | undefined, meta: RequestMeta): Promise<DeleteResult> {
    const { database, clock, audit, passwordParams, sessions } = this.deps;
    if (caller.actorId !== null) return { ok: false, reason: 'impersonating' };
    const user = await database.db
      .selectFrom('users')
      .select(['id', 'project_id', 'email', 'language', 'password_hash'])
      .where('id', '=', caller.userId)
      .executeTakeFirst();
    if (!user) return { ok: false, reason: 'not_found' };
    const refused = async (reason: 'wrong_password' | 'reauthenticate'): Promise<DeleteResult> => {
      await audit.record(user.project_id, {
        event: 'user.deleted',
        outcome: 'failure',
        actorId: user.id,
        subjectId: user.id,
        ...meta,
        details: { reason, self: true },
      });
      return { ok: false, reason };
    };
    if (user.password_hash !== null) {
      if (password === undefined) return { ok: false, reason: 'password_required' };
      if (!(await verifyPassword(user.password_hash, password, passwordParams)).valid) {
        return refused('wrong_password');
      }
    } else {
      const session = await sessions.get(caller.sessionId);
      if (!session || clock.now() - session.auth_time > RECENT_SIGN_IN) return refused('reauthenticate');
    }
    const removed = await this.removeOwn(caller, meta);
    if (!removed.ok) return { ok: false, reason: removed.reason === 'last_admin' ? 'last_admin' : 'not_found' };
    await sendAccountMail(
      this.deps,
      { projectId: user.project_id, email: user.email, language: user.language },
      'account_deleted',
      {
        time: mailTime(clock.now()),
      },
    );
    return { ok: true };
  }
}
