import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database } from '../../db/database.js';
import { prepared } from '../../db/prepared.js';
import type { SessionRow, SessionsTable, Tables, UserProfile } from '../../db/types.js';
import { parsePermissions } from '../users/store.js';

type Executor = Kysely<Tables> | Transaction<Tables>;

/** A session row, its columns bound one by one (a prepared query binds scalar values only). */
const insertSessionRow = prepared(
  (
    db,
    id: string,
    projectId: string,
    userId: string,
    mode: SessionsTable['mode'],
    amr: string,
    authTime: number,
    createdAt: number,
    lastUsedAt: number,
    expiresAt: number,
    absoluteExpiresAt: number,
    revokedAt: number | null,
    revokedReason: string | null,
    ip: string | null,
    userAgent: string | null,
    actorId: string | null,
  ) =>
    db.insertInto('sessions').values({
      id,
      project_id: projectId,
      user_id: userId,
      mode,
      amr,
      auth_time: authTime,
      created_at: createdAt,
      last_used_at: lastUsedAt,
      expires_at: expiresAt,
      absolute_expires_at: absoluteExpiresAt,
      revoked_at: revokedAt,
      revoked_reason: revokedReason,
      ip,
      user_agent: userAgent,
      actor_id: actorId,
    }),
);

export async function insertSession(
  db: Executor,
  session: SessionsTable,
  token: { hash: string; expiresAt: number },
): Promise<void> {
  await insertSessionRow(
    db,
    session.id,
    session.project_id,
    session.user_id,
    session.mode,
    session.amr,
    session.auth_time,
    session.created_at,
    session.last_used_at,
    session.expires_at,
    session.absolute_expires_at,
    session.revoked_at,
    session.revoked_reason,
    session.ip,
    session.user_agent,
    session.actor_id,
  );
  await insertRefreshToken(db, session, { ...token, now: session.created_at });
}

const insertToken = prepared((db, hash: string, sessionId: string, projectId: string, now: number, expiresAt: number) =>
  db.insertInto('refresh_tokens').values({
    token_hash: hash,
    session_id: sessionId,
    project_id: projectId,
    created_at: now,
    expires_at: expiresAt,
  }),
);

export async function insertRefreshToken(
  db: Executor,
  session: Pick<SessionsTable, 'id' | 'project_id'>,
  token: { hash: string; expiresAt: number; now: number },
): Promise<void> {
  await insertToken(db, token.hash, session.id, session.project_id, token.now, token.expiresAt);
}

export interface RefreshTokenWithSession {
  token: { token_hash: string; expires_at: number; used_at: number | null };
  session: SessionRow;
  /** The session's user (what a token names) and the permissions of their role, as a token issued now would carry. */
  subject: { user: Pick<UserProfile, 'id' | 'role' | 'status'>; permissions: string[] };
}

/**
 * A refresh token with its session, its user and the user's role, in one query: a refresh needs all of them,
 * and each statement on SQLite costs a read transaction of its own. The columns are listed (not `s.*`) so that
 * the embedded database answers the row as one JSON array (db/prepared.ts).
 */
const selectTokenWithSession = prepared((db, hash: string) =>
  db
    .selectFrom('refresh_tokens as t')
    .innerJoin('sessions as s', 's.id', 't.session_id')
    .innerJoin('users', 'users.id', 's.user_id')
    .leftJoin('roles', (join) =>
      join.onRef('roles.project_id', '=', 'users.project_id').onRef('roles.name', '=', 'users.role'),
    )
    .select([
      't.token_hash',
      't.expires_at as token_expires_at',
      't.used_at',
      's.id as session_id',
      's.project_id as session_project_id',
      's.mode as session_mode',
      's.amr as session_amr',
      's.auth_time as session_auth_time',
      's.created_at as session_created_at',
      's.last_used_at as session_last_used_at',
      's.expires_at as session_expires_at',
      's.absolute_expires_at as session_absolute_expires_at',
      's.revoked_at as session_revoked_at',
      's.revoked_reason as session_revoked_reason',
      's.ip as session_ip',
      's.user_agent as session_user_agent',
      's.actor_id as session_actor_id',
      'users.id',
      'users.role',
      'users.status',
      'roles.permissions',
    ])
    .where('t.token_hash', '=', hash),
);

export async function findRefreshToken(db: Executor, hash: string): Promise<RefreshTokenWithSession | undefined> {
  const row = (await selectTokenWithSession(db, hash)).rows[0];
  if (!row) return undefined;
  // Built field by field: a rest pattern (`...session`) copies through a slow generic path, on every refresh.
  return {
    token: { token_hash: row.token_hash, expires_at: row.token_expires_at, used_at: row.used_at },
    session: {
      id: row.session_id,
      project_id: row.session_project_id,
      user_id: row.id,
      mode: row.session_mode,
      amr: row.session_amr,
      auth_time: row.session_auth_time,
      created_at: row.session_created_at,
      last_used_at: row.session_last_used_at,
      expires_at: row.session_expires_at,
      absolute_expires_at: row.session_absolute_expires_at,
      revoked_at: row.session_revoked_at,
      revoked_reason: row.session_revoked_reason,
      ip: row.session_ip,
      user_agent: row.session_user_agent,
      actor_id: row.session_actor_id,
    },
    subject: {
      user: { id: row.id, role: row.role, status: row.status },
      permissions: parsePermissions(row.permissions),
    },
  };
}

