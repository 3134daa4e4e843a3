import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing/database.js';
import { migrate } from './migrator.js';
import { prepared } from './prepared.js';
import { WriteWatch } from './write-watch.js';

let test: TestDatabase;
/** What the watch saw, in order: `projects` for each call of its listener. */
let calls: string[];
beforeAll(async () => {
  test = await createTestDatabase();
  await migrate(test.database);
  test.database.writes.on('projects', () => calls.push('projects'));
});
afterAll(() => test.drop());

let next = 0;
const project = () => {
  next++;
  return {
    id: `00000000-0000-4000-8000-${String(next).padStart(12, '0')}`,
    slug: `p${next}`,
    name: 'P',
    created_at: 1,
  };
};

describe('WriteWatch', () => {
  it('judges from the SQL text, erring towards calling', () => {
    const watch = new WriteWatch();
    let count = 0;
    watch.on('users', () => count++);
    const fires = (text: string) => {
      const before = count;
      watch.seen(text);
      return count > before;
    };
    expect(fires('update "users" set "first_name" = ? where "id" = ?')).toBe(true);
    expect(fires('delete from "users" where "id" = $1')).toBe(true);
    expect(fires('insert into users (id) values (?)')).toBe(true);
    expect(fires('  UPDATE Users SET status = 1')).toBe(true);
    expect(fires('with gone as (select id from "users") delete from "sessions"')).toBe(true);
    expect(fires('alter table "users" add column "nickname" text')).toBe(true);
    expect(fires('select * from "users" where "id" = ?')).toBe(false);
    expect(fires('SELECT 1')).toBe(false);
    expect(fires('update "sessions" set "last_used_at" = ?')).toBe(false);
    expect(fires('update "user_roles" set "x" = 1')).toBe(false);
    expect(fires('begin')).toBe(false);
    expect(() => watch.on('users; drop', () => {})).toThrow();
  });

  it('calls back after a write through Kysely, and not after a read or a write elsewhere', async () => {
    calls = [];
    const row = project();
    await test.database.db.insertInto('projects').values(row).execute();
    expect(calls).toEqual(['projects']);
    await test.database.db.selectFrom('projects').selectAll().execute();
    await test.database.db.updateTable('roles').set({ description: 'x' }).where('name', '=', 'none').execute();
    expect(calls).toEqual(['projects']);
    await sql`update projects set name = ${'Q'} where id = ${row.id}`.execute(test.database.db);
    expect(calls).toEqual(['projects', 'projects']);
  });

  it('calls back after a prepared write, which on SQLite runs outside Kysely', async () => {
    const rename = prepared((db, id: string, name: string) =>
      db.updateTable('projects').set({ name }).where('id', '=', id),
    );
    const find = prepared((db, id: string) => db.selectFrom('projects').select(['name']).where('id', '=', id));
    const row = project();
    await test.database.db.insertInto('projects').values(row).execute();
    calls = [];
    await find(test.database.db, row.id);
    expect(calls).toEqual([]);
    await rename(test.database.db, row.id, 'R');
    expect(calls).toEqual(['projects']);
  });

  it('calls back again when the transaction commits, and when one rolls back', async () => {
    calls = [];
    await test.database.db.transaction().execute(async (trx) => {
      await trx.insertInto('projects').values(project()).execute();
      expect(calls).toEqual(['projects']);
      await trx.selectFrom('projects').selectAll().execute();
      expect(calls).toEqual(['projects']);
    });
    expect(calls).toEqual(['projects', 'projects']);

    calls = [];
    await expect(
      test.database.db.transaction().execute(async (trx) => {
        await trx.insertInto('projects').values(project()).execute();
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(calls).toEqual(['projects', 'projects']);

    // A transaction that wrote nothing watched owes nothing, and a later one does not inherit the last one's debt.
    calls = [];
    await test.database.db.transaction().execute(async (trx) => {
      await trx.selectFrom('projects').selectAll().execute();
    });
    expect(calls).toEqual([]);
  });

  it('calls back after a statement that failed', async () => {
    const row = project();
    await test.database.db.insertInto('projects').values(row).execute();
    calls = [];
    await expect(test.database.db.insertInto('projects').values(row).execute()).rejects.toThrow();
    expect(calls).toEqual(['projects']);
  });

  it('keeps savepoints working', async () => {
    const trx = await test.database.db.startTransaction().execute();
    const kept = project();
    const undone = project();
    await trx.insertInto('projects').values(kept).execute();
    const inner = await trx.savepoint('inner').execute();
    await inner.insertInto('projects').values(undone).execute();
    await inner.rollbackToSavepoint('inner').execute();
    await trx.commit().execute();
    const ids = (await test.database.db.selectFrom('projects').select('id').execute()).map((r) => r.id);
    expect(ids).toContain(kept.id);
    expect(ids).not.toContain(undone.id);
  });
});
