import type { Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * Second factors: TOTP and e-mail-code factors per user (a TOTP secret is stored sealed), recovery codes (only
 * their HMAC), the per-user counter of wrong second-factor codes that drives the lockout, and the per-role
 * "MFA required" flag.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const id = dialect === 'postgres' ? 'uuid' : 'text';
  const time = 'bigint';
  await db.schema
    .createTable('mfa_factors')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('project_id', id, (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('user_id', id, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('secret', 'text')
    .addColumn('is_default', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_step', time)
    .addColumn('created_at', time, (c) => c.notNull())
    .addColumn('confirmed_at', time)
    .execute();
  await db.schema.createIndex('mfa_factors_user').on('mfa_factors').columns(['user_id']).execute();

  await db.schema
    .createTable('recovery_codes')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('project_id', id, (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('user_id', id, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('code_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', time, (c) => c.notNull())
    .addColumn('used_at', time)
    .execute();
  await db.schema.createIndex('recovery_codes_user').on('recovery_codes').columns(['user_id', 'code_hash']).execute();

  await db.schema
    .createTable('mfa_lockouts')
    .addColumn('user_id', id, (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('project_id', id, (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('lockouts', 'integer', (c) => c.notNull())
    .addColumn('locked_until', time, (c) => c.notNull())
    .execute();

  await db.schema
    .alterTable('roles')
    .addColumn('mfa_required', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}
