import type { Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * Sign-in providers: identities (provider accounts linked to users), providers added through the admin API (the
 * client secret sealed), and the single-use rows of provider flows in progress.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const id = dialect === 'postgres' ? 'uuid' : 'text';
  const time = 'bigint';

  await db.schema
    .createTable('identities')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('project_id', id, (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('user_id', id, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('email', 'text')
    .addColumn('email_verified', 'integer', (c) => c.notNull())
    .addColumn('created_at', time, (c) => c.notNull())
    .addColumn('last_used_at', time)
    .addUniqueConstraint('identities_project_provider_subject', ['project_id', 'provider', 'subject'])
    .execute();
  await db.schema.createIndex('identities_user').on('identities').columns(['user_id']).execute();

  await db.schema
    .createTable('providers')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('project_id', id, (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('label', 'text', (c) => c.notNull())
    .addColumn('driver', 'text', (c) => c.notNull())
    .addColumn('icon', 'text')
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('client_secret', 'text')
    .addColumn('issuer', 'text')
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('mode', 'text', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('authorization_url', 'text')
    .addColumn('token_url', 'text')
    .addColumn('userinfo_url', 'text')
    .addColumn('created_at', time, (c) => c.notNull())
    .addColumn('updated_at', time, (c) => c.notNull())
    .addUniqueConstraint('providers_project_name', ['project_id', 'name'])
    .execute();

  await db.schema
    .createTable('oauth_flows')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('project_id', id, (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('user_id', id, (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('ticket_hash', 'text', (c) => c.unique())
    .addColumn('created_at', time, (c) => c.notNull())
    .addColumn('expires_at', time, (c) => c.notNull())
    .addColumn('used_at', time)
    .execute();
  await db.schema.createIndex('oauth_flows_expires').on('oauth_flows').columns(['expires_at']).execute();
}
