import { type Kysely, sql } from 'kysely';
import type { Clock } from '../../clock.js';
import { constantTimeEqual, hmacSha256, sha256 } from '../../crypto/hash.js';
import { randomDigits, randomId, randomToken } from '../../crypto/random.js';
import { deleteExpired } from '../../db/expired.js';
import type { OneTimeTokenRow, OneTimeTokensTable, Tables } from '../../db/types.js';

export type Channel = OneTimeTokensTable['channel'];

export interface IssueInput {
  projectId: string;
  purpose: string;
  identifier: string;
  channel: Channel;
  /** Lifetime in milliseconds. */
  ttl: number;
  userId?: string | null;
  data?: Record<string, unknown>;
}

export type RedeemResult =
  | { ok: true; row: OneTimeTokenRow; data: Record<string, unknown> }
  | { ok: false; reason: 'unknown' | 'expired' | 'used' | 'too_many_attempts' };

/**
 * Single-use secrets sent to a person: link tokens (32 random bytes, stored as SHA-256) and short numeric
 * codes (stored as an HMAC under a server key, since a 6-digit code's plain hash is reversed in microseconds).
 *
 * Every redemption is one conditional UPDATE (`used_at IS NULL`), so of any number of parallel redemptions
 * exactly one wins; every code check first counts the attempt with a conditional UPDATE (`attempts <
 * max_attempts`), so parallel wrong guesses cannot exceed the limit either.
 */
