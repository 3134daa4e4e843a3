import type { Kysely, Transaction } from 'kysely';
import type { SessionRow, SessionsTable, Tables } from '../../db/types.js';

type Executor = Kysely<Tables> | Transaction<Tables>;

export async function insertSession(
  db: Executor,
  session: SessionsTable,
  token: { hash: string; expiresAt: number },
): Promise<void> {
  await db.insertInto('sessions').values(session).execute();
  await insertRefreshToken(db, session, token);
}

export async function insertRefreshToken(
  db: Executor,
  session: Pick<SessionsTable, 'id' | 'project_id'>,
  token: { hash: string; expiresAt: number; now?: number },
): Promise<void> {
  await db
    .insertInto('refresh_tokens')
    .values({
      token_hash: token.hash,
      session_id: session.id,
      project_id: session.project_id,
      created_at: token.now ?? Date.now(),
      expires_at: token.expiresAt,
      used_at: null,
    })
    .execute();
}

export interface RefreshTokenWithSession {
  token: { token_hash: string; expires_at: number; used_at: number | null };
  session: SessionRow;
}

export async function findRefreshToken(db: Executor, hash: string): Promise<RefreshTokenWithSession | undefined> {
  const row = await db
    .selectFrom('refresh_tokens as t')
    .innerJoin('sessions as s', 's.id', 't.session_id')
    .selectAll('s')
    .select(['t.token_hash', 't.expires_at as token_expires_at', 't.used_at'])
    .where('t.token_hash', '=', hash)
    .executeTakeFirst();
  if (!row) return undefined;
  const { token_hash, token_expires_at, used_at, ...session } = row;
  return { token: { token_hash, expires_at: token_expires_at, used_at }, session };
}

/** Marks a token used if nobody else did first; answers whether this caller won the race. */
export async function claimRefreshToken(db: Executor, hash: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable('refresh_tokens')
    .set({ used_at: now })
    .where('token_hash', '=', hash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function touchSession(
  db: Executor,
  id: string,
  values: { now: number; expiresAt: number; mode: SessionsTable['mode'] },
): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ last_used_at: values.now, expires_at: values.expiresAt, mode: values.mode })
    .where('id', '=', id)
    .execute();
}

export async function findSession(db: Executor, id: string): Promise<SessionRow | undefined> {
  return db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function revokeSessions(
  db: Executor,
  where: { sessionId?: string; userId?: string; exceptSessionId?: string },
  values: { now: number; reason: string },
): Promise<string[]> {
  let query = db.selectFrom('sessions').select('id').where('revoked_at', 'is', null);
  if (where.sessionId) query = query.where('id', '=', where.sessionId);
  if (where.userId) query = query.where('user_id', '=', where.userId);
  if (where.exceptSessionId) query = query.where('id', '!=', where.exceptSessionId);
  const ids = (await query.execute()).map((row) => row.id);
  if (ids.length === 0) return [];
  await db
    .updateTable('sessions')
    .set({ revoked_at: values.now, revoked_reason: values.reason })
    .where('id', 'in', ids)
    .where('revoked_at', 'is', null)
    .execute();
  return ids;
}

export async function listActiveSessions(db: Executor, userId: string, now: number): Promise<SessionRow[]> {
  return db
    .selectFrom('sessions')
    .selectAll()
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .orderBy('last_used_at', 'desc')
    .execute();
}

export async function revokedSince(db: Executor, since: number): Promise<{ id: string; revoked_at: number }[]> {
  const rows = await db.selectFrom('sessions').select(['id', 'revoked_at']).where('revoked_at', '>=', since).execute();
  return rows.map((row) => ({ id: row.id, revoked_at: Number(row.revoked_at) }));
}
