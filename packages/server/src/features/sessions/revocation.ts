import type { Kysely } from 'kysely';
import type { Clock } from '../../clock.js';
import type { Tables } from '../../db/types.js';
import { revokedSince } from './store.js';

/**
 * The set of revoked sessions this node knows of, so that checking a token never needs a database read.
 * Revocations made on this node land at once; those made on other nodes are picked up by a poll every
 * `interval` (one indexed query per second per node, however busy the node is). An entry is kept as long as a
 * token of that session could still be valid (`retention`), then dropped, which bounds the set.
 */
export class RevocationList {
  private readonly revoked = new Map<string, number>();
  private cursor: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Kysely<Tables>,
    private readonly clock: Clock,
    private readonly options: { retention: number; interval: number },
  ) {
    this.cursor = clock.now() - options.retention;
  }

  has(sessionId: string): boolean {
    return this.revoked.has(sessionId);
  }

  add(sessionIds: readonly string[]): void {
    const now = this.clock.now();
    for (const id of sessionIds) this.revoked.set(id, now);
  }

  /** How long a revocation is kept: as long as a token of its session could still be valid. */
  get retention(): number {
    return this.options.retention;
  }

  get size(): number {
    return this.revoked.size;
  }

  /**
   * Loads revocations since the last poll. Each poll looks two intervals back, so a node whose clock runs up to
   * one interval behind another's still sees that node's revocations.
   */
  async refresh(): Promise<void> {
    const now = this.clock.now();
    const since = this.cursor;
    const rows = await revokedSince(this.db, since);
    for (const row of rows) this.revoked.set(row.id, row.revoked_at);
    this.cursor = Math.max(since, now - this.options.interval * 2);
    const oldest = now - this.options.retention;
    for (const [id, at] of this.revoked) if (at < oldest) this.revoked.delete(id);
  }

  start(onError: (error: unknown) => void): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.refresh().catch(onError);
    }, this.options.interval);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
