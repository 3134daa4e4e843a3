import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { dumpTables, Mailbox } from '../../testing/mailbox.js';
import { startSmtpServer, type TestSmtpServer } from '../../testing/smtp-server.js';
import { createTestServer, TEST_PASSWORD, type TestServer } from '../../testing/test-server.js';

const DELETED_SUBJECT = /^Your account at .* was deleted$/;

let smtp: TestSmtpServer;
let server: TestServer;
let mailbox: Mailbox;

beforeAll(async () => {
  smtp = await startSmtpServer();
  server = await createTestServer({ GATEHOUSE_SMTP_URL: smtp.url });
  mailbox = new Mailbox(() => server, smtp);
});
afterAll(async () => {
  await server.close();
  await smtp.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const codeOf = (response: { json(): { errors?: { extensions: { code: string } }[] } }) =>
  response.json().errors?.[0]?.extensions.code;
const deleteMe = (gatehouse: TestServer, token: string, payload?: Record<string, unknown>) =>
  gatehouse.app.inject({
    method: 'DELETE',
    url: '/users/me',
    headers: bearer(token),
    ...(payload ? { payload } : {}),
  });
const me = (token: string) => server.app.inject({ method: 'GET', url: '/users/me', headers: bearer(token) });
const sessionIdOf = (token: string): string =>
  JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')).sid;

async function rowsOf(userId: string) {
  const { db } = server.database;
  return {
    users: await db.selectFrom('users').selectAll().where('id', '=', userId).execute(),
    sessions: await db.selectFrom('sessions').selectAll().where('user_id', '=', userId).execute(),
    one_time_tokens: await db.selectFrom('one_time_tokens').selectAll().where('user_id', '=', userId).execute(),
  };
}

describe('DELETE /users/me', () => {
  it('deletes the account with its password: rows, sessions and tokens go, and a notice is mailed', async () => {
    const user = await server.user();
    const other = await server.login(user.email);
    const otherTokens = other.json().data as { access_token: string; refresh_token: string };
    await server.app.inject({ method: 'POST', url: '/auth/password/request', payload: { email: user.email } });
    await mailbox.settle();
    expect((await rowsOf(user.id)).one_time_tokens.length).toBeGreaterThan(0);

    const response = await deleteMe(server, user.accessToken, { password: TEST_PASSWORD });
    expect(response.statusCode, response.body).toBe(204);
    expect(response.body).toBe('');

    expect(await rowsOf(user.id)).toEqual({ users: [], sessions: [], one_time_tokens: [] });
    for (const tokens of [
      { access: user.accessToken, refresh: user.refreshToken },
      { access: otherTokens.access_token, refresh: otherTokens.refresh_token },
    ]) {
      expect(server.sessions.isRevoked(sessionIdOf(tokens.access))).toBe(true);
      expect((await me(tokens.access)).statusCode).toBe(401);
      const refreshed = await server.app.inject({
        method: 'POST',
        url: '/auth/refresh',
        payload: { refresh_token: tokens.refresh },
      });
      expect(refreshed.statusCode).toBe(401);
    }
    expect((await server.login(user.email)).statusCode).toBe(401);

    const notices = await mailbox.to(user.email, DELETED_SUBJECT);
    expect(notices).toHaveLength(1);
    expect(notices[0]?.parsed.text).toContain('was deleted on');
    const [event] = await server.audit.list({
      projectId: server.projectId,
      event: 'user.deleted',
      subjectId: user.id,
      limit: 1,
    });
    expect(event).toMatchObject({ actor_id: user.id, subject_id: user.id, outcome: 'success' });
    expect(JSON.parse(event?.details ?? '{}')).toEqual({ email: user.email, role: 'user', self: true });
    expect(server.logs()).not.toContain(TEST_PASSWORD);
    expect(await dumpTables(server)).not.toContain(TEST_PASSWORD);
  });

  it('refuses a wrong password with 401 and a missing one with 400, and deletes nothing', async () => {
    const user = await server.user();
    const wrong = await deleteMe(server, user.accessToken, { password: 'not my password' });
    expect(wrong.statusCode).toBe(401);
    expect(codeOf(wrong)).toBe('INVALID_CREDENTIALS');
    const missing = await deleteMe(server, user.accessToken);
    expect(missing.statusCode).toBe(400);
    expect(codeOf(missing)).toBe('INVALID_PAYLOAD');
    expect((await me(user.accessToken)).statusCode).toBe(200);
    const [failure] = await server.audit.list({
      projectId: server.projectId,
      event: 'user.deleted',
      subjectId: user.id,
      outcome: 'failure',
      limit: 1,
    });
    expect(JSON.parse(failure?.details ?? '{}')).toEqual({ reason: 'wrong_password', self: true });
    expect(await mailbox.to(user.email, DELETED_SUBJECT)).toHaveLength(0);
  });

  it('asks an account without a password for a sign-in less than 5 minutes old', async () => {
    const fresh = await server.user();
    const stale = await server.user();
    await server.database.db
      .updateTable('users')
      .set({ password_hash: null })
      .where('id', 'in', [fresh.id, stale.id])
      .execute();
    server.clock.advance(4 * 60_000);
    expect((await deleteMe(server, fresh.accessToken)).statusCode).toBe(204);
    expect((await rowsOf(fresh.id)).users).toEqual([]);

    server.clock.advance(2 * 60_000);
    const refused = await deleteMe(server, stale.accessToken, { password: 'anything' });
    expect(refused.statusCode).toBe(403);
    expect(codeOf(refused)).toBe('REAUTHENTICATION_REQUIRED');
    // A refreshed token does not make the sign-in recent.
    const refreshed = await server.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refresh_token: stale.refreshToken },
    });
    expect(codeOf(await deleteMe(server, refreshed.json().data.access_token))).toBe('REAUTHENTICATION_REQUIRED');
    expect((await rowsOf(stale.id)).users).toHaveLength(1);
  });

  it('refuses an impersonation token', async () => {
    const admin = await server.admin();
    const user = await server.user();
    const impersonation = await server.app.inject({
      method: 'POST',
      url: `/users/${user.id}/impersonate`,
      headers: bearer(admin.accessToken),
    });
    expect(impersonation.statusCode, impersonation.body).toBe(200);
    const refused = await deleteMe(server, impersonation.json().data.access_token, { password: TEST_PASSWORD });
    expect(refused.statusCode).toBe(403);
    expect(codeOf(refused)).toBe('FORBIDDEN');
    expect((await rowsOf(user.id)).users).toHaveLength(1);
  });

  it('will not let the last admin go, under concurrency too', async () => {
    const alone = await createTestServer();
    try {
      const first = await alone.admin();
      const refused = await deleteMe(alone, first.accessToken, { password: TEST_PASSWORD });
      expect(refused.statusCode).toBe(409);
      expect(codeOf(refused)).toBe('LAST_ADMIN');

      // Two admins deleting themselves at once: one goes, one stays.
      const second = await alone.admin();
      const both = await Promise.all([
        deleteMe(alone, first.accessToken, { password: TEST_PASSWORD }),
        deleteMe(alone, second.accessToken, { password: TEST_PASSWORD }),
      ]);
      expect(both.map((response) => response.statusCode).sort()).toEqual([204, 409]);
      const admins = await alone.database.db.selectFrom('users').select('id').where('role', '=', 'admin').execute();
      expect(admins).toHaveLength(1);
    } finally {
      await alone.close();
    }
  });

  it('ends the sessions on another node sharing the database, by the revocation poll', async () => {
    const nodeB = await buildApp(server.config, server.database, {
      clock: server.clock,
      logger: pino({ level: 'silent' }),
    });
    try {
      const user = await server.user();
      const sessionId = sessionIdOf(user.accessToken);
      expect(nodeB.sessions.isRevoked(sessionId)).toBe(false);
      expect((await deleteMe(server, user.accessToken, { password: TEST_PASSWORD })).statusCode).toBe(204);
      const deadline = Date.now() + 3000;
      while (!nodeB.sessions.isRevoked(sessionId) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(nodeB.sessions.isRevoked(sessionId)).toBe(true);
    } finally {
      await nodeB.close();
    }
  });
});

describe('DELETE /users/:id (admin)', () => {
  it('ends the sessions of the deleted user on every node too', async () => {
    const admin = await server.admin();
    const user = await server.user();
    const response = await server.app.inject({
      method: 'DELETE',
      url: `/users/${user.id}`,
      headers: bearer(admin.accessToken),
    });
    expect(response.statusCode).toBe(204);
    const recorded = await server.database.db
      .selectFrom('session_revocations')
      .select('session_id')
      .where('session_id', '=', sessionIdOf(user.accessToken))
      .execute();
    expect(recorded).toHaveLength(1);
    expect((await me(user.accessToken)).statusCode).toBe(401);
  });
});
