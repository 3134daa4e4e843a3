import type { Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * API keys: personal keys (a user's, `gatehouse_pat_`) and project keys (publishable `gatehouse_pk_` and secret
 * `gatehouse_sk_`). Only the SHA-256 of a key is stored. A rotation adds a row for the new secret and points the
 * old row at it (`replaced_by`), so each secret has its own revocation time, which the revocation list carries
 * to every node.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const id = dialect === 'postgres' ? 'uuid' : 'text';
  const time = 'bigint';
  await db.schema
    .createTable('api_keys')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('project_id', id, (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('user_id', id, (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('key_hash', 'text', (c) => c.notNull().unique())
    .addColumn('scopes', 'text')
    .addColumn('created_by', 'text')
    .addColumn('created_at', time, (c) => c.notNull())
    .addColumn('expires_at', time)
    .addColumn('last_used_at', time)
    .addColumn('revoked_at', time)
    .addColumn('revoked_reason', 'text')
    .addColumn('replaced_by', id)
    .execute();
  await db.schema.createIndex('api_keys_user').on('api_keys').columns(['user_id']).execute();
  await db.schema.createIndex('api_keys_project_kind').on('api_keys').columns(['project_id', 'kind']).execute();
  await db.schema.createIndex('api_keys_revoked_at').on('api_keys').columns(['revoked_at']).execute();
}
