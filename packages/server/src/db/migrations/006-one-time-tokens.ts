import type { Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * Single-use secrets sent to a person: verification and reset links, magic links, activation codes. Only a
 * digest is stored (SHA-256 for random link tokens, a keyed HMAC for short codes, which are guessable offline).
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const id = dialect === 'postgres' ? 'uuid' : 'text';
  const time = 'bigint';
  await db.schema
    .createTable('one_time_tokens')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('project_id', id, (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('user_id', id, (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('identifier', 'text', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('secret_hash', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('max_attempts', 'integer', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('created_at', time, (c) => c.notNull())
    .addColumn('expires_at', time, (c) => c.notNull())
    .addColumn('used_at', time)
    .execute();
  await db.schema.createIndex('one_time_tokens_secret').on('one_time_tokens').columns(['secret_hash']).execute();
  await db.schema
    .createIndex('one_time_tokens_identifier')
    .on('one_time_tokens')
    .columns(['project_id', 'purpose', 'identifier', 'created_at'])
    .execute();
}
