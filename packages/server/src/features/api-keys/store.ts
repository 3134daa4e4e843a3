import type { Kysely } from 'kysely';
import type { ApiKeyRow, ApiKeysTable, Tables } from '../../db/types.js';

/** `last_used_at` is written at most this often per key, on every node together. */
export const TOUCH_INTERVAL = 60_000;

function toRow(row: ApiKeyRow): ApiKeyRow {
  // PostgreSQL answers bigint columns as strings unless the pool parses them; be explicit either way.
  const n = (value: number | null) => (value === null ? null : Number(value));
  return {
    ...row,
    created_at: Number(row.created_at),
    expires_at: n(row.expires_at),
    last_used_at: n(row.last_used_at),
    revoked_at: n(row.revoked_at),
  };
}

export async function insertKey(db: Kysely<Tables>, row: ApiKeysTable): Promise<void> {
  await db.insertInto('api_keys').values(row).execute();
}

export async function findKeyByHash(db: Kysely<Tables>, hash: string): Promise<ApiKeyRow | undefined> {
  const row = await db.selectFrom('api_keys').selectAll().where('key_hash', '=', hash).executeTakeFirst();
  return row && toRow(row);
}

export async function findKeyById(db: Kysely<Tables>, id: string): Promise<ApiKeyRow | undefined> {
  const row = await db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toRow(row);
}

/**
 * The keys of a user, newest first: each key's current secret, and a rotated-out one only while its grace
 * period lasts (older generations are history for the audit trail, not keys).
 */
export async function listUserKeys(db: Kysely<Tables>, userId: string, now: number): Promise<ApiKeyRow[]> {
  const rows = await db
    .selectFrom('api_keys')
    .selectAll()
    .where('user_id', '=', userId)
    .where((eb) => eb.or([eb('replaced_by', 'is', null), eb('revoked_at', '>', now)]))
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .execute();
  return rows.map(toRow);
}

export async function listProjectKeys(db: Kysely<Tables>, projectId: string, now: number): Promise<ApiKeyRow[]> {
  const rows = await db
    .selectFrom('api_keys')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('kind', 'in', ['publishable', 'secret'])
    .where((eb) => eb.or([eb('replaced_by', 'is', null), eb('revoked_at', '>', now)]))
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .execute();
  return rows.map(toRow);
}

/**
 * Revokes a key that still works (never revoked, or rotated out and within its grace period). Answers false when
 * it had already stopped, so two revocations record one event.
 */
export async function revokeKey(
  db: Kysely<Tables>,
  id: string,
  input: { now: number; reason: string },
): Promise<boolean> {
  const result = await db
    .updateTable('api_keys')
    .set({ revoked_at: input.now, revoked_reason: input.reason })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('revoked_at', 'is', null), eb('revoked_at', '>', input.now)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Replaces a key by `successor` in one transaction. The old row is claimed by a conditional UPDATE (not yet
 * replaced, not revoked, not expired), so of parallel rotations of one key exactly one wins and inserts its
 * successor; the others answer false and insert nothing.
 */
export async function rotateKey(
  db: Kysely<Tables>,
  input: { id: string; successor: ApiKeysTable; now: number; stopsAt: number },
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const claimed = await trx
      .updateTable('api_keys')
      .set({ replaced_by: input.successor.id, revoked_at: input.stopsAt, revoked_reason: 'rotated' })
      .where('id', '=', input.id)
      .where('replaced_by', 'is', null)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', input.now)]))
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) return false;
    await trx.insertInto('api_keys').values(input.successor).execute();
    return true;
  });
}

/** Records a use; a no-op when the last recorded one is less than TOUCH_INTERVAL old (on any node). */
export async function touchKey(db: Kysely<Tables>, id: string, now: number): Promise<void> {
  await db
    .updateTable('api_keys')
    .set({ last_used_at: now })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<=', now - TOUCH_INTERVAL)]))
    .execute();
}

/** Keys revoked (or due to stop after a grace period) at or after `since`: the revocation list's poll. */
export async function keysRevokedSince(
  db: Kysely<Tables>,
  since: number,
): Promise<{ id: string; revoked_at: number }[]> {
  const rows = await db.selectFrom('api_keys').select(['id', 'revoked_at']).where('revoked_at', '>=', since).execute();
  return rows.map((row) => ({ id: row.id, revoked_at: Number(row.revoked_at) }));
}
