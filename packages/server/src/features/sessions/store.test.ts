import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../db/migrator.js';
import { createTestDatabase, type TestDatabase } from '../../testing/database.js';
import { insertSession, type Rotation, rotateRefreshToken } from './store.js';

/**
 * Rotations asked for together (on SQLite, committed as a group) must each keep their own outcome: the winner of a
 * race on one token is the only winner, and a rotation that cannot be stored fails alone.
 */
const PROJECT = '00000000-0000-4000-8000-000000000001';
const USER = '00000000-0000-4000-8000-000000000002';
const SESSION = '00000000-0000-4000-8000-000000000003';
const FAR = 4_000_000_000_000;

let test: TestDatabase;
let counter = 0;

beforeAll(async () => {
  test = await createTestDatabase();
  await migrate(test.database);
  const { db } = test.database;
  await db.insertInto('projects').values({ id: PROJECT, slug: 'p', name: 'P', created_at: 1 }).execute();
  await db
    .insertInto('users')
    .values({
      id: USER,
      project_id: PROJECT,
      email: 'rotations@example.com',
      role: 'user',
      status: 'active',
      provider: 'default',
      created_at: 1,
      updated_at: 1,
    })
    .execute();
  await insertSession(
    db,
    {
      id: SESSION,
      project_id: PROJECT,
      user_id: USER,
      mode: 'json',
      amr: '["pwd"]',
      auth_time: 1,
      created_at: 1,
      last_used_at: 1,
      expires_at: FAR,
      absolute_expires_at: FAR,
      revoked_at: null,
      revoked_reason: null,
      ip: null,
      user_agent: null,
      actor_id: null,
    },
    { hash: 'seed', expiresAt: FAR },
  );
});
afterAll(() => test.drop());

async function freshToken(): Promise<string> {
  const hash = `token-${++counter}`;
  await test.database.db
    .insertInto('refresh_tokens')
    .values({ token_hash: hash, session_id: SESSION, project_id: PROJECT, created_at: 1, expires_at: FAR })
    .execute();
  return hash;
}

function rotation(hash: string, successorHash: string): Rotation {
  return {
    hash,
    successorHash,
    sessionId: SESSION,
    projectId: PROJECT,
    now: 1000,
    expiresAt: FAR,
    mode: 'json',
    touchSession: true,
  };
}

async function stored(hash: string) {
  return test.database.db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', hash).executeTakeFirst();
}

describe('rotateRefreshToken', () => {
  it('rotates many tokens asked for at once, each with its own successor', async () => {
    const tokens = await Promise.all(Array.from({ length: 20 }, () => freshToken()));
    const results = await Promise.all(
      tokens.map((hash) => rotateRefreshToken(test.database, rotation(hash, `${hash}-next`))),
    );
    expect(results).toEqual(tokens.map(() => true));
    for (const hash of tokens) {
      expect((await stored(hash))?.used_at).toBe(1000);
      expect(await stored(`${hash}-next`)).toMatchObject({ session_id: SESSION, used_at: null });
    }
  });

  it('lets one of two rotations of the same token win', async () => {
    const hash = await freshToken();
    const results = await Promise.all([
      rotateRefreshToken(test.database, rotation(hash, `${hash}-a`)),
      rotateRefreshToken(test.database, rotation(hash, `${hash}-b`)),
    ]);
    // Which one wins is up to the database (on PostgreSQL, whichever transaction locks the row first).
    expect(results.filter(Boolean)).toHaveLength(1);
    const [winner, loser] = results[0] ? ['a', 'b'] : ['b', 'a'];
    expect(await stored(`${hash}-${winner}`)).toBeDefined();
    expect(await stored(`${hash}-${loser}`)).toBeUndefined();
  });

  it('fails only the rotation that cannot be stored, and stores nothing of it', async () => {
    const good = await freshToken();
    const bad = await freshToken();
    const taken = await freshToken();
    const outcomes = await Promise.allSettled([
      rotateRefreshToken(test.database, rotation(good, `${good}-next`)),
      // Its successor's hash is already a stored token's: the insert violates the primary key.
      rotateRefreshToken(test.database, rotation(bad, taken)),
    ]);
    expect(outcomes[0]).toEqual({ status: 'fulfilled', value: true });
    expect(outcomes[1]?.status).toBe('rejected');
    expect((await stored(good))?.used_at).toBe(1000);
    expect(await stored(`${good}-next`)).toBeDefined();
    // All or nothing: the failed rotation did not mark its token used either.
    expect((await stored(bad))?.used_at).toBe(null);
  });

  it('answers every waiting rotation with the error when the database is gone, rather than leaving it hanging', async () => {
    const other = await createTestDatabase();
    await migrate(other.database);
    await other.database.close();
    const outcomes = await Promise.allSettled([
      rotateRefreshToken(other.database, rotation('gone-1', 'gone-1-next')),
      rotateRefreshToken(other.database, rotation('gone-2', 'gone-2-next')),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    await other.drop().catch(() => {});
  });
});
