import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type Database, openDatabase } from '../db/index.js';

/**
 * The database the test suite runs on: an in-memory SQLite by default, or PostgreSQL when
 * GATEHOUSE_TEST_DATABASE_URL names a server. On PostgreSQL every test database is a fresh schema, dropped
 * afterwards, so test files run in parallel without seeing each other's rows.
 */
export const TEST_DATABASE_URL = process.env.GATEHOUSE_TEST_DATABASE_URL ?? 'sqlite::memory:';
export const TEST_DIALECT = TEST_DATABASE_URL.startsWith('postgres') ? 'postgres' : 'sqlite';

export interface TestDatabase {
  database: Database;
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  if (TEST_DIALECT === 'sqlite') {
    const database = await openDatabase('sqlite::memory:');
    return { database, url: 'sqlite::memory:', drop: () => database.close() };
  }
  const schema = `test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const database = await openDatabase(url.toString());
  return {
    database,
    url: url.toString(),
    async drop() {
      await database.close();
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      await client.query(`drop schema ${schema} cascade`);
      await client.end();
    },
  };
}
