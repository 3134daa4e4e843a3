import type { AcceptInviteBody, InvitationStatus, InviteBody } from '@gatehouse/protocol';
import type { Kysely } from 'kysely';
import type { Caller, RequestMeta } from '../../caller.js';
import type { Clock } from '../../clock.js';
import { sha256 } from '../../crypto/hash.js';
import { hashPassword, type PasswordParams } from '../../crypto/password.js';
import { randomId, randomToken } from '../../crypto/random.js';
import type { InvitationRow, Tables } from '../../db/types.js';
import { isAllowedUrl } from '../../http/allowed-url.js';
import type { Mailer } from '../../mail/index.js';
import type { AuditLog } from '../audit/index.js';
import type { EmailTemplateService } from '../email-templates/index.js';
import { checkPasswordPolicy, type ProjectSettingsService } from '../projects/index.js';
import { hasPermission } from '../roles/index.js';
import { findUserByEmail, findUserById, insertUser, newUserRow, normalizeEmail, updateUser } from '../users/index.js';
import * as store from './store.js';

export interface InvitationServiceDeps {
  db: Kysely<Tables>;
  clock: Clock;
  mailer: Mailer;
  templates: EmailTemplateService;
  audit: AuditLog;
  passwordParams: PasswordParams;
  settings: ProjectSettingsService;
  publicUrl: string;
  /** URL prefixes `invite_url` may point under, besides the public URL. */
  inviteUrlAllowList: readonly string[];
  ttl: number;
}

export type InviteResult =
  | { ok: true; invitationId: string }
  | { ok: false; reason: 'url_not_allowed' | 'unknown_role' | 'role_above_caller' | 'account_exists' };
export type AcceptResult = { ok: true } | { ok: false; reason: 'unknown' | 'used' | 'revoked' | 'expired' };
export type RevokeResult = { ok: true } | { ok: false; reason: 'unknown' | 'not_pending' };

/** Where the accept page lives when the request names none. */
export const ACCEPT_PATH = '/ui/accept-invite';

/** Thrown inside a transaction to roll it back when a condition checked there fails. */
class Refused extends Error {}

export function invitationStatus(row: InvitationRow, now: number): InvitationStatus {
  if (row.accepted_at !== null) return 'accepted';
  if (row.revoked_at !== null) return 'revoked';
  return row.expires_at <= now ? 'expired' : 'pending';
}

/**
 * Invitations: an admin names an e-mail and a role; the account is created with status `invited` and no
 * password, and a single-use link (256 random bits, stored as SHA-256, valid for the configured time) goes out
 * by mail. Accepting it sets the password, activates the account and marks the address verified, since only
 * its owner could have read the link.
 */
export class InvitationService {
  constructor(private readonly deps: InvitationServiceDeps) {}

  async invite(caller: Caller, body: InviteBody, meta: RequestMeta): Promise<InviteResult> {
    const { db, clock, publicUrl } = this.deps;
    const base = body.invite_url ?? new URL(ACCEPT_PATH, publicUrl).toString();
    if (!isAllowedUrl(base, [publicUrl, ...this.deps.inviteUrlAllowList])) {
      return { ok: false, reason: 'url_not_allowed' };
    }
    const role = await store.findRoleByNameOrId(db, caller.projectId, body.role);
    if (!role) return { ok: false, reason: 'unknown_role' };
    // An admin cannot hand out more than they hold: with `users:write` alone, inviting an `admin` would be a
    // way to become one.
    const granted = JSON.parse(role.permissions) as string[];
    if (!granted.every((permission) => hasPermission(caller.permissions, permission))) {
      return { ok: false, reason: 'role_above_caller' };
    }

    const email = normalizeEmail(body.email);
    const inviterId = caller.actorId ?? caller.userId;
    const token = randomToken();
    const now = clock.now();
    const expiresAt = now + this.deps.ttl;
    const invitationId = randomId();
    let userId: string;
    let reinvite = false;
    try {
      userId = await db.transaction().execute(async (trx) => {
        const existing = await findUserByEmail(trx, caller.projectId, email);
        if (existing && existing.status !== 'invited') throw new Refused();
        let id: string;
        if (existing) {
          // Invited again: the latest role wins and the earlier links stop working.
          reinvite = true;
          id = existing.id;
          await updateUser(trx, id, { role: role.name, updated_at: now });
          await store.revokePendingOfUser(trx, id, now);
        } else {
          const user = newUserRow({ projectId: caller.projectId, email, passwordHash: null, role: role.name, now });
          if (!(await insertUser(trx, { ...user, status: 'invited' }))) throw new Refused();
          id = user.id;
        }
        await store.insertInvitation(trx, {
          id: invitationId,
          project_id: caller.projectId,
          user_id: id,
          email,
          role: role.name,
          token_hash: sha256(token),
          invited_by: inviterId,
          created_at: now,
          expires_at: expiresAt,
          accepted_at: null,
          revoked_at: null,
        });
        return id;
      });
    } catch (error) {
      if (error instanceof Refused) return { ok: false, reason: 'account_exists' };
      throw error;
    }

    const link = new URL(base);
    link.searchParams.set('token', token);
    const inviter = await findUserById(db, inviterId);
    const name = [inviter?.first_name, inviter?.last_name].filter((part) => part).join(' ');
    const mail = await this.deps.templates.render(caller.projectId, 'invitation', null, {
      link: link.toString(),
      site: new URL(publicUrl).host,
      inviter: name || null,
      expires_at: new Date(expiresAt).toUTCString(),
    });
    await this.deps.mailer.send({ projectId: caller.projectId, kind: 'invitation', to: email, ...mail });
    await this.deps.audit.record(caller.projectId, {
      event: 'user.invited',
      actorId: inviterId,
      subjectId: userId,
      ...meta,
      details: { invitation_id: invitationId, role: role.name, reinvite },
    });
    return { ok: true, invitationId };
  }