export class OneTimeTokens {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly clock: Clock,
    private readonly codeKey: Uint8Array,
  ) {}

  /**
   * Issues a link token; earlier unused ones of the same purpose for the same identifier stop working.
   * `maxAttempts` bounds `attemptToken` calls (a token that guards a further check, like an MFA step).
   */
  async issueToken(
    input: IssueInput & { maxAttempts?: number },
  ): Promise<{ id: string; token: string; expiresAt: number }> {
    const token = randomToken(32);
    const row = await this.insert(input, sha256(token), input.maxAttempts ?? 1);
    return { id: row.id, token, expiresAt: row.expires_at };
  }

  /** Issues a numeric code (6 digits by default) that allows `maxAttempts` checks in all. */
  async issueCode(
    input: IssueInput & { digits?: number; maxAttempts?: number },
  ): Promise<{ id: string; code: string; expiresAt: number }> {
    const code = randomDigits(input.digits ?? 6);
    const row = await this.insert(input, this.codeHash(input.projectId, input.purpose, code), input.maxAttempts ?? 5);
    return { id: row.id, code, expiresAt: row.expires_at };
  }

  /** Uses a link token once. */
  async redeemToken(purpose: string, token: string): Promise<RedeemResult> {
    const row = await this.findToken(purpose, token);
    if (!row) return { ok: false, reason: 'unknown' };
    return this.consume(row);
  }

  /**
   * Checks the newest code sent to `identifier` for `purpose`. Each check counts as an attempt whatever its
   * outcome; `consume` uses the code up when it matches (a mere check leaves it for the final step).
   */
  async checkCode(input: {
    projectId: string;
    purpose: string;
    identifier: string;
    code: string;
    consume: boolean;
  }): Promise<RedeemResult> {
    // Issuing ends the earlier secrets of the same purpose and identifier, so at most one is live.
    const row = await this.latest(input.projectId, input.purpose, input.identifier, { live: true });
    if (!row) return { ok: false, reason: 'unknown' };
    if (row.expires_at <= this.clock.now()) return { ok: false, reason: 'expired' };
    const refused = await this.countAttempt(row.id);
    if (refused) return { ok: false, reason: refused };
    if (!constantTimeEqual(this.codeHash(input.projectId, input.purpose, input.code), row.secret_hash)) {
      return { ok: false, reason: 'unknown' };
    }
    if (!input.consume) return { ok: true, row, data: JSON.parse(row.data) as Record<string, unknown> };
    return this.consume(row);
  }

  /** The link token's row without using it (to check what redeeming it would do first), or undefined. */
  async findToken(purpose: string, token: string): Promise<OneTimeTokenRow | undefined> {
    return this.db
      .selectFrom('one_time_tokens')
      .selectAll()
      .where('secret_hash', '=', sha256(token))
      .where('purpose', '=', purpose)
      .executeTakeFirst();
  }

  /**
   * Deletes secrets that expired more than a day ago, used or not, and answers how many: past expiry a secret can
   * only be refused, and resend cool-downs look back minutes, not days.
   */
  async prune(): Promise<number> {
    return deleteExpired(this.db, 'one_time_tokens', 'id', this.clock.now());
  }

  /** When the newest secret of this purpose was sent to `identifier` (for resend cool-downs), or null. */
  async lastIssuedAt(projectId: string, purpose: string, identifier: string): Promise<number | null> {
    return (await this.latest(projectId, purpose, identifier))?.created_at ?? null;
  }

  /** Ends every unused secret of `purpose` for a user (e.g. reset links once the password has changed). */
  async revokeForUser(userId: string, purpose: string): Promise<void> {
    await this.db
      .updateTable('one_time_tokens')
      .set({ used_at: this.clock.now() })
      .where('user_id', '=', userId)
      .where('purpose', '=', purpose)
      .where('used_at', 'is', null)
      .execute();
  }

  /**
   * Counts one attempt against a live link token without using it up, for a token that guards a further check
   * (`redeemToken` uses it once that check passes). The count is a conditional UPDATE, so parallel attempts
   * never exceed `max_attempts`.
   */
  async attemptToken(purpose: string, token: string): Promise<RedeemResult> {
    const row = await this.findToken(purpose, token);
    if (!row) return { ok: false, reason: 'unknown' };
    if (row.used_at !== null) return { ok: false, reason: 'used' };
    if (row.expires_at <= this.clock.now()) return { ok: false, reason: 'expired' };
    const refused = await this.countAttempt(row.id);
    if (refused) return { ok: false, reason: refused };
    return { ok: true, row, data: JSON.parse(row.data) as Record<string, unknown> };
  }

  /**
   * Counts one attempt on a live secret if it has tries left: one conditional UPDATE, so parallel ones hold the
   * limit. Answers null when counted, else why not: the tries are spent, or a parallel request has just used it.
   */
  private async countAttempt(id: string): Promise<'too_many_attempts' | 'used' | null> {
    const counted = await this.db
      .updateTable('one_time_tokens')
      .set({ attempts: sql`attempts + 1` })
      .where('id', '=', id)
      .where('used_at', 'is', null)
      .where('attempts', '<', sql<number>`max_attempts`)
      .executeTakeFirst();
    if (Number(counted.numUpdatedRows) === 1) return null;
    const current = await this.db
      .selectFrom('one_time_tokens')
      .select('used_at')
      .where('id', '=', id)
      .executeTakeFirst();
    return current?.used_at === null ? 'too_many_attempts' : 'used';
  }

  private async consume(row: OneTimeTokenRow): Promise<RedeemResult> {
    const now = this.clock.now();
    if (row.used_at !== null) return { ok: false, reason: 'used' };
    if (row.expires_at <= now) return { ok: false, reason: 'expired' };
    const won = await this.db
      .updateTable('one_time_tokens')
      .set({ used_at: now })
      .where('id', '=', row.id)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    if (Number(won.numUpdatedRows) !== 1) return { ok: false, reason: 'used' };
    return { ok: true, row: { ...row, used_at: now }, data: JSON.parse(row.data) as Record<string, unknown> };
  }

  private async insert(input: IssueInput, secretHash: string, maxAttempts: number): Promise<OneTimeTokenRow> {
    const now = this.clock.now();
    const row: OneTimeTokenRow = {
      id: randomId(),
      project_id: input.projectId,
      purpose: input.purpose,
      user_id: input.userId ?? null,
      identifier: input.identifier,
      channel: input.channel,
      secret_hash: secretHash,
      attempts: 0,
      max_attempts: maxAttempts,
      data: JSON.stringify(input.data ?? {}),
      created_at: now,
      expires_at: now + input.ttl,
      used_at: null,
    };
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('one_time_tokens')
        .set({ used_at: now })
        .where('project_id', '=', input.projectId)
        .where('purpose', '=', input.purpose)
        .where('identifier', '=', input.identifier)
        .where('used_at', 'is', null)
        .execute();
      await trx.insertInto('one_time_tokens').values(row).execute();
    });
    return row;
  }

  private latest(
    projectId: string,
    purpose: string,
    identifier: string,
    options: { live?: boolean } = {},
  ): Promise<OneTimeTokenRow | undefined> {
    let query = this.db
      .selectFrom('one_time_tokens')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('purpose', '=', purpose)
      .where('identifier', '=', identifier);
    if (options.live) query = query.where('used_at', 'is', null);
    return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
  }

  /** Bound to project and purpose, so a code issued for one thing is no digest of any other. */
  private codeHash(projectId: string, purpose: string, code: string): string {
    return hmacSha256(this.codeKey, `${projectId}:${purpose}:${code}`);
  }
}
