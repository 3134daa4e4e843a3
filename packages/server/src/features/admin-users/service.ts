import type { CreateUserBody, UpdateUserBody, UserSort } from '@gatehouse/protocol';
import type { Transaction } from 'kysely';
import type { Caller, RequestMeta } from '../../caller.js';
import type { Clock } from '../../clock.js';
import { hashPassword, type PasswordParams } from '../../crypto/password.js';
import type { Database } from '../../db/database.js';
import type { SessionRow, Tables, UserProfile, UserUpdate } from '../../db/types.js';
import type { AuditLog } from '../audit/index.js';
import { checkPasswordPolicy, type ProjectSettingsService } from '../projects/index.js';
import { hasPermission, lockAdministration, PERMISSIONS } from '../roles/index.js';
import type { SessionService } from '../sessions/index.js';
import { insertUser, newUserRow, normalizeEmail } from '../users/index.js';
import { decodeCursor, encodeCursor, isUuid, keyKind } from './cursor.js';
import * as store from './store.js';

/**
 * Rules of the admin user API:
 * - Everything is scoped to the caller's project; another project's user is as missing as an unknown id.
 * - No escalation: a caller may only assign a role, and only change, delete, end the sessions of or
 *   impersonate a user, when they hold every *administrative* permission involved (`*` and Gatehouse's own
 *   `users:`, `roles:`, `projects:`, `audit:`, `webhooks:` permissions). A project's own free-form permissions
 *   (`posts:write`) are left to the project, so support staff can still hand out application roles.
 * - The project always keeps an active user whose role grants `*`: deleting, suspending or demoting the last
 *   one is refused, checked and written in one transaction that is serialized per project.
 * - Suspending a user ends all of their sessions at once.
 * - Impersonation yields a short access token for an active user, never for oneself, never from a token that
 *   is itself impersonating.
 */

/** How long an impersonation token (and its session) lives. */
export const IMPERSONATION_TTL = 5 * 60_000;

export type Refusal =
  | 'not_found'
  | 'bad_cursor'
  | 'unknown_role'
  | 'email_taken'
  | 'outranked'
  | 'role_too_strong'
  | 'last_admin'
  | 'self'
  | 'not_active'
  | 'already_impersonating';

export type Result<T> = { ok: true; value: T } | { ok: false; reason: Refusal; detail?: string };

const ok = <T>(value: T): Result<T> => ({ ok: true, value });
const refuse = (reason: Refusal, detail?: string): { ok: false; reason: Refusal; detail?: string } =>
  detail === undefined ? { ok: false, reason } : { ok: false, reason, detail };

/** Mints an impersonation token (AuthService.impersonate, handed over by app.ts); null when the user is not active. */
export type Impersonator = (input: {
  userId: string;
  actorId: string;
  lifetime: number;
  meta: RequestMeta;
}) => Promise<{ token: string; expires: number; sessionId: string } | null>;

export interface AdminUserServiceDeps {
  database: Database;
  clock: Clock;
  sessions: SessionService;
  audit: AuditLog;
  passwordParams: PasswordParams;
  impersonate: Impersonator;
  settings: ProjectSettingsService;
}

export interface ListQuery {
  search?: string;
  role?: string;
  status?: UserProfile['status'];
  sort?: UserSort;
  limit: number;
  cursor?: string;
}

const PROFILE_KEYS = ['first_name', 'last_name', 'language', 'title', 'location', 'description'] as const;
const GATEHOUSE_RESOURCES = new Set(Object.keys(PERMISSIONS).map((permission) => permission.split(':')[0]));

function administrative(permission: string): boolean {
  return permission === '*' || GATEHOUSE_RESOURCES.has(permission.split(':')[0]);
}

/** True when `granted` covers every administrative permission in `wanted`. */
export function coversAdministrative(granted: readonly string[], wanted: readonly string[]): boolean {
  return wanted.filter(administrative).every((permission) => hasPermission(granted, permission));
}

function grantsAll(permissions: readonly string[] | undefined): boolean {
  return permissions !== undefined && hasPermission(permissions, '*');
}

/** Who is acting, for the audit trail: the admin behind an impersonation token, else the caller. */
const actorOf = (caller: Caller): string => caller.actorId ?? caller.userId;

