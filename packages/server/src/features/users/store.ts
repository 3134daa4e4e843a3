import type { Kysely } from 'kysely';
import type { NewUser, Tables, UserRow, UserUpdate } from '../../db/types.js';

export async function findUserByEmail(
  db: Kysely<Tables>,
  projectId: string,
  email: string,
): Promise<UserRow | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('email', '=', email)
    .executeTakeFirst();
}

export async function findUserById(db: Kysely<Tables>, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
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

export async function updateUser(db: Kysely<Tables>, id: string, values: UserUpdate): Promise<UserRow | undefined> {
  await db.updateTable('users').set(values).where('id', '=', id).execute();
  return findUserById(db, id);
}
