import { type Kysely, sql } from 'kysely';
import type { Database } from './database.js';
import { MIGRATIONS, type Migration } from './migrations/index.js';

const TABLE = 'gatehouse_migrations';

/**
 * Applies pending migrations in order, each in its own transaction together with its bookkeeping row, so a
 * failed migration leaves nothing half-done. On PostgreSQL an advisory lock keeps two nodes starting at once
 * from running the same migration twice.
 */
export async function migrate(
  database: Database,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<{ applied: string[] }> {
  const db = database.db as unknown as Kysely<Record<string, { name: string; executed_at: number }>>;
  await db.schema
    .createTable(TABLE)
    .ifNotExists()
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('executed_at', 'bigint', (c) => c.notNull())
    .execute();
  const applied: string[] = [];
  await db.connection().execute(async (connection) => {
    if (database.dialect === 'postgres') await sql`select pg_advisory_lock(72657)`.execute(connection);
    try {
      const done = new Set((await connection.selectFrom(TABLE).select('name').execute()).map((row) => row.name));
      for (const migration of migrations) {
        if (done.has(migration.name)) continue;
        await connection.transaction().execute(async (trx) => {
          await migration.up(trx as unknown as Kysely<unknown>, database.dialect);
          await trx.insertInto(TABLE).values({ name: migration.name, executed_at: Date.now() }).execute();
        });
        applied.push(migration.name);
      }
    } finally {
      if (database.dialect === 'postgres') await sql`select pg_advisory_unlock(72657)`.execute(connection);
    }
  });
  return { applied };
}
