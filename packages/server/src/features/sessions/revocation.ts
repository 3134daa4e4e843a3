import type { Kysely } from 'kysely';
import type { Clock } from '../../clock.js';
import type { Tables } from '../../db/types.js';
import { revokedSince } from './store.js';

/** Answers the ids revoked at or after `since` (ms), with when; one indexed query. */
export type RevocationSource = (db: Kysely<Tables>, since: number) => Promise<{ id: string; revoked_at: number }[]>;

/**
 * The set of revoked sessions (and other credentials: API keys) this node knows of, so that checking a token or
 * key never needs a database read. Revocations made on this node land at once; those made on other nodes are
 * picked up by a poll every `interval` (one indexed query per source per second per node, however busy the node
 * is). An entry is kept as long as a token of that session could still be valid (`retention`), then dropped,
 * which bounds the set.
 *
 * An entry may carry a time in the future (an API key rotated with a grace period stops then): it counts as
 * revoked from that time on. Ids are UUIDs, so sessions and keys share the set without colliding.
 */
export class RevocationList {
  private readonly revoked = new Map<string, number>();
  private readonly sources: RevocationSource[] = [revokedSince];
  private cursor: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Kysely<Tables>,
    private readonly clock: Clock,
    private readonly options: { retention: number; interval: number },
  ) {
    this.cursor = clock.now() - options.retention;
  }

  has(id: string): boolean {
    const at = this.revoked.get(id);
    return at !== undefined && at <= this.clock.now();
  }

  /** Marks ids revoked from `at` on (now when absent). */
  add(ids: readonly string[], at = this.clock.now()): void {
    for (const id of ids) this.revoked.set(id, at);
  }

  /** Another table whose revocations the poll picks up (a feature's credentials: API keys). */
  addSource(source: RevocationSource): void {
    this.sources.push(source);
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
    for (const source of this.sources) {
      for (const row of await source(this.db, since)) this.revoked.set(row.id, row.revoked_at);
    }
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
