import type { Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * Revocations that outlive their session row. Deleting a user deletes their sessions (foreign keys), so the
 * `revoked_at` every node polls would vanish with them; the ids go here instead, in the deleting transaction,
 * and each node's revocation poll reads both. No foreign key to sessions or users, on purpose.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const id = dialect === 'postgres' ? 'uuid' : 'text';
  await db.schema
    .createTable('session_revocations')
    .addColumn('session_id', id, (c) => c.primaryKey())
    .addColumn('project_id', id, (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('revoked_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('session_revocations_revoked_at')
    .on('session_revocations')
    .columns(['revoked_at'])
    .execute();
}
