import type { Kysely, Transaction } from 'kysely';
import type { Clock } from '../../clock.js';
import { hmacSha256, sha256 } from '../../crypto/hash.js';
import { randomId, randomToken } from '../../crypto/random.js';
import type { Database } from '../../db/database.js';
import { deleteExpired } from '../../db/expired.js';
import type { SessionRow, SessionsTable, Tables } from '../../db/types.js';
import type { RevocationList } from './revocation.js';
import * as store from './store.js';

export type SessionMode = SessionsTable['mode'];

export interface SessionPolicy {
  refreshTokenTtl: number;
  absoluteTtl: number;
  reuseGrace: number;
}

/**
 * A session row is rewritten on refresh only when its last use is older than this (or the mode changed): a
 * token refreshed every few seconds by many tabs should not rewrite the row each time. Its sliding expiry
 * can therefore trail by up to this much; each refresh token's own expiry is exact.
 */
const SESSION_TOUCH_INTERVAL = 60_000;

export type RotateResult =
  /** `subject`: the session's user and their role's permissions, read with the token. */
  | { ok: true; session: SessionRow; refreshToken: string; subject: store.RefreshTokenWithSession['subject'] }
  | { ok: false; reason: 'unknown' | 'expired' | 'revoked' }
  /** A replay after the grace window: the session named here has just been revoked. */
  | { ok: false; reason: 'reused'; session: SessionRow };

/**
 * Sessions are refresh-token families. Each refresh token is 32 random bytes (256 bits: unguessable), stored
 * only as its SHA-256, and single use: using it marks it used and issues its successor.
 *
 * The successor is derived, not drawn: HMAC(rotation key, presented token). Two tabs refreshing with the same
 * token at once therefore both get the same successor without the server ever storing a token in plaintext,
 * and a token presented again after the grace window is a replay (a stolen token or a stolen successor), so
 * the whole family is revoked.
 */
