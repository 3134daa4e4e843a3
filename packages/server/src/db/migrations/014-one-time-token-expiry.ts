import type { Kysely } from 'kysely';

/** Lets the hourly prune find expired one-time tokens (links and codes) without scanning the table. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('one_time_tokens_expires_at').on('one_time_tokens').columns(['expires_at']).execute();
}
