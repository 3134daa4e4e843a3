import type { Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * Outgoing mail (the outbox: every message, sent by SMTP or kept for the development outbox) and invitations.
 * An invitation keeps only the SHA-256 of its token; its `user_id` is cleared when the invited account is deleted,
 * so the record of who invited whom outlives the account.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const id = dialect === 'postgres' ? 'uuid' : 'text';
  const time = 'bigint';

  await db.schema
    .createTable('outbox')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('project_id', id, (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('to', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('text', 'text')
    .addColumn('html', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('next_attempt_at', time)
    .addColumn('last_error', 'text')
    .addColumn('created_at', time, (c) => c.notNull())
    .addColumn('sent_at', time)
    .execute();
  await db.schema.createIndex('outbox_project_created').on('outbox').columns(['project_id', 'created_at']).execute();
  await db.schema.createIndex('outbox_due').on('outbox').columns(['status', 'next_attempt_at']).execute();

  await db.schema
    .createTable('invitations')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('project_id', id, (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('user_id', id, (c) => c.references('users.id').onDelete('set null'))
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('invited_by', 'text')
    .addColumn('created_at', time, (c) => c.notNull())
    .addColumn('expires_at', time, (c) => c.notNull())
    .addColumn('accepted_at', time)
    .addColumn('revoked_at', time)
    .execute();
  await db.schema
    .createIndex('invitations_project_created')
    .on('invitations')
    .columns(['project_id', 'created_at'])
    .execute();
  await db.schema.createIndex('invitations_user').on('invitations').columns(['user_id']).execute();
}