export class SessionService {
  private readonly db: Kysely<Tables>;

  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
    private readonly revocations: RevocationList,
    private readonly rotationKey: Uint8Array,
    private readonly policy: SessionPolicy,
  ) {
    this.db = database.db;
  }

  async start(
    input: {
      projectId: string;
      userId: string;
      mode: SessionMode;
      amr: string[];
      ip: string | null;
      userAgent: string | null;
      /** The admin opening this session as the user (impersonation). */
      actorId?: string;
      /** The project's refresh-token lifetime when it is shorter than the server's. */
      refreshTokenTtl?: number;
      /** A fixed lifetime in milliseconds instead of the policy's (an impersonation session ends with its token). */
      lifetime?: number;
    },
    /** Writes in this transaction (a sign-in's other writes commit with the session); in one of its own without. */
    trx?: Transaction<Tables>,
  ): Promise<{ session: SessionRow; refreshToken: string }> {
    const now = this.clock.now();
    const absolute = now + (input.lifetime ?? this.policy.absoluteTtl);
    const session: SessionsTable = {
      id: randomId(),
      project_id: input.projectId,
      user_id: input.userId,
      mode: input.mode,
      amr: JSON.stringify(input.amr),
      auth_time: now,
      created_at: now,
      last_used_at: now,
      expires_at:
        input.lifetime === undefined
          ? Math.min(now + (input.refreshTokenTtl ?? this.policy.refreshTokenTtl), absolute)
          : absolute,
      absolute_expires_at: absolute,
      revoked_at: null,
      revoked_reason: null,
      ip: input.ip,
      user_agent: input.userAgent?.slice(0, 512) ?? null,
      actor_id: input.actorId ?? null,
    };
    const refreshToken = randomToken(32);
    const token = { hash: sha256(refreshToken), expiresAt: session.expires_at };
    if (trx) await store.insertSession(trx, session, token);
    else await this.db.transaction().execute((own) => store.insertSession(own, session, token));
    return { session, refreshToken };
  }

  async rotate(
    refreshToken: string,
    mode: SessionMode,
    refreshTokenTtl = this.policy.refreshTokenTtl,
  ): Promise<RotateResult> {
    const hash = sha256(refreshToken);
    const now = this.clock.now();
    const found = await store.findRefreshToken(this.db, hash);
    if (!found) return { ok: false, reason: 'unknown' };
    const { token, session, subject } = found;
    if (session.revoked_at !== null || this.revocations.has(session.id)) return { ok: false, reason: 'revoked' };
    if (token.expires_at <= now || session.expires_at <= now) return { ok: false, reason: 'expired' };

    const successor = this.successorOf(refreshToken);
    if (token.used_at === null) {
      const expiresAt = Math.min(now + refreshTokenTtl, session.absolute_expires_at);
      const won = await store.rotateRefreshToken(this.database, {
        hash,
        successorHash: sha256(successor),
        sessionId: session.id,
        projectId: session.project_id,
        now,
        expiresAt,
        mode,
        touchSession: mode !== session.mode || now - session.last_used_at >= SESSION_TOUCH_INTERVAL,
      });
      // The in-memory row carries the new token's expiry even when the stored row was not rewritten.
      if (won) {
        return {
          ok: true,
          session: { ...session, last_used_at: now, expires_at: expiresAt, mode },
          refreshToken: successor,
          subject,
        };
      }
      // Another request rotated the same token a moment ago: fall through to the grace check.
      const again = await store.findRefreshToken(this.db, hash);
      if (!again || again.token.used_at === null) return { ok: false, reason: 'unknown' };
      token.used_at = again.token.used_at;
    }
    if (now - (token.used_at ?? 0) <= this.policy.reuseGrace) {
      const current = await store.findSession(this.db, session.id);
      if (!current || current.revoked_at !== null) return { ok: false, reason: 'revoked' };
      return { ok: true, session: current, refreshToken: successor, subject };
    }
    await this.end(session.id, 'refresh_token_reuse');
    return { ok: false, reason: 'reused', session };
  }

  /** Finds the live session a refresh token belongs to (for logout), without using the token. */
  async findByRefreshToken(refreshToken: string): Promise<SessionRow | undefined> {
    const found = await store.findRefreshToken(this.db, sha256(refreshToken));
    return found?.session;
  }

  async get(sessionId: string): Promise<SessionRow | undefined> {
    return store.findSession(this.db, sessionId);
  }

  /** True when the session has been revoked; answered from memory, with no database read. */
  isRevoked(sessionId: string): boolean {
    return this.revocations.has(sessionId);
  }

  async end(sessionId: string, reason: string): Promise<void> {
    const ids = await store.revokeSessions(this.db, { sessionId }, { now: this.clock.now(), reason });
    this.revocations.add(ids.length > 0 ? ids : [sessionId]);
  }

  async endAllForUser(userId: string, reason: string, options: { except?: string } = {}): Promise<string[]> {
    const ids = await store.revokeSessions(
      this.db,
      { userId, ...(options.except ? { exceptSessionId: options.except } : {}) },
      { now: this.clock.now(), reason },
    );
    this.revocations.add(ids);
    return ids;
  }

  /**
   * Ends the sessions of a user who is being deleted, inside the deleting transaction `trx`: their rows go with
   * the user, so the revocations are recorded apart (session_revocations), where every node's poll finds them.
   * Answers the ids; hand them to `forget` once the transaction has committed.
   */
  async endForDeletion(trx: Transaction<Tables>, userId: string): Promise<string[]> {
    const now = this.clock.now();
    return store.recordDeletedSessions(trx, { userId, now, keepSince: now - this.revocations.retention });
  }

  /**
   * Tells this node's revocation list about sessions that ended without a revoked row, because their user was
   * deleted (the rows went with it): their tokens stop working here at once, and elsewhere at the next poll.
   */
  forget(sessionIds: readonly string[]): void {
    this.revocations.add(sessionIds);
  }

  /**
   * Deletes refresh tokens that expired more than a day ago (`deleteExpired`), and answers how many. Until a
   * token expires its row stays, used or not: a used one is how a replay is recognised as reuse. After expiry it
   * can only be refused, and every refresh would otherwise leave a row behind for good. Sessions are kept: they
   * are one row per sign-in, and the sign-in notice asks whether an account has had any before.
   */
  async prune(): Promise<number> {
    return deleteExpired(this.db, 'refresh_tokens', 'token_hash', this.clock.now());
  }

  /** Whether `session` is the user's first, or comes from a user agent seen on the account since `since`. */
  async signInHistory(session: SessionRow, since: number): Promise<'first' | 'seen' | 'new'> {
    return store.signInHistory(this.db, {
      userId: session.user_id,
      userAgent: session.user_agent,
      since,
      exceptSessionId: session.id,
    });
  }

  async listActive(userId: string): Promise<SessionRow[]> {
    return store.listActiveSessions(this.db, userId, this.clock.now());
  }

  private successorOf(refreshToken: string): string {
    return hmacSha256(this.rotationKey, `refresh:${refreshToken}`);
  }
}
