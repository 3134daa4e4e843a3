import { sql } from 'kysely';
import type { IssueInput } from '../one-time-tokens/index.js';
import type { LifecycleDeps } from './deps.js';

/**
 * Issues a link token unless one of the same purpose went to the same address less than `coolDown` ago;
 * answers null then. The check and the write hold a lock on that address (a transaction-scoped advisory lock on
 * PostgreSQL; SQLite runs one transaction at a time), so parallel requests send one mail, not several.
 */
export async function issueUnlessRecent(
  deps: Pick<LifecycleDeps, 'database' | 'clock' | 'tokensOn'>,
  input: IssueInput,
  coolDown: number,
): Promise<{ token: string; expiresAt: number } | null> {
  const { database, clock } = deps;
  return database.db.transaction().execute(async (trx) => {
    if (database.dialect === 'postgres') {
      const key = `gatehouse:one-time:${input.projectId}:${input.purpose}:${input.identifier}`;
      await sql`select pg_advisory_xact_lock(hashtextextended(${key}, 0))`.execute(trx);
    }
    const tokens = deps.tokensOn(trx);
    const last = await tokens.lastIssuedAt(input.projectId, input.purpose, input.identifier);
    if (last !== null && clock.now() - last < coolDown) return null;
    const { token, expiresAt } = await tokens.issueToken(input);
    return { token, expiresAt };
  });
}
