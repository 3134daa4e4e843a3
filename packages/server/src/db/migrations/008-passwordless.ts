import type { Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * Passwordless sign-in and activation codes:
 * - the outbox carries text messages too (`channel` sms or push, sent to a webhook gateway) and the `purpose` the
 *   gateway is told;
 * - users get a phone number (E.164), stored only once a code sent to it came back, unique per project;
 * - `send_cooldowns` holds, per purpose and identifier (a SHA-256 key, so no address of a non-account is kept),
 *   until when no new message is sent: one conditional upsert claims the slot, so parallel requests send once.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const id = dialect === 'postgres' ? 'uuid' : 'text';
  await db.schema
    .alterTable('outbox')
    .addColumn('channel', 'text', (c) => c.notNull().defaultTo('email'))
    .execute();
  await db.schema.alterTable('outbox').addColumn('purpose', 'text').execute();
  await db.schema.alterTable('users').addColumn('phone', 'text').execute();
  await db.schema.alterTable('users').addColumn('phone_verified_at', 'bigint').execute();
  await db.schema.createIndex('users_project_phone').on('users').columns(['project_id', 'phone']).unique().execute();
  await db.schema
    .createTable('send_cooldowns')
    .addColumn('project_id', id, (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('until', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('send_cooldowns_pk', ['project_id', 'key'])
    .execute();
}
