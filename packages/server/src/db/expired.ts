import { type Kysely, sql } from 'kysely';
import type { Tables } from './types.js';

/** How long a row is kept past its `expires_at`: long enough for a late client to hear "expired", not "unknown". */
export const KEPT_AFTER_EXPIRY = 24 * 60 * 60_000;

/** Rows a housekeeping delete removes per statement. */
const DELETE_BATCH = 1000;

/** The tables whose rows end at `expires_at`, and the key each is deleted by. */
interface Expiring {
  refresh_tokens: 'token_hash';
  one_time_tokens: 'id';
}

/**
 * Deletes the rows of `table` that expired more than `KEPT_AFTER_EXPIRY` before `now`, and answers how many went.
 * `DELETE_BATCH` rows a statement, with other work let in between: on SQLite no single statement holds the one
 * writer lock, or the event loop, for long. Each table has an index on `expires_at` for this.
 */
export async function deleteExpired<T extends keyof Expiring & keyof Tables>(
  db: Kysely<Tables>,
  table: T,
  key: Expiring[T],
  now: number,
): Promise<number> {
  const before = now - KEPT_AFTER_EXPIRY;
  let deleted = 0;
  for (;;) {
    const result = await sql`delete from ${sql.table(table)} where ${sql.ref(key)} in (
      select ${sql.ref(key)} from ${sql.table(table)} where expires_at < ${before} limit ${DELETE_BATCH})`.execute(db);
    const batch = Number(result.numAffectedRows ?? 0);
    deleted += batch;
    if (batch < DELETE_BATCH) return deleted;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
