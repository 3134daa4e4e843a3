import type { UserSort } from '@gatehouse/protocol';
import { type Expression, type Kysely, type SqlBool, sql, type Transaction } from 'kysely';
import type { Tables, UserProfile, UserUpdate } from '../../db/types.js';
import { PROFILE_COLUMNS } from '../users/index.js';
import type { UserCursor } from './cursor.js';

type Executor = Kysely<Tables> | Transaction<Tables>;

export interface UserFilter {
  projectId: string;
  search?: string;
  role?: string;
  status?: UserProfile['status'];
  sort: UserSort;
  after?: UserCursor;
  limit: number;
}

/** `%`, `_` and the escape character itself match literally in a LIKE pattern built from this. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}

/**
 * The sort key as an expression. A user who never signed in has no last access; it sorts as -1 (before every
 * real time) on both dialects, which otherwise disagree on where NULLs go.
 */
function sortKey(sort: UserSort): Expression<string | number> {
  const column = sort.replace(/^-/, '');
  if (column === 'last_access') return sql<number>`coalesce(users.last_access, -1)`;
  return sql.ref<string | number>(`users.${column}`);
}

/** The users of a project, filtered, in `sort` order with ids breaking ties; keyset pagination after `after`. */
export async function listUsers(db: Executor, filter: UserFilter): Promise<UserProfile[]> {
  const key = sortKey(filter.sort);
  const descending = filter.sort.startsWith('-');
  let query = db.selectFrom('users').select(PROFILE_COLUMNS).where('users.project_id', '=', filter.projectId);
  if (filter.role !== undefined) query = query.where('users.role', '=', filter.role);
  if (filter.status !== undefined) query = query.where('users.status', '=', filter.status);
  if (filter.search) {
    // lower() on both sides: LIKE is case-sensitive on PostgreSQL and ASCII-case-insensitive on SQLite.
    const pattern = `%${escapeLike(filter.search.toLowerCase())}%`;
    query = query.where((eb) =>
      eb.or(
        (['users.email', 'users.first_name', 'users.last_name'] as const).map(
          (column) => sql<SqlBool>`lower(${sql.ref(column)}) like ${pattern} escape '\\'`,
        ),
      ),
    );
  }
  const after = filter.after;
  if (after) {
    const op = descending ? '<' : '>';
    query = query.where((eb) =>
      eb.or([eb(key, op, after.key), eb.and([eb(key, '=', after.key), eb('users.id', op, after.id)])]),
    );
  }
  const direction = descending ? 'desc' : 'asc';
  return query.orderBy(key, direction).orderBy('users.id', direction).limit(filter.limit).execute();
}

export async function findUserInProject(db: Executor, projectId: string, id: string): Promise<UserProfile | undefined> {
  return db
    .selectFrom('users')
    .select(PROFILE_COLUMNS)
    .where('users.id', '=', id)
    .where('users.project_id', '=', projectId)
    .executeTakeFirst();
}

export async function emailTaken(db: Executor, projectId: string, email: string): Promise<boolean> {
  const row = await db
    .selectFrom('users')
    .select('id')
    .where('project_id', '=', projectId)
    .where('email', '=', email)
    .executeTakeFirst();
  return row !== undefined;
}

/** Every role of the project with its permission list. */
export async function rolePermissions(db: Executor, projectId: string): Promise<Map<string, string[]>> {
  const rows = await db
    .selectFrom('roles')
    .select(['name', 'permissions'])
    .where('project_id', '=', projectId)
    .execute();
  return new Map(rows.map((row) => [row.name, JSON.parse(row.permissions) as string[]]));
}

/** Active users of the project whose role is one of `roles`, other than `exceptId`. */
export async function countActiveWithRoles(
  db: Executor,
  projectId: string,
  roles: readonly string[],
  exceptId: string,
): Promise<number> {
  if (roles.length === 0) return 0;
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .where('project_id', '=', projectId)
    .where('status', '=', 'active')
    .where('role', 'in', roles)
    .where('id', '!=', exceptId)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

export async function updateUserInProject(
  db: Executor,
  projectId: string,
  id: string,
  values: UserUpdate,
): Promise<void> {
  await db.updateTable('users').set(values).where('id', '=', id).where('project_id', '=', projectId).execute();
}

/** Deletes a user; sessions, refresh tokens and one-time tokens go with them (foreign keys). */
export async function deleteUserInProject(db: Executor, projectId: string, id: string): Promise<void> {
  await db.deleteFrom('users').where('id', '=', id).where('project_id', '=', projectId).execute();
}

export { isUniqueViolation } from '../../db/database.js';
