import type { Clock } from '../../clock.js';
import type { UserProfile } from '../../db/types.js';

export interface AccountCacheOptions {
  /**
   * How long an account read stays in use. Changes made through this process end it at once; this bounds how
   * long one made by another node or process (the CLI) goes unseen, like the revocation poll does for sessions.
   */
  ttl: number;
  /** The most accounts kept; the oldest read goes first. */
  max: number;
}

interface Entry {
  account: Readonly<UserProfile>;
  readAt: number;
}

/**
 * The accounts of recent callers, so that a signed-in request needs no database read (DESIGN.md §3: no read per
 * request). The database layer's write watch empties it after every statement that may have changed a user and
 * again when that statement's transaction ends (`forgetAll`), so a change made on this node, a suspension or a
 * profile edit, is seen by the next request.
 *
 * A read that was under way while a change landed must not be kept: it may hold the row as it was. Each read
 * takes the cache's generation before it starts (`generation`) and is kept only if no change came in between.
 *
 * Accounts are frozen: every request holding one shares the same object.
 */
export class AccountCache {
  private readonly entries = new Map<string, Entry>();
  private current = 0;

  constructor(
    private readonly clock: Clock,
    private readonly options: AccountCacheOptions,
  ) {}

  /** Changes with every `forgetAll`; take it before reading an account to `keep`. */
  get generation(): number {
    return this.current;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The account read within the last `ttl`, if no change has come in since. */
  get(id: string): Readonly<UserProfile> | undefined {
    const entry = this.entries.get(id);
    if (entry === undefined) return undefined;
    if (this.clock.now() - entry.readAt < this.options.ttl) return entry.account;
    this.entries.delete(id);
    return undefined;
  }

  /** Keeps an account read since `generation` was taken, unless a change came in meanwhile; answers it frozen. */
  keep(account: UserProfile, generation: number): Readonly<UserProfile> {
    const frozen = Object.freeze(account);
    if (generation !== this.current) return frozen;
    // Re-inserted at the end, so the first key is always the oldest read.
    this.entries.delete(account.id);
    if (this.entries.size >= this.options.max) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(account.id, { account: frozen, readAt: this.clock.now() });
    return frozen;
  }

  /** A user may have changed: no account read before now is used again. */
  forgetAll(): void {
    this.current++;
    this.entries.clear();
  }
}
