import type { IssueInput } from '../one-time-tokens/index.js';
import { claimSendSlot } from '../one-time-tokens/index.js';
import type { LifecycleDeps } from './deps.js';

/**
 * Issues a link token unless a mail of the same purpose went to the same address less than `coolDown` ago;
 * answers null then. The cool-down is the passwordless one (`send_cooldowns`): one conditional upsert claims the
 * slot, so of parallel requests exactly one sends.
 */
export async function issueUnlessRecent(
  deps: Pick<LifecycleDeps, 'database' | 'clock' | 'tokens'>,
  input: IssueInput,
  coolDown: number,
): Promise<{ token: string; expiresAt: number } | null> {
  const claimed = await claimSendSlot(deps.database.db, {
    projectId: input.projectId,
    purpose: input.purpose,
    identifier: input.identifier,
    now: deps.clock.now(),
    interval: coolDown,
  });
  if (!claimed) return null;
  const { token, expiresAt } = await deps.tokens.issueToken(input);
  return { token, expiresAt };
}