  async accept(body: AcceptInviteBody, meta: RequestMeta): Promise<AcceptResult> {
    const { db, clock } = this.deps;
    const invitation = await store.findByTokenHash(db, sha256(body.token));
    if (!invitation || invitation.user_id === null) return { ok: false, reason: 'unknown' };
    const status = invitationStatus(invitation, clock.now());
    if (status !== 'pending') {
      const reason = status === 'accepted' ? 'used' : status;
      await this.recordAcceptance(invitation, meta, reason);
      return { ok: false, reason };
    }
    checkPasswordPolicy(await this.deps.settings.get(invitation.project_id), body.password, invitation.email);
    // Hashed before the transaction: argon2 is slow, and the claim below must stay short.
    const passwordHash = await hashPassword(body.password, this.deps.passwordParams);
    const userId = invitation.user_id;
    const now = clock.now();
    try {
      await db.transaction().execute(async (trx) => {
        if (!(await store.claimAcceptance(trx, invitation.id, now))) throw new Refused();
        const activated = await trx
          .updateTable('users')
          .set({ password_hash: passwordHash, status: 'active', email_verified_at: now, updated_at: now })
          .where('id', '=', userId)
          .where('status', '=', 'invited')
          .executeTakeFirst();
        if (Number(activated.numUpdatedRows) !== 1) throw new Refused();
      });
    } catch (error) {
      if (error instanceof Refused) {
        await this.recordAcceptance(invitation, meta, 'used');
        return { ok: false, reason: 'used' };
      }
      throw error;
    }
    await this.recordAcceptance(invitation, meta, null);
    return { ok: true };
  }

  list(filter: Omit<store.InvitationFilter, 'now'>): Promise<InvitationRow[]> {
    return store.listInvitations(this.deps.db, { ...filter, now: this.deps.clock.now() });
  }

  /** Revokes a pending invitation and deletes the account it created, which was never activated. */
  async revoke(caller: Caller, id: string, meta: RequestMeta): Promise<RevokeResult> {
    const { db, clock } = this.deps;
    const invitation = await store.findById(db, caller.projectId, id);
    if (!invitation) return { ok: false, reason: 'unknown' };
    const now = clock.now();
    let userDeleted = false;
    const revoked = await db.transaction().execute(async (trx) => {
      if (!(await store.revokeIfPending(trx, invitation.id, now))) return false;
      if (invitation.user_id !== null) {
        const deleted = await trx
          .deleteFrom('users')
          .where('id', '=', invitation.user_id)
          .where('status', '=', 'invited')
          .executeTakeFirst();
        userDeleted = Number(deleted.numDeletedRows) === 1;
      }
      return true;
    });
    if (!revoked) return { ok: false, reason: 'not_pending' };
    await this.deps.audit.record(caller.projectId, {
      event: 'invitation.revoked',
      actorId: caller.actorId ?? caller.userId,
      subjectId: invitation.user_id,
      ...meta,
      details: { invitation_id: invitation.id, user_deleted: userDeleted },
    });
    return { ok: true };
  }

  private async recordAcceptance(invitation: InvitationRow, meta: RequestMeta, failure: string | null): Promise<void> {
    await this.deps.audit.record(invitation.project_id, {
      event: 'invitation.accepted',
      ...(failure ? { outcome: 'failure' as const } : { actorId: invitation.user_id }),
      subjectId: invitation.user_id,
      ...meta,
      details: failure ? { invitation_id: invitation.id, reason: failure } : { invitation_id: invitation.id },
    });
  }
}