/** Marks a token used if nobody else did first; answers whether this caller won the race. */
const markTokenUsed = prepared((db, hash: string, now: number) =>
  db.updateTable('refresh_tokens').set({ used_at: now }).where('token_hash', '=', hash).where('used_at', 'is', null),
);

/** Marks a token used if nobody else did first; answers whether this caller won the race. */
export async function claimRefreshToken(db: Executor, hash: string, now: number): Promise<boolean> {
  const result = await markTokenUsed(db, hash, now);
  return Number(result.numAffectedRows ?? 0) === 1;
}

export interface Rotation {
  hash: string;
  successorHash: string;
  sessionId: string;
  projectId: string;
  now: number;
  expiresAt: number;
  mode: SessionsTable['mode'];
  /** Also write the session's last use, sliding expiry and mode (skipped when they would barely move). */
  touchSession: boolean;
}

/**
 * Marks a refresh token used, stores its successor and, when asked, slides the session's expiry: all or
 * nothing. Answers false when another request used the token first. Elsewhere than on SQLite, a Kysely
 * transaction. The same tests cover both on each dialect.
 *
 * On the embedded SQLite database, rotations are committed in groups: those asked for in one turn of the event
 * loop (under load, one per connection that had a request waiting) run in one synchronous transaction when the
 * turn's I/O is done, and each answer is given once that commit is on disk. A commit, not the statements, is
 * most of a rotation's cost, so concurrent refreshes share one (bench/README.md). Each rotation is still all
 * or nothing: if the group's transaction fails, each rotation is retried in a transaction of its own, so one
 * bad rotation fails alone.
 */
export async function rotateRefreshToken(database: Database, rotation: Rotation): Promise<boolean> {
  const { sqlite } = database;
  if (sqlite) return rotateInGroup(database, sqlite, rotation);
  return database.db.transaction().execute(async (trx) => {
    if (!(await claimRefreshToken(trx, rotation.hash, rotation.now))) return false;
    await insertRefreshToken(
      trx,
      { id: rotation.sessionId, project_id: rotation.projectId },
      { hash: rotation.successorHash, expiresAt: rotation.expiresAt, now: rotation.now },
    );
    await touchSession(trx, rotation.sessionId, {
      now: rotation.now,
      expiresAt: rotation.expiresAt,
      mode: rotation.mode,
    });
    return true;
  });
}

type SqliteHandle = NonNullable<Database['sqlite']>;

interface PendingRotation {
  rotation: Rotation;
  resolve(won: boolean): void;
  reject(error: unknown): void;
}

interface SqliteRotations {
  /** One rotation in a transaction of its own. */
  one(rotation: Rotation): boolean;
  /** Several in one transaction; throws (and stores nothing) if any statement fails. */
  many(rotations: Rotation[]): boolean[];
}

const sqliteRotations = new WeakMap<SqliteHandle, SqliteRotations>();
const pendingGroups = new WeakMap<SqliteHandle, PendingRotation[]>();

function rotateInGroup(database: Database, sqlite: SqliteHandle, rotation: Rotation): Promise<boolean> {
  let group = pendingGroups.get(sqlite);
  if (!group) {
    group = [];
    pendingGroups.set(sqlite, group);
    // After the poll phase: every request already read in this turn has asked for its rotation by then.
    setImmediate(() => void commitGroup(database, sqlite));
  }
  const pending = group;
  return new Promise((resolve, reject) => pending.push({ rotation, resolve, reject }));
}

async function commitGroup(database: Database, sqlite: SqliteHandle): Promise<void> {
  const group = pendingGroups.get(sqlite) ?? [];
  pendingGroups.delete(sqlite);
  let rotations: SqliteRotations;
  try {
    rotations = rotationsOn(sqlite);
  } catch (error) {
    // The statements cannot be prepared (the database was closed, say): every request gets the error, none waits.
    for (const pending of group) pending.reject(error);
    return;
  }
  const { one, many } = rotations;
  const run = (): void => {
    let results: boolean[] | null = null;
    try {
      if (group.length > 1) results = many(group.map((pending) => pending.rotation));
    } catch {
      results = null;
    }
    for (const [index, pending] of group.entries()) {
      if (results) {
        pending.resolve(results[index] ?? false);
        continue;
      }
      try {
        pending.resolve(one(pending.rotation));
      } catch (error) {
        pending.reject(error);
      }
    }
  };
  // With no transaction open on the one connection it runs at once; otherwise it waits for that one to end.
  if (!sqlite.inTransaction) return run();
  await database.db
    .connection()
    .execute(async () => run())
    .catch((error: unknown) => {
      for (const pending of group) pending.reject(error);
    });
}

