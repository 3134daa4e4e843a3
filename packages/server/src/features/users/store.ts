import type { Kysely } from 'kysely';
import { prepared } from '../../db/prepared.js';
import type { NewUser, Tables, UserProfile, UserRow, UserUpdate } from '../../db/types.js';

const selectUserByEmail = prepared((db, projectId: string, email: string) =>
  db.selectFrom('users').selectAll().where('project_id', '=', projectId).where('email', '=', email),
);

export async function findUserByEmail(
  db: Kysely<Tables>,
  projectId: string,
  email: string,
): Promise<UserRow | undefined> {
  return (await selectUserByEmail(db, projectId, email)).rows[0];
}

/** Every column but the password hash, which only the password check needs (and so only it loads). */
export const PROFILE_COLUMNS = [
  'users.id',
  'users.project_id',
  'users.email',
  'users.email_verified_at',
  'users.first_name',
  'users.last_name',
  'users.language',
  'users.title',
  'users.location',
  'users.description',
  'users.avatar',
  'users.role',
  'users.status',
  'users.provider',
  'users.last_access',
  'users.phone',
  'users.phone_verified_at',
  'users.created_at',
  'users.updated_at',
] as const;

const selectUserById = prepared((db, id: string) =>
  db.selectFrom('users').select(PROFILE_COLUMNS).where('id', '=', id),
);

export async function findUserById(db: Kysely<Tables>, id: string): Promise<UserProfile | undefined> {
  return (await selectUserById(db, id)).rows[0];
}

const selectUserWithRole = prepared((db, id: string) =>
  db
    .selectFrom('users')
    .leftJoin('roles', (join) =>
      join.onRef('roles.project_id', '=', 'users.project_id').onRef('roles.name', '=', 'users.role'),
    )
    .select([...PROFILE_COLUMNS, 'roles.permissions'])
    .where('users.id', '=', id),
);

/** A user and the permissions of their role, in one query: what every token issued for them carries. */
export async function findUserWithPermissions(
  db: Kysely<Tables>,
  id: string,
): Promise<{ user: UserProfile; permissions: string[] } | undefined> {
  const row = (await selectUserWithRole(db, id)).rows[0];
  if (!row) return undefined;
  const { permissions, ...user } = row;
  return { user, permissions: parsePermissions(permissions) };
}

/** A role's permissions as stored (a JSON array), or none for a user whose role is gone. */
export function parsePermissions(stored: string | null): string[] {
  return stored ? (JSON.parse(stored) as string[]) : [];
}

/** Inserts a user; answers false instead of throwing when the e-mail is taken (a unique-constraint race). */
export async function insertUser(db: Kysely<Tables>, user: NewUser): Promise<boolean> {
  const result = await db
    .insertInto('users')
    .values(user)
    .onConflict((conflict) => conflict.columns(['project_id', 'email']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function updateUser(db: Kysely<Tables>, id: string, values: UserUpdate): Promise<void> {
  await db.updateTable('users').set(values).where('id', '=', id).execute();
}
