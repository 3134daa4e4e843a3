import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestServer, PUBLIC_URL, TEST_PASSWORD, type TestServer } from '../../testing/test-server.js';

let server: TestServer;
beforeEach(async () => {
  server = await createTestServer();
});
afterEach(async () => {
  await server.close();
});

interface Listed {
  data: {
    seq: number;
    event: string;
    outcome: string;
    actor_id: string | null;
    subject_id: string | null;
    ip: string | null;
    user_agent: string | null;
    details: Record<string, unknown>;
  }[];
  meta: { next_cursor: string | null };
}

async function auditAs(token: string, query = ''): Promise<Listed> {
  const response = await server.app.inject({
    method: 'GET',
    url: `/audit${query}`,
    headers: { authorization: `Bearer ${token}` },
  });
  expect(response.statusCode, response.body).toBe(200);
  return response.json() as Listed;
}

describe('audit trail', () => {
  it('records sign-up, sign-in success and failure with reasons, ip and user agent', async () => {
    const user = await server.user('alice@example.com');
    await server.app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'user-agent': 'curl/8.0', 'x-forwarded-for': '203.0.113.9' },
      payload: { email: 'alice@example.com', password: 'not the password' },
    });
    await server.login('nobody@example.com');
    await server.signup('alice@example.com', 'another long password');
    await server.database.db.updateTable('users').set({ status: 'suspended' }).where('id', '=', user.id).execute();
    await server.login('alice@example.com');

    const admin = await server.admin();
    const { data } = await auditAs(admin.accessToken, '?limit=200');
    const ofAlice = data
      .filter((event) => event.subject_id === user.id)
      .map((e) => [e.event, e.outcome, e.details.reason]);
    expect(ofAlice).toEqual([
      ['auth.login', 'failure', 'suspended'],
      ['auth.signup', 'failure', 'email_taken'],
      ['auth.login', 'failure', 'wrong_password'],
      ['auth.login', 'success', undefined],
      ['auth.signup', 'success', undefined],
    ]);
    const unknown = data.find((event) => event.details.reason === 'unknown_user');
    expect(unknown).toMatchObject({ event: 'auth.login', outcome: 'failure', subject_id: null, actor_id: null });
    expect(unknown?.details.email).toBe('nobody@example.com');
    const wrong = data.find((event) => event.details.reason === 'wrong_password');
    expect(wrong?.user_agent).toBe('curl/8.0');
    expect(wrong?.ip).toBeTruthy();
    // Never a password or token in an event.
    const stored = JSON.stringify(await server.database.db.selectFrom('audit_events').selectAll().execute());
    expect(stored).not.toContain('not the password');
    expect(stored).not.toContain(TEST_PASSWORD);
    expect(stored).not.toContain(user.refreshToken);
    expect(stored).not.toContain(user.accessToken);
  });

  it('records sign-out, sign-out everywhere, ended sessions, profile changes and refresh-token reuse', async () => {
    const user = await server.user();
    const auth = { authorization: `Bearer ${user.accessToken}` };
    await server.app.inject({ method: 'PATCH', url: '/users/me', headers: auth, payload: { first_name: 'Al' } });
    const second = (await server.login(user.email)).json().data;
    const sessions = (await server.app.inject({ method: 'GET', url: '/users/me/sessions', headers: auth })).json();
    const other = sessions.data.find((session: { current: boolean }) => !session.current);
    await server.app.inject({ method: 'DELETE', url: `/users/me/sessions/${other.id}`, headers: auth });
    expect(second.refresh_token).toBeTruthy();

    // Rotate once, wait out the grace window, replay the old token.
    await server.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: user.refreshToken } });
    server.clock.advance(60_000);
    const replay = await server.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refresh_token: user.refreshToken },
    });
    expect(replay.statusCode).toBe(401);

    const third = await server.login(user.email);
    const thirdToken = third.json().data.access_token as string;
    await server.app.inject({
      method: 'POST',
      url: '/auth/logout/all',
      headers: { authorization: `Bearer ${thirdToken}`, origin: PUBLIC_URL },
    });
    const fourth = (await server.login(user.email)).json().data;
    await server.app.inject({ method: 'POST', url: '/auth/logout', payload: { refresh_token: fourth.refresh_token } });

    const admin = await server.admin();
    const { data } = await auditAs(admin.accessToken, `?subject=${user.id}&limit=200`);
    const events = data.map((event) => event.event).reverse();
    expect(events).toEqual([
      'auth.signup',
      'auth.login',
      'user.profile_updated',
      'auth.login',
      'session.revoked',
      'auth.refresh_reuse',
      'auth.login',
      'auth.logout_all',
      'auth.login',
      'auth.logout',
    ]);
    expect(data.find((event) => event.event === 'user.profile_updated')?.details).toEqual({ fields: ['first_name'] });
    expect(data.find((event) => event.event === 'auth.refresh_reuse')?.outcome).toBe('failure');
  });

  it('filters and pages through events with a cursor, newest first', async () => {
    for (let i = 0; i < 5; i++) await server.login(`ghost${i}@example.com`);
    const admin = await server.admin();
    const seen: number[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page: Listed = await auditAs(
        admin.accessToken,
        `?event=auth.login&outcome=failure&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((event) => event.seq));
      cursor = page.meta.next_cursor;
    }
    expect(seen).toHaveLength(5);
    expect([...seen].sort((a, b) => b - a)).toEqual(seen);
    expect(new Set(seen).size).toBe(5);
  });

  it('refuses bad filters with 400, a plain user with 403 and an anonymous caller with 401', async () => {
    const admin = await server.admin();
    for (const query of [
      '?limit=0',
      '?limit=500',
      '?cursor=abc',
      '?outcome=maybe',
      '?since=yesterday',
      '?colour=red',
    ]) {
      const response = await server.app.inject({
        method: 'GET',
        url: `/audit${query}`,
        headers: { authorization: `Bearer ${admin.accessToken}` },
      });
      expect(response.statusCode, query).toBe(400);
      expect(response.json().errors[0].extensions.code).toBe('INVALID_PAYLOAD');
    }
    const user = await server.user();
    const refused = await server.app.inject({
      method: 'GET',
      url: '/audit',
      headers: { authorization: `Bearer ${user.accessToken}` },
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().errors[0].extensions.code).toBe('FORBIDDEN');
    expect((await server.app.inject({ method: 'GET', url: '/audit' })).statusCode).toBe(401);
  });

  it("shows a signed-in user their own account's events only", async () => {
    const alice = await server.user();
    const bob = await server.user();
    await server.login(alice.email, 'a wrong password');
    const response = await server.app.inject({
      method: 'GET',
      url: '/users/me/security-events',
      headers: { authorization: `Bearer ${alice.accessToken}` },
    });
    expect(response.statusCode).toBe(200);
    const { data } = response.json() as { data: { event: string; outcome: string; by_admin: boolean }[] };
    expect(data.map((event) => [event.event, event.outcome])).toEqual([
      ['auth.login', 'failure'],
      ['auth.login', 'success'],
      ['auth.signup', 'success'],
    ]);
    expect(data.every((event) => event.by_admin === false)).toBe(true);
    const bobs = await server.app.inject({
      method: 'GET',
      url: '/users/me/security-events',
      headers: { authorization: `Bearer ${bob.accessToken}` },
    });
    expect(bobs.json().data).toHaveLength(2);
  });

  it('keeps one unbroken chain when many events are recorded at once', async () => {
    await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        server.audit.record(server.projectId, { event: 'auth.login', outcome: 'failure', details: { n: i } }),
      ),
    );
    const rows = await server.database.db
      .selectFrom('audit_events')
      .select(['seq'])
      .where('project_id', '=', server.projectId)
      .orderBy('seq')
      .execute();
    // The first event is the signing key generated at start.
    expect(rows.map((row) => Number(row.seq))).toEqual(Array.from({ length: 26 }, (_, i) => i + 1));
    const [report] = await server.audit.verify();
    expect(report).toEqual({ projectId: server.projectId, checked: 26, problem: null });
  });

  it('detects an edited, a deleted, an inserted and a truncated event', async () => {
    // Six events: the signing key generated at start, then five failed sign-ins.
    for (let i = 0; i < 5; i++) await server.login(`ghost${i}@example.com`);
    const { db } = server.database;
    const verify = async () => (await server.audit.verify())[0]?.problem;
    expect(await verify()).toBeNull();

    const third = await db.selectFrom('audit_events').selectAll().where('seq', '=', 3).executeTakeFirstOrThrow();
    await db.updateTable('audit_events').set({ details: '{"reason":"cleared"}' }).where('id', '=', third.id).execute();
    expect(await verify()).toEqual({ seq: 3, reason: 'hash' });
    await db.updateTable('audit_events').set({ details: third.details }).where('id', '=', third.id).execute();
    expect(await verify()).toBeNull();

    await db.deleteFrom('audit_events').where('id', '=', third.id).execute();
    expect(await verify()).toEqual({ seq: 3, reason: 'gap' });
    await db.insertInto('audit_events').values(third).execute();
    expect(await verify()).toBeNull();

    const last = await db.selectFrom('audit_events').selectAll().where('seq', '=', 6).executeTakeFirstOrThrow();
    await db.deleteFrom('audit_events').where('id', '=', last.id).execute();
    expect(await verify()).toMatchObject({ reason: 'head' });
    await db.insertInto('audit_events').values(last).execute();
    expect(await verify()).toBeNull();

    // A forged event appended with a plain SHA-256 (no key) does not verify.
    await db
      .insertInto('audit_events')
      .values({
        ...last,
        id: '00000000-0000-4000-8000-00000000abcd',
        seq: 7,
        prev_hash: last.hash,
        hash: 'f'.repeat(64),
      })
      .execute();
    await db
      .updateTable('audit_heads')
      .set({ seq: 7, hash: 'f'.repeat(64) })
      .execute();
    expect(await verify()).toEqual({ seq: 7, reason: 'hash' });
  });
});
