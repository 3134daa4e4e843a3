import type { Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * Every audit event looks up the project's enabled webhooks inside its own transaction (to queue deliveries),
 * so that lookup must stay an index read however many events a project records.
 */
export async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema.createIndex('webhooks_project_enabled').on('webhooks').columns(['project_id', 'enabled']).execute();
}
