import type { CreateRoleBody, Role, UpdateRoleBody } from '@gatehouse/protocol';
import { type Kysely, sql, type Transaction } from 'kysely';
import type { Caller, RequestMeta } from '../../caller.js';
import type { Clock } from '../../clock.js';
import { randomId } from '../../crypto/random.js';
import type { Database } from '../../db/index.js';
import type { RoleRow, Tables } from '../../db/types.js';
import { AuthError, forbidden, invalidPayload } from '../../errors/auth-error.js';
import type { AuditLog } from '../audit/index.js';
import { BUILT_IN_ROLES } from '../projects/index.js';
import { hasPermission } from './permissions.js';
import * as store from './store.js';

const BUILT_IN = new Set(BUILT_IN_ROLES.map((role) => role.name));

export function toRole(row: RoleRow): Role {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    permissions: JSON.parse(row.permissions) as string[],
    built_in: BUILT_IN.has(row.name),
    created_at: new Date(Number(row.created_at)).toISOString(),
    mfa_required: Number(row.mfa_required) === 1,
  };
}

const notFound = () => new AuthError('RECORD_NOT_FOUND', 'Role not found.');

/**
 * Roles and their permissions. Two rules keep this from being a way up: a caller can only grant permissions
 * they hold themselves, and the built-in admin role always keeps `*`, so the project always has a role that
 * can administer it.
 */
export class RoleService {
  private readonly db: Kysely<Tables>;

  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
  ) {
    this.db = database.db;
  }

  async list(projectId: string): Promise<Role[]> {
    return (await store.listRoles(this.db, projectId)).map(toRole);
  }

  async get(projectId: string, id: string): Promise<Role> {
    const row = await store.findRoleById(this.db, projectId, id);
    if (!row) throw notFound();
    return toRole(row);
  }

  async create(caller: Caller, body: CreateRoleBody, meta: RequestMeta): Promise<Role> {
    this.ensureCanGrant(caller, body.permissions);
    const row: RoleRow = {
      id: randomId(),
      project_id: caller.projectId,
      name: body.name,
      description: body.description ?? null,
      permissions: JSON.stringify(body.permissions),
      created_at: this.clock.now(),
      mfa_required: body.mfa_required ? 1 : 0,
    };
    if (!(await store.insertRole(this.db, row))) {
      throw new AuthError('RECORD_NOT_UNIQUE', `A role named ${body.name} already exists.`);
    }
    await this.audit.record(caller.projectId, {
      event: 'role.created',
      actorId: caller.actorId ?? caller.userId,
      ...meta,
      details: { role: row.name, permissions: body.permissions },
    });
    return toRole(row);
  }

  async update(caller: Caller, id: string, body: UpdateRoleBody, meta: RequestMeta): Promise<Role> {
    const role = await this.db.transaction().execute(async (trx) => {
      const row = await store.findRoleById(trx, caller.projectId, id);
      if (!row) throw notFound();
      const before = JSON.parse(row.permissions) as string[];
      if (body.permissions) {
        if (row.name === 'admin') throw invalidPayload('The admin role always holds every permission.');
        // Granting and taking away are both a use of what the caller holds.
        this.ensureCanGrant(caller, [...body.permissions, ...before.filter((p) => !body.permissions?.includes(p))]);
        if (before.includes('*') && !body.permissions.includes('*')) {
          await lockAdministration(trx, this.database.dialect, caller.projectId);
          if ((await store.countOtherActiveAdmins(trx, caller.projectId, row.name)) === 0) {
            throw new AuthError('LAST_ADMIN', 'This role holds the last active administrators of the project.');
          }
        }
      }
      await store.updateRole(trx, row.id, {
        ...(body.description !== undefined ? { description: body.description } : {}),
        ...(body.permissions ? { permissions: JSON.stringify(body.permissions) } : {}),
        ...(body.mfa_required !== undefined ? { mfa_required: body.mfa_required ? 1 : 0 } : {}),
      });
      return { row: (await store.findRoleById(trx, caller.projectId, id)) as RoleRow, before };
    });
    await this.audit.record(caller.projectId, {
      event: 'role.updated',
      actorId: caller.actorId ?? caller.userId,
      ...meta,
      details: {
        role: role.row.name,
        before: role.before,
        after: JSON.parse(role.row.permissions),
        ...(body.mfa_required !== undefined ? { mfa_required: body.mfa_required } : {}),
      },
    });
    return toRole(role.row);
  }

  async remove(caller: Caller, id: string, meta: RequestMeta): Promise<void> {
    const name = await this.db.transaction().execute(async (trx) => {
      const row = await store.findRoleById(trx, caller.projectId, id);
      if (!row) throw notFound();
      if (BUILT_IN.has(row.name)) throw invalidPayload(`The built-in role ${row.name} cannot be deleted.`);
      this.ensureCanGrant(caller, JSON.parse(row.permissions) as string[]);
      const holders = await store.countUsersWithRole(trx, caller.projectId, row.name);
      if (holders > 0) {
        throw new AuthError('RECORD_IN_USE', `The role ${row.name} is assigned to ${holders} account(s).`);
      }
      await store.deleteRole(trx, row.id);
      return row.name;
    });
    await this.audit.record(caller.projectId, {
      event: 'role.deleted',
      actorId: caller.actorId ?? caller.userId,
      ...meta,
      details: { role: name },
    });
  }

  private ensureCanGrant(caller: Caller, permissions: readonly string[]): void {
    const missing = permissions.filter((permission) => !hasPermission(caller.permissions, permission));
    if (missing.length > 0) {
      throw forbidden(`You cannot grant or revoke permissions you do not hold: ${missing.join(', ')}.`);
    }
  }
}

/**
 * Serializes changes that could take away a project's last administrator (role edits here, demotions and
 * suspensions of accounts), so two of them at once cannot both see "another admin remains". SQLite runs one
 * write transaction at a time already; PostgreSQL takes a transaction-scoped advisory lock per project.
 */
export async function lockAdministration(trx: Transaction<Tables>, dialect: Database['dialect'], projectId: string) {
  if (dialect !== 'postgres') return;
  await sql`select pg_advisory_xact_lock(hashtextextended(${`gatehouse:admins:${projectId}`}, 0))`.execute(trx);
}
