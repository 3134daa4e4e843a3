import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deriveKey } from '../../crypto/secret-box.js';
import { createTestServer, type TestServer } from '../../testing/test-server.js';
import { OneTimeTokens } from './service.js';

let server: TestServer;
let tokens: OneTimeTokens;
beforeEach(async () => {
  server = await createTestServer();
  tokens = new OneTimeTokens(server.database.db, server.clock, deriveKey(server.config.secret, 'one-time-codes'));
});
afterEach(async () => {
  await server.close();
});

const base = { purpose: 'test', identifier: 'ada@example.com', channel: 'email' as const, ttl: 60_000 };

describe('one-time tokens', () => {
  it('redeems a link token exactly once, also when redeemed in parallel', async () => {
    const { token } = await tokens.issueToken({ ...base, projectId: server.projectId, data: { next: '/x' } });
    const results = await Promise.all(Array.from({ length: 8 }, () => tokens.redeemToken('test', token)));
    const wins = results.filter((result) => result.ok);
    expect(wins).toHaveLength(1);
    expect(wins[0]?.ok && wins[0].data).toEqual({ next: '/x' });
    expect(results.filter((result) => !result.ok).map((result) => !result.ok && result.reason)).toEqual(
      Array(7).fill('used'),
    );
    expect(await tokens.redeemToken('other-purpose', token)).toEqual({ ok: false, reason: 'unknown' });
  });

  it('refuses an expired token, and an earlier one once a newer is issued', async () => {
    const first = await tokens.issueToken({ ...base, projectId: server.projectId });
    const second = await tokens.issueToken({ ...base, projectId: server.projectId });
    expect(await tokens.redeemToken('test', first.token)).toEqual({ ok: false, reason: 'used' });
    server.clock.advance(60_001);
    expect(await tokens.redeemToken('test', second.token)).toEqual({ ok: false, reason: 'expired' });
  });

  it('stores digests only, and a code as a keyed digest', async () => {
    const { token } = await tokens.issueToken({ ...base, projectId: server.projectId });
    const { code } = await tokens.issueCode({ ...base, purpose: 'code', projectId: server.projectId });
    expect(code).toMatch(/^\d{6}$/);
    const stored = JSON.stringify(await server.database.db.selectFrom('one_time_tokens').selectAll().execute());
    expect(stored).not.toContain(token);
    expect(stored).not.toMatch(new RegExp(`"${code}"|:${code}\\b`));
  });

  it('checks a code, then uses it up; a wrong code counts as an attempt', async () => {
    const { code } = await tokens.issueCode({ ...base, projectId: server.projectId, maxAttempts: 3 });
    const check = (value: string, consume: boolean) =>
      tokens.checkCode({
        projectId: server.projectId,
        purpose: 'test',
        identifier: base.identifier,
        code: value,
        consume,
      });
    const wrong = code === '000000' ? '111111' : '000000';
    expect((await check(wrong, false)).ok).toBe(false);
    expect((await check(code, false)).ok).toBe(true);
    expect((await check(code, true)).ok).toBe(true);
    expect(await check(code, true)).toEqual({ ok: false, reason: 'unknown' });
  });

  it('holds the attempt limit under parallel wrong guesses', async () => {
    const { code } = await tokens.issueCode({ ...base, projectId: server.projectId, maxAttempts: 5 });
    const wrong = code === '000000' ? '111111' : '000000';
    const guesses = await Promise.all(
      Array.from({ length: 20 }, () =>
        tokens.checkCode({
          projectId: server.projectId,
          purpose: 'test',
          identifier: base.identifier,
          code: wrong,
          consume: true,
        }),
      ),
    );
    const reasons = guesses.map((result) => !result.ok && result.reason);
    expect(reasons.filter((reason) => reason === 'unknown')).toHaveLength(5);
    expect(reasons.filter((reason) => reason === 'too_many_attempts')).toHaveLength(15);
    // The right code is refused too once the attempts are spent.
    const late = await tokens.checkCode({
      projectId: server.projectId,
      purpose: 'test',
      identifier: base.identifier,
      code,
      consume: true,
    });
    expect(late).toEqual({ ok: false, reason: 'too_many_attempts' });
    const row = await server.database.db.selectFrom('one_time_tokens').select('attempts').executeTakeFirstOrThrow();
    expect(Number(row.attempts)).toBe(5);
  });

  it('counts attempts against a link token without using it, up to its limit under parallel attempts', async () => {
    const { token } = await tokens.issueToken({ ...base, projectId: server.projectId, maxAttempts: 3 });
    const attempts = await Promise.all(Array.from({ length: 7 }, () => tokens.attemptToken('test', token)));
    expect(attempts.filter((result) => result.ok)).toHaveLength(3);
    expect(attempts.filter((result) => !result.ok && result.reason === 'too_many_attempts')).toHaveLength(4);
    // Attempts do not use the token up; redeeming does, once.
    const redeemed = await Promise.all([tokens.redeemToken('test', token), tokens.redeemToken('test', token)]);
    expect(redeemed.filter((result) => result.ok)).toHaveLength(1);
    expect(await tokens.attemptToken('test', token)).toEqual({ ok: false, reason: 'used' });
    expect(await tokens.attemptToken('test', 'unknown')).toEqual({ ok: false, reason: 'unknown' });
    const other = await tokens.issueToken({ ...base, identifier: 'bob@example.com', projectId: server.projectId });
    server.clock.advance(60_001);
    expect(await tokens.attemptToken('test', other.token)).toEqual({ ok: false, reason: 'expired' });
  });
});

describe('expired one-time tokens', () => {
  it('are deleted a day after they expire, used or not, in batches; live ones stay and still work', async () => {
    const day = 24 * 60 * 60_000;
    const project = server.projectId;
    const { db } = server.database;
    const stored = async () => (await db.selectFrom('one_time_tokens').select('id').execute()).length;
    const used = await tokens.issueToken({ ...base, identifier: 'used@example.com', projectId: project });
    expect((await tokens.redeemToken('test', used.token)).ok).toBe(true);
    await tokens.issueCode({ ...base, identifier: 'unused@example.com', projectId: project });
    // 1,500 more that expired long ago: more than one batch.
    const now = server.clock.now();
    const row = (i: number) => ({
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      project_id: project,
      purpose: 'test',
      user_id: null,
      identifier: `old-${i}@example.com`,
      channel: 'email' as const,
      secret_hash: `old-${i}`,
      attempts: 0,
      max_attempts: 1,
      data: '{}',
      created_at: now - 10 * day,
      expires_at: now - 9 * day,
      used_at: null,
    });
    for (let start = 0; start < 1500; start += 300) {
      await db
        .insertInto('one_time_tokens')
        .values(Array.from({ length: 300 }, (_, i) => row(start + i)))
        .execute();
    }
    expect(await stored()).toBe(1502);

    // The two of this test expired a minute ago: kept for now.
    server.clock.advance(base.ttl + 60_000);
    expect(await tokens.prune()).toBe(1500);
    expect(await stored()).toBe(2);
    server.clock.advance(day);
    const live = await tokens.issueToken({ ...base, identifier: 'live@example.com', projectId: project });
    expect(await tokens.prune()).toBe(2);
    expect(await stored()).toBe(1);
    expect((await tokens.redeemToken('test', live.token)).ok).toBe(true);
  });
});
