import type { LockManagerLike } from '../cross-tab.js';
import type { WebStorageLike } from '../storage.js';

/** The real `fetch`, counting what goes through it (method and path), so tests can count refresh calls. */
export function countingFetch(base: typeof fetch = globalThis.fetch): {
  fetch: typeof fetch;
  calls: string[];
  count(path: string): number;
} {
  const calls: string[] = [];
  const counted: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    calls.push(`${init?.method ?? 'GET'} ${url.pathname}`);
    return base(input, init);
  };
  return { fetch: counted, calls, count: (path) => calls.filter((call) => call.endsWith(` ${path}`)).length };
}

/** A Web Storage over a Map: what `localStorage` is to the tabs of one origin (Node 20 has none). */
export function sharedWebStorage(): WebStorageLike & { items: Map<string, string> } {
  const items = new Map<string, string>();
  return {
    items,
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => {
      items.set(key, value);
    },
    removeItem: (key) => {
      items.delete(key);
    },
  };
}

/**
 * Exclusive named locks within one process, with the semantics of `navigator.locks.request(name, callback)` in its
 * default exclusive mode (Node 20 has no Web Locks): callbacks for one name run one after another, in request order.
 */
export function processLocks(): LockManagerLike {
  const tails = new Map<string, Promise<unknown>>();
  return {
    request<T>(name: string, callback: () => Promise<T>): Promise<T> {
      const previous = tails.get(name) ?? Promise.resolve();
      const run = previous.then(callback, callback);
      tails.set(
        name,
        run.catch(() => undefined),
      );
      return run;
    },
  };
}
