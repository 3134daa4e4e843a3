/** What the client keeps between calls. `expires_at` is in ms on the client's clock; null fields are absent. */
export interface StoredTokens {
  access_token: string | null;
  refresh_token: string | null;
  /** Lifetime of the access (or session) token in ms, as the server answered it. */
  expires: number | null;
  /** When the access (or session) token expires, in ms since the epoch on this client's clock. */
  expires_at: number | null;
}

/** Where tokens live. Sync or async, so IndexedDB, React Native storage or a server-side store fit too. */
export interface TokenStorage {
  get(): StoredTokens | null | Promise<StoredTokens | null>;
  set(tokens: StoredTokens | null): void | Promise<void>;
}

/** Keeps tokens in memory: gone on reload (the default; pair it with `saveFunction` to survive reloads). */
export function memoryStorage(): TokenStorage {
  let current: StoredTokens | null = null;
  return {
    get: () => current,
    set(tokens) {
      current = tokens;
    },
  };
}

/** The part of the Web Storage API the adapter uses. */
export interface WebStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Keeps tokens in `localStorage` (or another Web Storage) under `key`, shared by the tabs of an origin. Anything
 * that can run script on the origin can read them there; prefer cookie mode where that matters.
 */
export function localStorageAdapter(
  key = 'gatehouse.tokens',
  store: WebStorageLike | undefined = globalThis.localStorage,
): TokenStorage {
  if (!store) throw new Error('localStorage is not available here; pass a storage or use memoryStorage()');
  return {
    get() {
      const raw = store.getItem(key);
      if (raw === null) return null;
      try {
        return JSON.parse(raw) as StoredTokens;
      } catch {
        return null;
      }
    },
    set(tokens) {
      if (tokens === null) store.removeItem(key);
      else store.setItem(key, JSON.stringify(tokens));
    },
  };
}
