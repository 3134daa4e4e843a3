import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_DIALECT, type TestDatabase } from '../testing/database.js';
import { migrate } from './migrator.js';
import { prepared } from './prepared.js';
import type { Tables } from './types.js';

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

  it('reads named, renamed and joined columns with every kind of value exactly as Kysely does', async () => {
    const db = test.database.db;
    await db
      .insertInto('projects')
      .values({
        id: '00000000-0000-4000-8000-000000000004',
        slug: 'd',
        name: 'Zoë "quoted" \\ \u2028 ✓\n',
        created_at: 2 ** 52 + 1,
      })
      .execute();
    await db
      .insertInto('roles')
      .values({
        id: '00000000-0000-4000-8000-000000000005',
        project_id: '00000000-0000-4000-8000-000000000004',
        name: 'reader',
        description: null,
        permissions: '["users:read"]',
        created_at: 0,
      })
      .execute();
    const build = (db: Kysely<Tables>, slug: string) =>
      db
        .selectFrom('projects as p')
        .leftJoin('roles', 'roles.project_id', 'p.id')
        .select(['p.id', 'p.name as title', 'p.created_at', 'roles.name', 'roles.description', 'roles.permissions'])
        .where('p.slug', '=', slug)
        .orderBy('p.created_at');
    const find = prepared(build);
    for (const slug of ['d', 'a', 'missing']) {
      expect((await find(db, slug)).rows).toEqual(await build(db, slug).execute());
    }
    expect((await find(db, 'd')).rows).toEqual([
      {
        id: '00000000-0000-4000-8000-000000000004',
        title: 'Zoë "quoted" \\ \u2028 ✓\n',
        created_at: 2 ** 52 + 1,
        name: 'reader',
        description: null,
        permissions: '["users:read"]',
      },
    ]);
  });

  it.runIf(TEST_DIALECT === 'sqlite')(
    'still reads a value JSON cannot hold (bytes stored in a text column)',
    async () => {
      const sqlite = test.database.sqlite;
      if (!sqlite) throw new Error('expected the embedded database');
      const bytes = Buffer.from([0, 1, 2, 255]);
      sqlite
        .prepare('insert into projects (id, slug, name, created_at) values (?, ?, ?, ?)')
        .run('00000000-0000-4000-8000-000000000006', 'bytes', bytes, 6);
      const find = prepared((db, slug: string) =>
        db.selectFrom('projects').select(['slug', 'name']).where('slug', '=', slug),
      );
      expect((await find(test.database.db, 'bytes')).rows).toEqual([{ slug: 'bytes', name: bytes }]);
      expect((await find(test.database.db, 'a')).rows).toEqual([{ slug: 'a', name: 'A' }]);
    },
  );

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