function rotationsOn(sqlite: SqliteHandle): SqliteRotations {
  let rotations = sqliteRotations.get(sqlite);
  if (!rotations) {
    const claim = sqlite.prepare('update refresh_tokens set used_at = ? where token_hash = ? and used_at is null');
    const insert = sqlite.prepare(
      'insert into refresh_tokens (token_hash, session_id, project_id, created_at, expires_at) values (?, ?, ?, ?, ?)',
    );
    const touch = sqlite.prepare('update sessions set last_used_at = ?, expires_at = ?, mode = ? where id = ?');
    const rotate = (r: Rotation): boolean => {
      if (claim.run(r.now, r.hash).changes !== 1) return false;
      insert.run(r.successorHash, r.sessionId, r.projectId, r.now, r.expiresAt);
      if (r.touchSession) touch.run(r.now, r.expiresAt, r.mode, r.sessionId);
      return true;
    };
    rotations = {
      one: sqlite.transaction(rotate),
      many: sqlite.transaction((group: Rotation[]) => group.map(rotate)),
    };
    sqliteRotations.set(sqlite, rotations);
  }
  return rotations;
}

const updateSession = prepared((db, id: string, now: number, expiresAt: number, mode: SessionsTable['mode']) =>
  db.updateTable('sessions').set({ last_used_at: now, expires_at: expiresAt, mode }).where('id', '=', id),
);

export async function touchSession(
  db: Executor,
  id: string,
  values: { now: number; expiresAt: number; mode: SessionsTable['mode'] },
): Promise<void> {
  await updateSession(db, id, values.now, values.expiresAt, values.mode);
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

/** Sessions revoked since `since`: revoked rows, and the recorded ids of sessions deleted with their user. */
export async function revokedSince(db: Executor, since: number): Promise<{ id: string; revoked_at: number }[]> {
  const rows = await db
    .selectFrom('sessions')
    .select(['id', 'revoked_at'])
    .where('revoked_at', '>=', since)
    .unionAll(
      db.selectFrom('session_revocations').select(['session_id as id', 'revoked_at']).where('revoked_at', '>=', since),
    )
    .execute();
  return rows.map((row) => ({ id: row.id, revoked_at: Number(row.revoked_at) }));
}

/**
 * Records the live sessions of a user about to be deleted as revoked, in the deleting transaction, where the
 * revocation poll finds them after their rows are gone; drops records older than `keepSince`. Answers the ids.
 */
export async function recordDeletedSessions(
  db: Executor,
  input: { userId: string; now: number; keepSince: number },
): Promise<string[]> {
  const live = await db
    .selectFrom('sessions')
    .select(['id', 'project_id'])
    .where('user_id', '=', input.userId)
    .where('revoked_at', 'is', null)
    .execute();
  await db.deleteFrom('session_revocations').where('revoked_at', '<', input.keepSince).execute();
  if (live.length > 0) {
    await db
      .insertInto('session_revocations')
      .values(live.map((row) => ({ session_id: row.id, project_id: row.project_id, revoked_at: input.now })))
      .onConflict((conflict) => conflict.column('session_id').doNothing())
      .execute();
  }
  return live.map((row) => row.id);
}

const otherSessions = (db: Kysely<Tables>, userId: string, exceptSessionId: string) =>
  db.selectFrom('sessions').select('id').where('user_id', '=', userId).where('id', '!=', exceptSessionId);
const selectOtherSession = prepared((db, userId: string, exceptSessionId: string) =>
  otherSessions(db, userId, exceptSessionId).limit(sql.lit(1)),
);
/** Impersonation sessions carry the admin's browser, not the user's, so they do not count as seen. */
const recentOwnSessions = (db: Kysely<Tables>, userId: string, exceptSessionId: string, since: number) =>
  otherSessions(db, userId, exceptSessionId).where('last_used_at', '>=', since).where('actor_id', 'is', null);
const selectSeen = prepared((db, userId: string, exceptSessionId: string, since: number, userAgent: string) =>
  recentOwnSessions(db, userId, exceptSessionId, since).where('user_agent', '=', userAgent).limit(sql.lit(1)),
);
const selectSeenWithoutAgent = prepared((db, userId: string, exceptSessionId: string, since: number) =>
  recentOwnSessions(db, userId, exceptSessionId, since).where('user_agent', 'is', null).limit(sql.lit(1)),
);

/**
 * What a new sign-in looks like against the user's earlier sessions (revoked ones included): `first` when there
 * are none, `seen` when one with this user agent was used since `since`, else `new`.
 */
export async function signInHistory(
  db: Executor,
  input: { userId: string; userAgent: string | null; since: number; exceptSessionId: string },
): Promise<'first' | 'seen' | 'new'> {
  const { userId, userAgent, since, exceptSessionId } = input;
  // The usual answer (a known browser) takes one query; only an unseen one asks whether there was any before.
  const seen =
    userAgent === null
      ? await selectSeenWithoutAgent(db, userId, exceptSessionId, since)
      : await selectSeen(db, userId, exceptSessionId, since, userAgent);
  if (seen.rows.length > 0) return 'seen';
  return (await selectOtherSession(db, userId, exceptSessionId)).rows.length > 0 ? 'new' : 'first';
}
