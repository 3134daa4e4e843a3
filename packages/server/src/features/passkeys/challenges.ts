import type { Kysely } from 'kysely';
import type { Clock } from '../../clock.js';
import { sha256 } from '../../crypto/hash.js';
import { randomId } from '../../crypto/random.js';
import type { Tables, WebauthnChallengesTable } from '../../db/types.js';

export type Ceremony = WebauthnChallengesTable['ceremony'];

/** How long a ceremony may take, from options to the browser's answer (also the `timeout` browsers get). */
export const CHALLENGE_TTL = 5 * 60 * 1000;

/** Rows are kept this long past expiry so that a late answer still hears "expired" rather than "unknown". */
const RETENTION = 60 * 60 * 1000;

export type ConsumeResult =
  | { ok: true }
  | { ok: false; reason: 'challenge_unknown' | 'challenge_used' | 'challenge_expired' };

/**
 * The challenges of WebAuthn ceremonies. Each is issued for one ceremony (registration, sign-in or second
 * factor) and, except for usernameless sign-in, one account; it is found again by the challenge the browser
 * signed into clientDataJSON, so no ceremony id has to travel alongside.
 *
 * Consuming is one conditional UPDATE (`used_at IS NULL`): of any number of parallel answers carrying the same
 * challenge, exactly one gets past it, whatever happens after (a failed verification burns the challenge too).
 */
export class ChallengeStore {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly clock: Clock,
    private readonly projectId: string,
  ) {}

  async issue(challenge: string, ceremony: Ceremony, userId: string | null): Promise<void> {
    const now = this.clock.now();
    await this.db
      .deleteFrom('webauthn_challenges')
      .where('expires_at', '<', now - RETENTION)
      .execute();
    await this.db
      .insertInto('webauthn_challenges')
      .values({
        id: randomId(),
        project_id: this.projectId,
        ceremony,
        user_id: userId,
        challenge_hash: sha256(challenge),
        created_at: now,
        expires_at: now + CHALLENGE_TTL,
        used_at: null,
      })
      .execute();
  }

  /**
   * Uses up `challenge` for `ceremony`. A challenge issued for another ceremony, project or account answers
   * unknown and stays as it was: it is not this request's to burn.
   */
  async consume(challenge: string, ceremony: Ceremony, userId: string | null): Promise<ConsumeResult> {
    const row = await this.db
      .selectFrom('webauthn_challenges')
      .selectAll()
      .where('challenge_hash', '=', sha256(challenge))
      .executeTakeFirst();
    const bound = row && row.project_id === this.projectId && row.ceremony === ceremony && row.user_id === userId;
    if (!row || !bound) return { ok: false, reason: 'challenge_unknown' };
    if (row.used_at !== null) return { ok: false, reason: 'challenge_used' };
    const now = this.clock.now();
    if (row.expires_at <= now) return { ok: false, reason: 'challenge_expired' };
    const won = await this.db
      .updateTable('webauthn_challenges')
      .set({ used_at: now })
      .where('id', '=', row.id)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(won.numUpdatedRows) === 1 ? { ok: true } : { ok: false, reason: 'challenge_used' };
  }
}
