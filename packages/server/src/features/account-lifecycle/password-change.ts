import type { PasswordChangeBody } from '@gatehouse/protocol';
import type { Caller, RequestMeta } from '../../caller.js';
import { hashPassword, verifyPassword } from '../../crypto/password.js';
import { checkPasswordPolicy } from '../projects/index.js';
import { passwordChanged } from './account-mail.js';
import { type LifecycleDeps, PURPOSE } from './deps.js';

export type ChangeResult = { ok: true } | { ok: false; reason: 'wrong_password' };

/**
 * A signed-in user changes their password with the current one. The caller's own session stays; every other
 * session of the user ends (through SessionService, so their tokens stop at once), outstanding reset links
 * end, and a `password_changed` notice goes to the address. A wrong current password is audited as a failure.
 */
export class PasswordChange {
  constructor(private readonly deps: LifecycleDeps) {}

  async change(caller: Caller, body: PasswordChangeBody, meta: RequestMeta): Promise<ChangeResult> {
    const { database, clock, sessions, audit, passwordParams } = this.deps;
    const user = await database.db
      .selectFrom('users')
      .select(['id', 'project_id', 'email', 'language', 'password_hash'])
      .where('id', '=', caller.userId)
      .executeTakeFirst();
    // Deleted between the access check and here: answered like a wrong password.
    if (!user) return { ok: false, reason: 'wrong_password' };
    const actorId = caller.actorId ?? user.id;
    // An account without a password does the same argon2 work against a decoy and fails alike.
    const current = await verifyPassword(user.password_hash, body.current_password, passwordParams);
    if (!current.valid) {
      await audit.record(user.project_id, {
        event: 'user.password_changed',
        outcome: 'failure',
        actorId,
        subjectId: user.id,
        ...meta,
        details: { via: 'change', reason: 'wrong_password' },
      });
      return { ok: false, reason: 'wrong_password' };
    }
    checkPasswordPolicy(await this.deps.settings.get(user.project_id), body.password, user.email);
    const now = clock.now();
    await database.db
      .updateTable('users')
      .set({ password_hash: await hashPassword(body.password, passwordParams), updated_at: now })
      .where('id', '=', user.id)
      .execute();
    await this.deps.tokens.revokeForUser(user.id, PURPOSE.reset);
    const ended = await sessions.endAllForUser(user.id, 'password_changed', { except: caller.sessionId });
    await passwordChanged(this.deps, user, { via: 'change', actorId: actorId, sessionsEnded: ended.length, now, meta });
    return { ok: true };
  }
}
