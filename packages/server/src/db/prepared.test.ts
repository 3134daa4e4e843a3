import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_DIALECT, type TestDatabase } from '../testing/database.js';
import { migrate } from './migrator.js';
import { prepared } from './prepared.js';

let test: TestDatabase;
beforeAll(async () => {
  test = await createTestDatabase();
  await migrate(test.database);
  await test.database.db
    .insertInto('projects')
    .values([
      { id: '00000000-0000-4000-8000-000000000001', slug: 'a', name: 'A', created_at: 1 },
      { id: '00000000-0000-4000-8000-000000000002', slug: 'b', name: 'B', created_at: 2 },
    ])
    .execute();
});
afterAll(() => test.drop());

describe('prepared', () => {
  it('binds each value where its parameter stands, call after call', async () => {
    const find = prepared((db, createdAfter: number, slug: string) =>
      db.selectFrom('projects').select(['slug']).where('slug', '=', slug).where('created_at', '>', createdAfter),
    );
    expect((await find(test.database.db, 0, 'a')).rows).toEqual([{ slug: 'a' }]);
    expect((await find(test.database.db, 0, 'b')).rows).toEqual([{ slug: 'b' }]);
    expect((await find(test.database.db, 5, 'b')).rows).toEqual([]);
  });

  it('refuses a builder that binds a value of its own', async () => {
    const broken = prepared((db, slug: string) =>
      db.selectFrom('projects').selectAll().where('slug', '=', slug).where('name', '=', 'A'),
    );
    await expect(broken(test.database.db, 'a')).rejects.toThrow(/only bind its parameters/);
  });
});

describe('the test database', () => {
  it('is the dialect GATEHOUSE_TEST_DATABASE_URL names, so a PostgreSQL run cannot silently use SQLite', () => {
    const expected = process.env.GATEHOUSE_TEST_DATABASE_URL?.startsWith('postgres') ? 'postgres' : 'sqlite';
    expect(TEST_DIALECT).toBe(expected);
    expect(test.database.dialect).toBe(expected);
  });
});
