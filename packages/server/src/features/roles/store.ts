import type { Kysely, Transaction } from 'kysely';
import type { RoleRow, Tables } from '../../db/types.js';

type Executor = Kysely<Tables> | Transaction<Tables>;

export async function listRoles(db: Executor, projectId: string): Promise<RoleRow[]> {
  return db.selectFrom('roles').selectAll().where('project_id', '=', projectId).orderBy('name').execute();
}

export async function findRoleById(db: Executor, projectId: string, id: string): Promise<RoleRow | undefined> {
  return db.selectFrom('roles').selectAll().where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
}

/** Inserts a role; answers false when the name is taken. */
export async function insertRole(db: Executor, role: RoleRow): Promise<boolean> {
  const result = await db
    .insertInto('roles')
    .values(role)
    .onConflict((conflict) => conflict.columns(['project_id', 'name']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function updateRole(
  db: Executor,
  id: string,
  values: { description?: string | null; permissions?: string; mfa_required?: number },
): Promise<void> {
  await db.updateTable('roles').set(values).where('id', '=', id).execute();
}

export async function deleteRole(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('roles').where('id', '=', id).execute();
}

export async function countUsersWithRole(db: Executor, projectId: string, role: string): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('project_id', '=', projectId)
    .where('role', '=', role)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Active accounts whose role grants `*`, other than those holding `exceptRole`. */
export async function countOtherActiveAdmins(db: Executor, projectId: string, exceptRole: string): Promise<number> {
  const row = await db
    .selectFrom('users')
    .innerJoin('roles', (join) =>
      join.onRef('roles.project_id', '=', 'users.project_id').onRef('roles.name', '=', 'users.role'),
    )
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('users.project_id', '=', projectId)
    .where('users.status', '=', 'active')
    .where('users.role', '!=', exceptRole)
    .where('roles.permissions', 'like', '%"*"%')
    .executeTakeFirstOrThrow();
  return Number(row.count);
}
