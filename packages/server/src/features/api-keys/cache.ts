import type { ApiKeyRow } from '../../db/types.js';

/** What a verified key resolves to; enough to answer a request without reading the key's row again. */
export interface KnownKey {
  id: string;
  kind: ApiKeyRow['kind'];
  projectId: string;
  userId: string | null;
  scopes: readonly string[] | null;
  expiresAt: number | null;
  /** When the key stops: its revocation, or the end of the grace period after a rotation; null while it lives. */
  stopsAt: number | null;
  /** The last `last_used_at` this node wrote or read, so it writes at most once a minute. */
  touchedAt: number;
}

interface Entry {
  key: KnownKey;
  loadedAt: number;
}

/**
 * Keys verified on this node, by the SHA-256 of the key (never the key itself), so that the hot path costs one
 * hash and one map lookup. Bounded in size (the oldest entry goes first) and in age (`ttl`): an entry is read
 * again from the database after `ttl`, which must not exceed the revocation list's retention, so that a
 * revocation this node learned of is still in the list for as long as an entry could predate it. Revocations
 * themselves are checked against the revocation list on every hit, not by evicting entries.
 */
export class KeyCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly options: { ttl: number; maxEntries: number }) {}

  get(hash: string, now: number): KnownKey | undefined {
    const entry = this.entries.get(hash);
    if (!entry) return undefined;
    if (now - entry.loadedAt >= this.options.ttl) {
      this.entries.delete(hash);
      return undefined;
    }
    return entry.key;
  }

  set(hash: string, key: KnownKey, now: number): void {
    if (this.entries.size >= this.options.maxEntries && !this.entries.has(hash)) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(hash, { key, loadedAt: now });
  }

  get size(): number {
    return this.entries.size;
  }
}
