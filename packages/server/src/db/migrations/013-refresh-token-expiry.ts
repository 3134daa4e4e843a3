import type { Kysely } from 'kysely';

/**
 * Every refresh leaves a used token row behind (kept until it expires, so a replay is caught as reuse). The index
 * lets the hourly prune find the expired ones without scanning the table; new tokens expire in the order they are
 * made, so each insert lands at the index's right edge.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('refresh_tokens_expires_at').on('refresh_tokens').columns(['expires_at']).execute();
}
