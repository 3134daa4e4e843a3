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

  it('answers the same rows and counts as Kysely itself', async () => {
    const find = prepared((db, slug: string) => db.selectFrom('projects').selectAll().where('slug', '=', slug));
    const direct = await test.database.db.selectFrom('projects').selectAll().where('slug', '=', 'a').execute();
    expect((await find(test.database.db, 'a')).rows).toEqual(direct);
    const rename = prepared((db, slug: string, name: string) =>
      db.updateTable('projects').set({ name }).where('slug', '=', slug),
    );
    expect(Number((await rename(test.database.db, 'a', 'A')).numAffectedRows)).toBe(1);
    expect(Number((await rename(test.database.db, 'missing', 'A')).numAffectedRows)).toBe(0);
  });

  it('waits for a transaction in flight rather than reading its uncommitted rows', async () => {
    const find = prepared((db, slug: string) => db.selectFrom('projects').select(['slug']).where('slug', '=', slug));
    let pending: Promise<{ rows: unknown[] }> | undefined;
    await expect(
      test.database.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('projects')
          .values({ id: '00000000-0000-4000-8000-000000000003', slug: 'c', name: 'C', created_at: 3 })
          .execute();
        pending = find(test.database.db, 'c');
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect((await pending)?.rows).toEqual([]);
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
