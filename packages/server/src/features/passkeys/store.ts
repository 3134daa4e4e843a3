import type { Kysely } from 'kysely';
import type { PasskeyRow, PasskeysTable, Tables } from '../../db/types.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are UUIDs; anything else cannot name a row (and would make PostgreSQL's uuid type throw). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

export async function insertPasskey(db: Kysely<Tables>, row: PasskeysTable): Promise<void> {
  await db.insertInto('passkeys').values(row).execute();
}

export async function listPasskeys(db: Kysely<Tables>, userId: string): Promise<PasskeyRow[]> {
  return db
    .selectFrom('passkeys')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at', 'asc')
    .orderBy('id', 'asc')
    .execute();
}

export async function findByCredentialId(
  db: Kysely<Tables>,
  projectId: string,
  credentialId: string,
): Promise<PasskeyRow | undefined> {
  return db
    .selectFrom('passkeys')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('credential_id', '=', credentialId)
    .executeTakeFirst();
}

/** A passkey of one user: another user's id answers like a missing one. */
export async function findOwnPasskey(db: Kysely<Tables>, userId: string, id: string): Promise<PasskeyRow | undefined> {
  if (!isUuid(userId) || !isUuid(id)) return undefined;
  return db.selectFrom('passkeys').selectAll().where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
}

export async function renamePasskey(db: Kysely<Tables>, id: string, name: string): Promise<void> {
  await db.updateTable('passkeys').set({ name }).where('id', '=', id).execute();
}

export async function deletePasskey(db: Kysely<Tables>, id: string): Promise<boolean> {
  const result = await db.deleteFrom('passkeys').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

/**
 * Records a use with the new signature counter, only if the counter moved forward (or both it and the stored
 * one are 0, for authenticators that do not count). The database checks that in the statement that writes, so
 * two assertions with the same counter cannot both be accepted. Answers false when nothing changed.
 */
export async function recordUse(
  db: Kysely<Tables>,
  id: string,
  use: { counter: number; backedUp: boolean; now: number },
): Promise<boolean> {
  const result = await db
    .updateTable('passkeys')
    .set({ counter: use.counter, backed_up: use.backedUp ? 1 : 0, last_used_at: use.now })
    .where('id', '=', id)
    .where('counter', use.counter === 0 ? '=' : '<', use.counter)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
