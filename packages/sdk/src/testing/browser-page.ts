import { type AuthMode, createClient, type GatehouseClient, localStorageAdapter, memoryStorage } from '../index.js';
import { listPasskeys, registerPasskey, signInWithPasskey } from '../passkeys/index.js';

/**
 * The script of the page the browser tests open (bundled by esbuild for the browser platform, as an app would
 * bundle the SDK): one Gatehouse client per tab on the page's own origin, with the browser's real localStorage,
 * BroadcastChannel, `navigator.locks` and WebAuthn. The tests drive it through `window.harness`.
 */

/** Where the `saveFunction` of the `saved` setup keeps the refresh token (as an app might, in its own place). */
export const SAVED_KEY = 'app.refresh-token';

let client: GatehouseClient | null = null;
let skew = 0;
const events: string[] = [];

function current(): GatehouseClient {
  if (!client) throw new Error('harness.open() first');
  return client;
}

const pageHarness = {
  /**
   * Opens this tab's client. `local`: the localStorage adapter. `saved`: tokens in memory, the refresh token handed
   * to `saveFunction` (kept under SAVED_KEY) and given back as `refreshToken` when the page loads again. `memory`:
   * tokens in memory only (with `mode` cookie or session, the browser's cookie jar keeps the session).
   */
  open(setup: 'local' | 'saved' | 'memory', mode: AuthMode = 'json'): void {
    client?.close();
    const saved = localStorage.getItem(SAVED_KEY);
    const opened = createClient({
      url: location.origin,
      mode,
      storage: setup === 'local' ? localStorageAdapter() : memoryStorage(),
      now: () => Date.now() + skew,
      ...(setup === 'saved'
        ? {
            saveFunction: (token: string | null) => {
              if (token === null) localStorage.removeItem(SAVED_KEY);
              else localStorage.setItem(SAVED_KEY, token);
            },
            ...(saved ? { refreshToken: saved } : {}),
          }
        : {}),
    });
    opened.on('signedIn', () => events.push('signedIn'));
    opened.on('refreshed', () => events.push('refreshed'));
    opened.on('signedOut', (event) => events.push(`signedOut:${event.reason}`));
    client = opened;
  },
  /** Moves this tab's clock (ms): the way to bring its access token near expiry without waiting. */
  skew(ms: number): void {
    skew = ms;
  },
  events: (): string[] => [...events],
  isSignedIn: (): boolean => current().isSignedIn,
  supports: () => ({
    locks: typeof navigator.locks?.request === 'function',
    broadcastChannel: typeof BroadcastChannel === 'function',
    secureContext: isSecureContext,
  }),
  signUp: (email: string, password: string) => current().signUp({ email, password }),
  async signIn(email: string, password: string): Promise<void> {
    await current().auth({ email, password });
  },
  logout: () => current().logout(),
  logoutAll: () => current().logoutAll(),
  token: () => current().getAccessToken(),
  refresh: () => current().refresh(),
  /** The origin's Web Locks as the browser reports them: names held and waited for, across its tabs. */
  async locks(): Promise<{ held: string[]; pending: string[] }> {
    const snapshot = await navigator.locks.query();
    return {
      held: (snapshot.held ?? []).map((lock) => lock.name ?? ''),
      pending: (snapshot.pending ?? []).map((lock) => lock.name ?? ''),
    };
  },
  async profiles(count: number): Promise<string[]> {
    const users = await Promise.all(Array.from({ length: count }, () => current().getProfile()));
    return users.map((user) => user.email ?? '');
  },
  /** The e-mail of the signed-in user, or the error code the call failed with. */
  async profileOrCode(): Promise<string> {
    try {
      return (await current().getProfile()).email ?? '';
    } catch (error) {
      return (error as { code?: string }).code ?? String(error);
    }
  },
  /** The cookies script can read (HttpOnly ones are not among them). */
  cookies: (): string => document.cookie,
  storedTokens: (): string | null => localStorage.getItem('gatehouse.tokens'),
  savedRefreshToken: (): string | null => localStorage.getItem(SAVED_KEY),
  async registerPasskey(name: string): Promise<string> {
    return (await registerPasskey(current(), { name })).name;
  },
  /** Signs in with a passkey and answers the new access token. */
  async signInWithPasskey(email?: string): Promise<string | null> {
    const result = await signInWithPasskey(current(), email ? { email } : {});
    return result.access_token ?? null;
  },
  async passkeyNames(): Promise<string[]> {
    return (await listPasskeys(current())).map((passkey) => passkey.name);
  },
};

export type Harness = typeof pageHarness;

declare global {
  // The page's entry point for the tests (page.evaluate).
  var harness: Harness;
}

globalThis.harness = pageHarness;
