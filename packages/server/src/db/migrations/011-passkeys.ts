import type { Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * Passkeys (WebAuthn credentials) and the challenges of their ceremonies. A credential's public key is not a
 * secret; a challenge is a public nonce, but only its SHA-256 is kept, like every other single-use value.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const id = dialect === 'postgres' ? 'uuid' : 'text';
  const time = 'bigint';
  await db.schema
    .createTable('passkeys')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('project_id', id, (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('user_id', id, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('credential_id', 'text', (c) => c.notNull())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('counter', time, (c) => c.notNull())
    .addColumn('transports', 'text', (c) => c.notNull())
    .addColumn('aaguid', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('device_type', 'text', (c) => c.notNull())
    .addColumn('backed_up', 'integer', (c) => c.notNull())
    .addColumn('created_at', time, (c) => c.notNull())
    .addColumn('last_used_at', time)
    .execute();
  await db.schema
    .createIndex('passkeys_credential')
    .on('passkeys')
    .columns(['project_id', 'credential_id'])
    .unique()
    .execute();
  await db.schema.createIndex('passkeys_user').on('passkeys').columns(['user_id', 'created_at']).execute();

  await db.schema
    .createTable('webauthn_challenges')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('project_id', id, (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('ceremony', 'text', (c) => c.notNull())
    .addColumn('user_id', id, (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('challenge_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', time, (c) => c.notNull())
    .addColumn('expires_at', time, (c) => c.notNull())
    .addColumn('used_at', time)
    .execute();
  await db.schema.createIndex('webauthn_challenges_expiry').on('webauthn_challenges').columns(['expires_at']).execute();
}