export class AdminUserService {
  constructor(private readonly deps: AdminUserServiceDeps) {}

  async list(projectId: string, query: ListQuery): Promise<Result<{ users: UserProfile[]; next: string | null }>> {
    const sort = query.sort ?? 'created_at';
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, sort);
    if (after === null) return refuse('bad_cursor');
    const rows = await store.listUsers(this.deps.database.db, {
      projectId,
      search: query.search,
      role: query.role,
      status: query.status,
      sort,
      after,
      limit: query.limit + 1,
    });
    const users = rows.slice(0, query.limit);
    const last = users[users.length - 1];
    const next =
      rows.length > query.limit && last ? encodeCursor({ sort, key: sortKeyOf(last, sort), id: last.id }) : null;
    return ok({ users, next });
  }

  async get(projectId: string, id: string): Promise<UserProfile | null> {
    const key = userKey(id);
    if (!key) return null;
    return (await store.findUserInProject(this.deps.database.db, projectId, key)) ?? null;
  }

  async create(caller: Caller, body: CreateUserBody, meta: RequestMeta): Promise<Result<UserProfile>> {
    const { database, clock, passwordParams, audit } = this.deps;
    const role = body.role ?? 'user';
    const roles = await store.rolePermissions(database.db, caller.projectId);
    const permissions = roles.get(role);
    if (!permissions) return refuse('unknown_role', role);
    if (!coversAdministrative(caller.permissions, permissions)) return refuse('role_too_strong');
    const { email, password, role: _role, status, ...profile } = body;
    if (password !== undefined) {
      checkPasswordPolicy(await this.deps.settings.get(caller.projectId), password, normalizeEmail(email));
    }
    const row = newUserRow({
      projectId: caller.projectId,
      email,
      passwordHash: password === undefined ? null : await hashPassword(password, passwordParams),
      role,
      now: clock.now(),
      // The admin vouches for the address; a later change of it is unverified again.
      emailVerifiedAt: clock.now(),
      profile,
    });
    row.status = status ?? 'active';
    if (!(await insertUser(database.db, row))) return refuse('email_taken');
    await audit.record(caller.projectId, {
      event: 'user.created',
      actorId: actorOf(caller),
      subjectId: row.id,
      ...meta,
      details: { role, status: row.status, password: password !== undefined },
    });
    const created = await store.findUserInProject(database.db, caller.projectId, row.id);
    return created ? ok(created) : refuse('not_found');
  }

  async update(caller: Caller, id: string, body: UpdateUserBody, meta: RequestMeta): Promise<Result<UserProfile>> {
    const { database, clock, sessions, audit } = this.deps;
    const key = userKey(id);
    if (!key) return refuse('not_found');
    const outcome = await this.guarded(caller.projectId, async (trx, roles) => {
      const target = await store.findUserInProject(trx, caller.projectId, key);
      if (!target) return refuse('not_found');
      if (!coversAdministrative(caller.permissions, roles.get(target.role) ?? [])) return refuse('outranked');

      const changes: UserUpdate = {};
      for (const field of PROFILE_KEYS) if (body[field] !== undefined) changes[field] = body[field];
      const role = body.role ?? target.role;
      if (body.role !== undefined && body.role !== target.role) {
        const permissions = roles.get(body.role);
        if (!permissions) return refuse('unknown_role', body.role);
        if (!coversAdministrative(caller.permissions, permissions)) return refuse('role_too_strong');
        changes.role = body.role;
      }
      const status = body.status ?? target.status;
      if (status !== target.status) changes.status = status;
      const email = body.email === undefined ? target.email : normalizeEmail(body.email);
      if (email !== target.email) {
        if (await store.emailTaken(trx, caller.projectId, email)) return refuse('email_taken');
        // The new address has not been proven to reach the user.
        changes.email = email;
        changes.email_verified_at = null;
      }

      const wasAdmin = target.status === 'active' && grantsAll(roles.get(target.role));
      const staysAdmin = status === 'active' && grantsAll(roles.get(role));
      if (wasAdmin && !staysAdmin) {
        const others = await store.countActiveWithRoles(trx, caller.projectId, adminRoles(roles), target.id);
        if (others === 0) return refuse('last_admin');
      }
      await store.updateUserInProject(trx, caller.projectId, target.id, { ...changes, updated_at: clock.now() });
      return ok({ target, changes });
    });
    if (!outcome.ok) return outcome;
    const { target, changes } = outcome.value;

    if (changes.status === 'suspended') await sessions.endAllForUser(target.id, 'suspended');
    const base = { actorId: actorOf(caller), subjectId: target.id, ...meta };
    const fields = PROFILE_KEYS.filter((field) => body[field] !== undefined);
    if (fields.length > 0)
      await audit.record(caller.projectId, { event: 'user.updated', ...base, details: { fields } });
    if (changes.email !== undefined) {
      await audit.record(caller.projectId, { event: 'user.email_changed', ...base, details: { fields: ['email'] } });
    }
    if (changes.role !== undefined) {
      await audit.record(caller.projectId, {
        event: 'user.role_changed',
        ...base,
        details: { from: target.role, to: changes.role },
      });
    }
    if (changes.status !== undefined) {
      await audit.record(caller.projectId, {
        event: 'user.status_changed',
        ...base,
        details: { from: target.status, to: changes.status },
      });
    }
    const updated = await store.findUserInProject(database.db, caller.projectId, target.id);
    return updated ? ok(updated) : refuse('not_found');
  }

  async remove(caller: Caller, id: string, meta: RequestMeta): Promise<Result<void>> {
    const key = userKey(id);
    if (!key) return refuse('not_found');
    const outcome = await this.deleteGuarded(caller.projectId, key, (target, roles) =>
      coversAdministrative(caller.permissions, roles.get(target.role) ?? []) ? null : 'outranked',
    );
    if (!outcome.ok) return outcome;
    const target = outcome.value;
    await this.deps.audit.record(caller.projectId, {
      event: 'user.deleted',
      actorId: actorOf(caller),
      subjectId: target.id,
      ...meta,
      details: { email: target.email, role: target.role },
    });
    return ok(undefined);
  }

  /**
   * Deletes the caller's own account (self-service: the caller has already proven who they are), under the same
   * rules as `remove`: the last active user holding `*` cannot go, and every session ends at once.
   */
  async removeOwn(caller: Caller, meta: RequestMeta): Promise<Result<UserProfile>> {
    const outcome = await this.deleteGuarded(caller.projectId, caller.userId, () => null);
    if (!outcome.ok) return outcome;
    const target = outcome.value;
    await this.deps.audit.record(caller.projectId, {
      event: 'user.deleted',
      actorId: target.id,
      subjectId: target.id,
      ...meta,
      details: { email: target.email, role: target.role, self: true },
    });
    return ok(target);
  }

  async sessionsOf(projectId: string, id: string): Promise<Result<SessionRow[]>> {
    const target = await this.get(projectId, id);
    if (!target) return refuse('not_found');
    return ok(await this.deps.sessions.listActive(target.id));
  }

  /** Ends one session of the user, or all of them when `sessionId` is absent; answers how many were live. */
  async endSessions(
    caller: Caller,
    id: string,
    target: { sessionId?: string },
    meta: RequestMeta,
  ): Promise<Result<number>> {
    const { sessions, audit, database } = this.deps;
    const user = await this.get(caller.projectId, id);
    if (!user) return refuse('not_found');
    const roles = await store.rolePermissions(database.db, caller.projectId);
    if (!coversAdministrative(caller.permissions, roles.get(user.role) ?? [])) return refuse('outranked');
    let ended: string[];
    if (target.sessionId === undefined) {
      ended = await sessions.endAllForUser(user.id, 'admin_revoked');
    } else {
      const sessionId = target.sessionId.toLowerCase();
      const session = isUuid(sessionId) ? await sessions.get(sessionId) : undefined;
      if (!session || session.user_id !== user.id) return refuse('not_found');
      if (session.revoked_at !== null) return ok(0);
      await sessions.end(session.id, 'admin_revoked');
      ended = [session.id];
    }
    if (ended.length > 0) {
      await audit.record(caller.projectId, {
        event: 'session.revoked',
        actorId: actorOf(caller),
        subjectId: user.id,
        ...meta,
        details: target.sessionId === undefined ? { sessions: ended.length, all: true } : { session_id: ended[0] },
      });
    }
    return ok(ended.length);
  }

  async impersonate(
    caller: Caller,
    id: string,
    meta: RequestMeta,
  ): Promise<Result<{ token: string; expires: number }>> {
    if (caller.actorId !== null) return refuse('already_impersonating');
    const target = await this.get(caller.projectId, id);
    if (!target) return refuse('not_found');
    if (target.id === caller.userId) return refuse('self');
    if (target.status !== 'active') return refuse('not_active');
    const roles = await store.rolePermissions(this.deps.database.db, caller.projectId);
    if (!coversAdministrative(caller.permissions, roles.get(target.role) ?? [])) return refuse('outranked');
    const issued = await this.deps.impersonate({
      userId: target.id,
      actorId: caller.userId,
      lifetime: IMPERSONATION_TTL,
      meta,
    });
    if (!issued) return refuse('not_active');
    await this.deps.audit.record(caller.projectId, {
      event: 'user.impersonated',
      actorId: caller.userId,
      subjectId: target.id,
      ...meta,
      details: { session_id: issued.sessionId, expires_in: issued.expires },
    });
    return ok({ token: issued.token, expires: issued.expires });
  }

  /**
   * The account `caller` may act on from another feature's admin routes (its passkeys, say): one of the project,
   * whose role holds no administrative permission the caller lacks.
   */
  async manageable(caller: Caller, id: string): Promise<Result<UserProfile>> {
    const target = await this.get(caller.projectId, id);
    if (!target) return refuse('not_found');
    const roles = await store.rolePermissions(this.deps.database.db, caller.projectId);
    if (!coversAdministrative(caller.permissions, roles.get(target.role) ?? [])) return refuse('outranked');
    return ok(target);
  }

  /**
   * Deletes a user, and with them (foreign keys) their sessions, refresh tokens and one-time tokens, unless
   * `refusal` objects or they are the project's last active admin. Their sessions are revoked in the same
   * transaction, before the rows go, through SessionService: every node stops their tokens at once.
   */
  private async deleteGuarded(
    projectId: string,
    key: string,
    refusal: (target: UserProfile, roles: Map<string, string[]>) => Refusal | null,
  ): Promise<Result<UserProfile>> {
    const outcome = await this.guarded(projectId, async (trx, roles) => {
      const target = await store.findUserInProject(trx, projectId, key);
      if (!target) return refuse('not_found');
      const refused = refusal(target, roles);
      if (refused) return refuse(refused);
      if (target.status === 'active' && grantsAll(roles.get(target.role))) {
        const others = await store.countActiveWithRoles(trx, projectId, adminRoles(roles), target.id);
        if (others === 0) return refuse('last_admin');
      }
      const sessionIds = await this.deps.sessions.endForDeletion(trx, target.id);
      await store.deleteUserInProject(trx, projectId, target.id);
      return ok({ target, sessionIds });
    });
    if (!outcome.ok) return outcome;
    this.deps.sessions.forget(outcome.value.sessionIds);
    return ok(outcome.value.target);
  }

  /** Runs `work` in a transaction that holds the project's admin lock, with the project's roles at hand. */
  private async guarded<T>(
    projectId: string,
    work: (trx: Transaction<Tables>, roles: Map<string, string[]>) => Promise<Result<T>>,
  ): Promise<Result<T>> {
    const { database } = this.deps;
    try {
      return await database.db.transaction().execute(async (trx) => {
        await lockAdministration(trx, database.dialect, projectId);
        return work(trx, await store.rolePermissions(trx, projectId));
      });
    } catch (error) {
      // Another request took the e-mail between the check and the write.
      if (store.isUniqueViolation(error)) return refuse('email_taken');
      throw error;
    }
  }
}

/** The stored form of a user id from a path, or null when it cannot be one (answered as not found). */
function userKey(id: string): string | null {
  const key = id.toLowerCase();
  return isUuid(key) ? key : null;
}

function adminRoles(roles: Map<string, string[]>): string[] {
  return [...roles].filter(([, permissions]) => grantsAll(permissions)).map(([name]) => name);
}

function sortKeyOf(user: UserProfile, sort: UserSort): string | number {
  if (keyKind(sort) === 'text') return user.email;
  if (sort.endsWith('last_access')) return user.last_access ?? -1;
  return user.created_at;
}
