import type { Kysely } from 'kysely';
import { sha256 } from '../../crypto/hash.js';
import type { Tables } from '../../db/types.js';

/**
 * Claims the right to send one message of `purpose` to `identifier` now, for `interval` ms. One conditional
 * upsert (insert, or move `until` forward only where it has passed), so of any number of parallel requests exactly
 * one wins, on SQLite and PostgreSQL alike. The key is a SHA-256, so addresses without an account are not stored.
 */
export async function claimSendSlot(
  db: Kysely<Tables>,
  input: { projectId: string; purpose: string; identifier: string; now: number; interval: number },
): Promise<boolean> {
  const until = input.now + input.interval;
  const result = await db
    .insertInto('send_cooldowns')
    .values({ project_id: input.projectId, key: sha256(`${input.purpose}:${input.identifier}`), until })
    .onConflict((conflict) =>
      conflict.columns(['project_id', 'key']).doUpdateSet({ until }).where('send_cooldowns.until', '<=', input.now),
    )
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}
