import type {
  ActivateBody,
  ActivateFactorResult,
  ApiAuthResult,
  ApiKey,
  AuthResult,
  CodeCheckBody,
  CodeGenerateBody,
  CreateApiKeyBody,
  CreatedApiKey,
  EmailEnrolment,
  MagicLinkResult,
  MfaChallengeResult,
  MfaStatus,
  MfaVerifyBody,
  Session,
  SignupBody,
  TotpEnrolment,
  UpdateMeBody,
  User,
} from '@gatehouse/protocol';
import { type LockManagerLike, TabCoordinator, type TabMessage } from './cross-tab.js';
import { type AnyGatehouseError, errorFromResponse, GatehouseError } from './errors.js';
import { memoryStorage, type StoredTokens, type TokenStorage } from './storage.js';

export type AuthMode = 'json' | 'cookie' | 'session';
export type {
  ActivateBody,
  ActivateFactorResult,
  ApiAuthResult,
  ApiKey,
  AuthResult,
  CodeCheckBody,
  CodeGenerateBody,
  CreateApiKeyBody,
  CreatedApiKey,
  EmailEnrolment,
  MagicLinkResult,
  MfaChallengeResult,
  MfaStatus,
  Session,
  SignupBody,
  TotpEnrolment,
  UpdateMeBody,
  User,
};

export interface ClientOptions {
  /** Where Gatehouse answers, e.g. `https://auth.example.com`. */
  url: string;
  /**
   * `json` (default): both tokens in JS, kept in `storage`. `cookie`: the refresh token lives in an HttpOnly cookie,
   * the access token in memory. `session`: no token in JS at all, a session cookie does the work.
   */
  mode?: AuthMode;
  /** A publishable key (`gatehouse_pk_...`) naming the project; sent as `X-API-Key` with every call to Gatehouse. */
  publishableKey?: string;
  /** Where tokens are kept; memory by default. */
  storage?: TokenStorage;
  /** Receives every new refresh token (and null on sign-out), so a session can be restored after a reload. */
  saveFunction?: (refreshToken: string | null) => void | Promise<void>;
  /** A refresh token saved earlier: the client starts signed in with it. */
  refreshToken?: string;
  /** Refresh before the access token expires (default true). Requests refresh on demand either way. */
  autoRefresh?: boolean;
  /** How long before expiry to refresh, in ms (default 30 s, at most a quarter of the token's lifetime). */
  refreshBefore?: number;
  /**
   * Coordinate refreshes with other tabs over a BroadcastChannel (default: on in browsers and workers, off in
   * Node). A string names the channel; tabs of one app must use the same one.
   */
  crossTab?: boolean | string;
  /** Web Locks used for cross-tab refreshes; `navigator.locks` by default, null to not use locks. */
  locks?: LockManagerLike | null;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** The clock, in ms (default `Date.now`). */
  now?: () => number;
}

export interface SignedOutEvent {
  /**
   * `logout`: this client signed out; `revoked`: the server refused the session (revoked, suspended, replayed);
   * `expired`: the session reached the end of its lifetime; `remote`: another tab signed out.
   */
  reason: 'logout' | 'revoked' | 'expired' | 'remote';
  error?: AnyGatehouseError;
}

export interface ClientEvents {
  signedIn: { expires: number };
  refreshed: { expires: number };
  signedOut: SignedOutEvent;
}

export interface RequestOptions {
  method?: string;
  /** Sent as JSON. */
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  /** `none`: never send the access token. Default: send it when signed in, refreshing first when needed. */
  auth?: 'none' | 'optional';
  /**
   * Whether a 401 `INVALID_CREDENTIALS` on a signed-in call is checked with one refresh (default true). Off for
   * calls where that code means a wrong password rather than an ended session.
   */
  checkSessionOnRejection?: boolean;
  signal?: AbortSignal;
  /** Overrides the fetch `credentials` (by default `include` in cookie and session modes). */
  credentials?: RequestCredentials;
}

export interface AuthProvider {
  name: string;
  label: string;
  driver: string;
  icon: string | null;
}

export interface AuthProviders {
  data: AuthProvider[];
  disableDefault: boolean;
}

export interface Credentials {
  email: string;
  password: string;
  /** A TOTP or recovery code when the account has MFA. */
  otp?: string;
}

const EMPTY: StoredTokens = { access_token: null, refresh_token: null, expires: null, expires_at: null };
/** Errors of a refresh call that mean the session is over (anything else, such as 429 or 503, is transient). */
const TERMINAL_REFRESH_STATUSES = new Set([400, 401, 403]);

type Listener<E extends keyof ClientEvents> = (event: ClientEvents[E]) => void;

/**
 * A Gatehouse client. Keeps the tokens, refreshes them before they expire and on `TOKEN_EXPIRED` (one refresh at a
 * time, across tabs too), and ends in one `signedOut` event when the session is revoked.
 */
export class GatehouseClient {
  readonly url: string;
  readonly mode: AuthMode;
  private readonly storage: TokenStorage;
  private readonly options: ClientOptions;
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;
  private tokens: StoredTokens = EMPTY;
  /**
   * Counts every change of the held session (sign-in, refresh, sign-out, another tab's tokens), so a late 401 can
   * tell whether a refresh already followed it, and a late refresh answer that it is stale.
   */
  private generation = 0;
  private readonly loaded: Promise<void>;
  private inflight: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly listeners: { [E in keyof ClientEvents]: Set<Listener<E>> } = {
    signedIn: new Set(),
    refreshed: new Set(),
    signedOut: new Set(),
  };
  private readonly tabs: TabCoordinator | null;

  constructor(options: ClientOptions) {
    this.options = options;
    this.url = options.url.replace(/\/+$/, '');
    this.mode = options.mode ?? 'json';
    this.storage = options.storage ?? memoryStorage();
    this.now = options.now ?? Date.now;
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    // On by default only in browsers and workers: in Node, one process may hold clients of many users, and in
    // cookie or session mode nothing in a message says whose session it is.
    const crossTab =
      options.crossTab ??
      (typeof document !== 'undefined' ||
        typeof (globalThis as { importScripts?: unknown }).importScripts === 'function');
    this.tabs =
      crossTab !== false && typeof BroadcastChannel === 'function'
        ? new TabCoordinator(
            typeof crossTab === 'string' ? crossTab : `gatehouse:${this.url}`,
            options.locks === undefined ? (globalThis.navigator?.locks ?? null) : options.locks,
            (message) => this.fromOtherTab(message),
            this.now,
          )
        : null;
    if (options.refreshToken) this.tokens = { ...EMPTY, refresh_token: options.refreshToken };
    this.loaded = this.load(options.refreshToken);
  }

  // ---- events -------------------------------------------------------------------------------------------------

  /** Subscribes to an event; answers the function that unsubscribes. */
  on<E extends keyof ClientEvents>(event: E, listener: Listener<E>): () => void {
    this.listeners[event].add(listener);
    return () => this.listeners[event].delete(listener);
  }

  // ---- sign-up, sign-in, sign-out ------------------------------------------------------------------------------

  /** Creates an account. Answers nothing either way, so it never reveals whether the e-mail had one. */
  async signUp(body: SignupBody): Promise<void> {
    await this.request('/auth/signup', { method: 'POST', body, auth: 'none' });
  }

  /** Signs in with e-mail and password. An account with MFA answers `INVALID_OTP` carrying an `mfa_token`. */
  async auth(credentials: Credentials): Promise<AuthResult> {
    const result = await this.request<AuthResult>('/auth/login', {
      method: 'POST',
      body: { ...credentials, mode: this.mode },
      auth: 'none',
    });
    await this.setSession(result);
    return result;
  }

  /** Alias of `auth`. */
  login(credentials: Credentials): Promise<AuthResult> {
    return this.auth(credentials);
  }

  /** Ends this session on the server and forgets the tokens. */
  async logout(): Promise<void> {
    await this.settled();
    const refreshToken = this.tokens.refresh_token;
    try {
      if (this.mode === 'json' && refreshToken) {
        await this.request('/auth/logout', { method: 'POST', body: { refresh_token: refreshToken }, auth: 'none' });
      } else if (this.mode === 'json') {
        if (this.tokens.access_token) await this.request('/auth/logout', { method: 'POST' });
      } else {
        await this.request('/auth/logout', { method: 'POST', body: {}, auth: 'none' });
      }
    } finally {
      await this.end({ reason: 'logout' }, refreshToken);
    }
  }

  /** Ends every session of the signed-in user, on every device. */
  async logoutAll(): Promise<void> {
    await this.settled();
    const refreshToken = this.tokens.refresh_token;
    await this.request('/auth/logout/all', { method: 'POST' });
    await this.end({ reason: 'logout' }, refreshToken);
  }

  /**
   * Exchanges the refresh token (or the cookie) for new tokens. Concurrent calls share one request; across tabs one
   * tab refreshes and the others take its result. A rejected refresh signs out (`signedOut`, reason `revoked`).
   */
  refresh(): Promise<void> {
    if (!this.inflight) {
      this.inflight = this.refreshAcrossTabs().finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }

  /** The current access token, refreshed first when it is about to expire; null when signed out or in session mode. */
  async getAccessToken(): Promise<string | null> {
    await this.loaded;
    if (this.needsRefresh()) await this.refresh();
    return this.tokens.access_token;
  }

  /** Whether the client holds a session (tokens or, in session mode, a session it signed in with). */
  get isSignedIn(): boolean {
    const { access_token, refresh_token, expires_at } = this.tokens;
    return access_token !== null || refresh_token !== null || expires_at !== null;
  }

  /** Takes a sign-in answer from any flow (magic link, MFA, passkey, OAuth exchange) as the current session. */
  async setSession(result: AuthResult): Promise<void> {
    await this.loaded;
    await this.accept(result);
    this.emit('signedIn', { expires: result.expires });
  }

  // ---- the caller's account ------------------------------------------------------------------------------------

  /** The signed-in user. */
  getProfile(): Promise<User> {
    return this.request<User>('/users/me');
  }

  /** Updates profile fields (not e-mail, role or status). */
  updateProfile(fields: UpdateMeBody): Promise<User> {
    return this.request<User>('/users/me', { method: 'PATCH', body: fields });
  }

  /** The signed-in user's active sessions; `current` marks this one. */
  getActiveSessions(): Promise<Session[]> {
    return this.request<Session[]>('/users/me/sessions');
  }

  /** Ends one of the signed-in user's sessions. */
  async revokeSession(id: string): Promise<void> {
    await this.request(`/users/me/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  /** The enabled sign-in providers, and whether e-mail and password sign-in is turned off. */
  async getAuthProviders(): Promise<AuthProviders> {
    const response = await this.send('/auth', { auth: 'none' });
    return (await response.json()) as AuthProviders;
  }

  // ---- flows served by the password, e-mail, passwordless, MFA, OAuth and API-key features ----------------------

  /**
   * Changes the caller's password; the caller's other sessions end. A wrong current password fails with
   * `INVALID_CREDENTIALS` and leaves this session signed in.
   */
  async changePassword(currentPassword: string, password: string): Promise<void> {
    await this.request('/auth/password/change', {
      method: 'POST',
      body: { current_password: currentPassword, password },
      checkSessionOnRejection: false,
    });
  }

  /** Mails a password-reset link (always succeeds, whether or not the account exists). */
  async requestPasswordReset(email: string, resetUrl?: string): Promise<void> {
    await this.request('/auth/password/request', {
      method: 'POST',
      body: resetUrl ? { email, reset_url: resetUrl } : { email },
      auth: 'none',
    });
  }

  /** Sets a new password with the token from the reset e-mail; every session of the account ends. */
  async resetPassword(token: string, password: string): Promise<void> {
    await this.request('/auth/password/reset', { method: 'POST', body: { token, password }, auth: 'none' });
  }

  /** Mails a link that verifies `email` (always succeeds; nothing is sent within the resend cool-down). */
  async requestEmailVerification(email: string, verificationUrl?: string): Promise<void> {
    await this.request('/auth/email/verify/request', {
      method: 'POST',
      body: verificationUrl ? { email, verification_url: verificationUrl } : { email },
      auth: 'none',
    });
  }

  /** Confirms an e-mail address with the token from the verification e-mail. */
  async verifyEmail(token: string): Promise<void> {
    await this.request('/auth/email/verify', { method: 'POST', body: { token }, auth: 'none' });
  }

  /**
   * Deletes the signed-in user's account (with the password when it has one) and signs out. Without a password
   * the server wants a sign-in less than 5 minutes old (`REAUTHENTICATION_REQUIRED`).
   */
  async deleteAccount(password?: string): Promise<void> {
    await this.settled();
    const refreshToken = this.tokens.refresh_token;
    await this.request('/users/me', {
      method: 'DELETE',
      body: password === undefined ? {} : { password },
      checkSessionOnRejection: false,
    });
    await this.end({ reason: 'logout' }, refreshToken);
  }

  /** Sends a sign-in link by e-mail (always succeeds, whether or not the account exists). */
  async sendMagicLink(email: string, options: { redirect?: string; url?: string } = {}): Promise<void> {
    await this.request('/auth/magic-link', { method: 'POST', body: { email, ...options }, auth: 'none' });
  }

  /** Signs in with the token from a magic link; the answer carries the `redirect` given when it was requested. */
  async verifyMagicLink(token: string): Promise<MagicLinkResult> {
    const result = await this.request<MagicLinkResult>('/auth/magic-link/verify', {
      method: 'POST',
      body: { token, mode: this.mode },
      auth: 'none',
    });
    await this.setSession(result);
    return result;
  }

  /**
   * Sends a one-time code to an e-mail address or a verified phone number (`identifier`), over `channel`, to sign
   * in (`purpose: 'login'`) or to confirm the address (`'activate'`). Always succeeds.
   */
  async generateCode(body: CodeGenerateBody): Promise<void> {
    await this.request('/auth/code/generate', { method: 'POST', body, auth: 'none' });
  }

  /** Checks a code without using it up (it counts as one of the code's tries); fails with a registry code. */
  async checkCode(body: CodeCheckBody): Promise<void> {
    await this.request('/auth/code/check', { method: 'POST', body, auth: 'none' });
  }

  /** Uses an activation code: the address it was sent to is confirmed. */
  async activateUser(body: ActivateBody): Promise<void> {
    await this.request('/auth/activate', { method: 'POST', body, auth: 'none' });
  }

  /** Signs in with a sign-in code (`purpose: 'login'`). */
  async signInWithCode(body: { identifier: string; code: string }): Promise<AuthResult> {
    const result = await this.request<AuthResult>('/auth/code/login', {
      method: 'POST',
      body: { ...body, mode: this.mode },
      auth: 'none',
    });
    await this.setSession(result);
    return result;
  }

  /** Mails an e-mail code for the sign-in that an `INVALID_OTP` answer's `mfa_token` stands for. */
  mfaChallenge(mfaToken: string): Promise<MfaChallengeResult> {
    return this.request<MfaChallengeResult>('/auth/mfa/challenge', {
      method: 'POST',
      body: { mfa_token: mfaToken, method: 'email' },
      auth: 'none',
    });
  }

  /** Finishes a sign-in that needed a second factor: a TOTP, e-mail or recovery code. */
  async mfaVerify(mfaToken: string, method: MfaVerifyBody['method'], code: string): Promise<AuthResult> {
    const result = await this.request<AuthResult>('/auth/mfa/verify', {
      method: 'POST',
      body: { mfa_token: mfaToken, method, code, mode: this.mode },
      auth: 'none',
    });
    await this.setSession(result);
    return result;
  }

  /** The caller's second factors. */
  getMfaStatus(): Promise<MfaStatus> {
    return this.request<MfaStatus>('/users/me/mfa');
  }

  /** Starts a TOTP enrolment: a secret, its otpauth URL and a QR code; confirm it with `activateMfaFactor`. */
  enrolTotp(): Promise<TotpEnrolment> {
    return this.request<TotpEnrolment>('/users/me/mfa/totp', { method: 'POST', body: {} });
  }

  /** Starts an e-mail-code enrolment: a code goes to the caller's address. */
  enrolEmailFactor(): Promise<EmailEnrolment> {
    return this.request<EmailEnrolment>('/users/me/mfa/email', { method: 'POST', body: {} });
  }

  /** Confirms a pending factor with one valid code; the first factor answers the recovery codes, once. */
  activateMfaFactor(factorId: string, code: string): Promise<ActivateFactorResult> {
    return this.request<ActivateFactorResult>('/users/me/mfa/activate', {
      method: 'POST',
      body: { factor_id: factorId, code },
    });
  }

  /** The URL that starts an OAuth/OIDC sign-in with `provider`; navigate the browser there. */
  oauth(provider: string, options: { redirect?: string } = {}): string {
    const url = new URL(`${this.url}/auth/login/${encodeURIComponent(provider)}`);
    if (options.redirect) url.searchParams.set('redirect', options.redirect);
    return url.toString();
  }

  /**
   * Finishes an OAuth sign-in once the browser is back from `oauth(...)`'s redirect: the callback left the session
   * in the refresh cookie, which this exchanges for tokens in the client's mode (as the Directus SDK's refresh).
   */
  async completeOAuth(): Promise<AuthResult> {
    const result = await this.request<AuthResult>('/auth/refresh', {
      method: 'POST',
      body: { mode: this.mode },
      auth: 'none',
      credentials: 'include',
    });
    await this.setSession(result);
    return result;
  }

  /** The caller's personal API keys (never the keys themselves). */
  listApiKeys(): Promise<ApiKey[]> {
    return this.request<ApiKey[]>('/users/me/api-keys');
  }

  /**
   * Creates a personal API key; the answer carries the key, shown this once. `scopes` limits it to some of the
   * user's permissions (absent: all of them). Needs a recent sign-in.
   */
  createApiKey(body: CreateApiKeyBody): Promise<CreatedApiKey> {
    return this.request<CreatedApiKey>('/users/me/api-keys', { method: 'POST', body });
  }

  /** Replaces a personal API key with a new one; the old one keeps working `gracePeriod` seconds (default 0). */
  rotateApiKey(id: string, gracePeriod?: number): Promise<CreatedApiKey> {
    return this.request<CreatedApiKey>(`/users/me/api-keys/${encodeURIComponent(id)}/rotate`, {
      method: 'POST',
      body: gracePeriod === undefined ? {} : { grace_period: gracePeriod },
    });
  }

  /** Revokes one of the caller's personal API keys. */
  async deleteApiKey(id: string): Promise<void> {
    await this.request(`/users/me/api-keys/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  /** Exchanges an API key for an access token (Entu-style `GET /api/auth`); the answer is not stored. */
  exchangeApiKey(key: string): Promise<ApiAuthResult> {
    return this.request<ApiAuthResult>('/api/auth', { auth: 'none', headers: { authorization: `Bearer ${key}` } });
  }

  // ---- requests ------------------------------------------------------------------------------------------------

  /**
   * Calls `path` (on Gatehouse, or an absolute URL of a resource server) with the access token, and answers the
   * `data` of the reply (or the whole JSON body when it has no `data`; undefined for 204). Failures throw a
   * `GatehouseError`.
   */
  async fetch<T = unknown>(path: string, options: RequestOptions = {}): Promise<T> {
    return this.request<T>(path, options);
  }

  /** `fetch`, answering the `data` of `{ data }`. */
  async request<T = unknown>(path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.send(path, options);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    if (text === '') return undefined as T;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (cause) {
      throw new GatehouseError('UNEXPECTED_RESPONSE', 0, 'The answer is not JSON.', { cause });
    }
    if (body !== null && typeof body === 'object' && 'data' in body) return (body as { data: T }).data;
    return body as T;
  }

  /** Sends a request with the session's credential and answers the raw successful Response. */
  async send(path: string, options: RequestOptions = {}): Promise<Response> {
    await this.loaded;
    const withAuth = options.auth !== 'none';
    let token = withAuth ? await this.tokenForRequest() : null;
    const generation = this.generation;
    let response = await this.call(path, options, token);
    if (response.ok) return response;
    let error = await errorFromResponse(response);
    const retry =
      withAuth &&
      this.isSignedIn &&
      response.status === 401 &&
      (error.code === 'TOKEN_EXPIRED' ||
        (error.code === 'INVALID_CREDENTIALS' && options.checkSessionOnRejection !== false));
    if (!retry) throw error;
    // When a refresh finished while this request was in flight, just try again with its result.
    if (this.generation === generation) await this.refresh();
    token = this.tokens.access_token;
    response = await this.call(path, options, token);
    if (response.ok) return response;
    error = await errorFromResponse(response);
    throw error;
  }

  /** Stops the refresh timer and leaves the cross-tab channel. */
  close(): void {
    this.clearTimer();
    this.tabs?.close();
  }

  // ---- internals -----------------------------------------------------------------------------------------------

  /** Waits for the stored session and any refresh in flight, so a sign-out is not undone by a late refresh. */
  private async settled(): Promise<void> {
    await this.loaded;
    await this.inflight?.catch(() => undefined);
  }

  private async call(path: string, options: RequestOptions, token: string | null): Promise<Response> {
    const url = new URL(/^https?:\/\//.test(path) ? path : `${this.url}${path.startsWith('/') ? '' : '/'}${path}`);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    // The publishable key names the project to Gatehouse; other servers have no use for it.
    if (this.options.publishableKey && url.href.startsWith(`${this.url}/`)) {
      headers['x-api-key'] = this.options.publishableKey;
    }
    const init: RequestInit = { method: options.method ?? 'GET', headers };
    if (options.body !== undefined) init.body = JSON.stringify(options.body);
    if (options.credentials) init.credentials = options.credentials;
    else if (this.mode !== 'json') init.credentials = 'include';
    if (options.signal) init.signal = options.signal;
    try {
      return await this.fetchImpl(url, init);
    } catch (cause) {
      if (options.signal?.aborted) throw cause;
      throw new GatehouseError('NETWORK_ERROR', 0, `Could not reach ${url.origin}.`, { cause });
    }
  }

  private async tokenForRequest(): Promise<string | null> {
    if (this.needsRefresh()) {
      try {
        await this.refresh();
      } catch (error) {
        // A transient failure (network, 429, 503) leaves a still-valid token usable; an ended session does not.
        if (!this.isSignedIn) throw error;
      }
    }
    return this.tokens.access_token;
  }

  private needsRefresh(): boolean {
    const { access_token, refresh_token, expires, expires_at } = this.tokens;
    if (!this.isSignedIn) return false;
    if (this.mode === 'json' && refresh_token === null) return false;
    if (this.mode !== 'session' && access_token === null) return true;
    if (expires_at === null) return false;
    return expires_at - this.margin(expires) <= this.now();
  }

  private margin(expires: number | null): number {
    const before = this.options.refreshBefore ?? 30_000;
    return expires === null ? before : Math.min(before, expires / 4);
  }

  private async load(initialRefreshToken: string | undefined): Promise<void> {
    const stored = await this.storage.get();
    if (initialRefreshToken && stored?.refresh_token !== initialRefreshToken) {
      this.tokens = { ...EMPTY, refresh_token: initialRefreshToken };
      await this.storage.set(this.tokens);
    } else if (stored) {
      this.tokens = { ...EMPTY, ...stored };
    }
    this.schedule();
  }

  /** Refreshes once across tabs: under the lock, first look whether another tab already did. */
  private async refreshAcrossTabs(): Promise<void> {
    await this.loaded;
    const before = this.tokens.refresh_token;
    const beforeAccess = this.tokens.access_token;
    if (!this.tabs) return this.refreshNow(before);
    return this.tabs.exclusive(async () => {
      const stored = await this.storage.get();
      if (stored && stored.refresh_token !== before && stored.refresh_token !== null) {
        const held = sessionOf(this.tokens.access_token);
        const found = sessionOf(stored.access_token ?? null);
        this.generation++;
        this.tokens = { ...EMPTY, ...stored };
        this.schedule();
        // Not a rotation: another tab signed in anew (one session per origin), perhaps as someone else. This tab
        // now holds that session and says so, rather than carrying on as the user it showed.
        if (held !== null && found !== null && held !== found) this.emit('signedIn', { expires: stored.expires ?? 0 });
      }
      const rotatedMeanwhile =
        this.mode === 'json' ? this.tokens.refresh_token !== before : this.tokens.access_token !== beforeAccess;
      if (rotatedMeanwhile && this.isSignedIn && !this.needsRefresh()) return;
      if (!this.isSignedIn && before !== null) return;
      this.tabs?.post({ type: 'refreshing' });
      try {
        return await this.refreshNow(this.tokens.refresh_token);
      } finally {
        // Also after `rotated` or `signed-out`, which tabs have then already taken as the outcome.
        this.tabs?.post({ type: 'settled' });
      }
    });
  }

  private async refreshNow(refreshToken: string | null): Promise<void> {
    if (this.mode === 'json' && refreshToken === null) {
      throw new GatehouseError('INVALID_CREDENTIALS', 401, 'Not signed in.');
    }
    const body = this.mode === 'json' ? { refresh_token: refreshToken, mode: 'json' } : { mode: this.mode };
    const generation = this.generation;
    const response = await this.call('/auth/refresh', { method: 'POST', body }, null);
    // While the answer travelled, the client signed in anew, signed out, or took another tab's tokens: the
    // answer belongs to a session it no longer holds.
    const superseded = this.generation !== generation;
    if (!response.ok) {
      const error = await errorFromResponse(response);
      if (TERMINAL_REFRESH_STATUSES.has(response.status) && !superseded) {
        await this.end({ reason: error.code === 'TOKEN_EXPIRED' ? 'expired' : 'revoked', error }, refreshToken);
      }
      throw error;
    }
    const { data } = (await response.json()) as { data: AuthResult };
    if (superseded) return;
    await this.accept(data);
    this.tabs?.post({ type: 'rotated', previous: refreshToken, tokens: this.tokens });
    this.emit('refreshed', { expires: data.expires });
  }

  private async accept(result: AuthResult): Promise<void> {
    this.generation++;
    const previous = this.tokens.refresh_token;
    this.tokens = {
      access_token: result.access_token ?? null,
      refresh_token: this.mode === 'json' ? (result.refresh_token ?? null) : null,
      expires: result.expires,
      expires_at: this.now() + result.expires,
    };
    await this.storage.set(this.tokens);
    if (this.mode === 'json' && this.tokens.refresh_token !== previous) {
      await this.options.saveFunction?.(this.tokens.refresh_token);
    }
    this.schedule();
  }

  /** Forgets the session and says so once; tells the other tabs sharing it. */
  private async end(event: SignedOutEvent, refreshToken: string | null, options: { broadcast?: boolean } = {}) {
    const wasSignedIn = this.isSignedIn;
    this.generation++;
    this.tokens = EMPTY;
    this.clearTimer();
    await this.storage.set(null);
    if (this.mode === 'json' && wasSignedIn) await this.options.saveFunction?.(null);
    if (options.broadcast !== false) this.tabs?.post({ type: 'signed-out', previous: refreshToken });
    if (wasSignedIn) this.emit('signedOut', event);
  }

  /** Another tab rotated or ended the session: take it over if it is the one this tab holds. */
  private fromOtherTab(message: TabMessage): void {
    if (message.type !== 'rotated' && message.type !== 'signed-out') return;
    const same = this.mode !== 'json' || (message.previous !== null && message.previous === this.tokens.refresh_token);
    if (!same || !this.isSignedIn) return;
    if (message.type === 'signed-out') {
      void this.end({ reason: 'remote' }, message.previous, { broadcast: false });
      return;
    }
    const previous = this.tokens.refresh_token;
    this.generation++;
    this.tokens = { ...message.tokens };
    void Promise.resolve(this.storage.set(this.tokens)).then(() => {
      if (this.mode === 'json' && this.tokens.refresh_token !== previous) {
        return this.options.saveFunction?.(this.tokens.refresh_token);
      }
    });
    this.schedule();
    this.emit('refreshed', { expires: message.tokens.expires ?? 0 });
  }

  private schedule(): void {
    this.clearTimer();
    if (this.options.autoRefresh === false || !this.isSignedIn) return;
    const { expires, expires_at, refresh_token } = this.tokens;
    if (expires_at === null || (this.mode === 'json' && refresh_token === null)) return;
    const delay = Math.max(0, expires_at - this.margin(expires) - this.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.refresh().catch(() => {
        // Failures surface as `signedOut` (session over) or on the next request (transient).
      });
    }, delay);
    (this.timer as { unref?(): void }).unref?.();
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private emit<E extends keyof ClientEvents>(event: E, payload: ClientEvents[E]): void {
    for (const listener of this.listeners[event]) {
      try {
        listener(payload);
      } catch {
        // A listener's failure must not break the session handling.
      }
    }
  }
}

/** The session id (`sid`) of an access token, read without verifying it: only to tell two sessions apart. */
function sessionOf(token: string | null): string | null {
  const payload = token?.split('.')[1];
  if (!payload) return null;
  try {
    const sid = (JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { sid?: unknown }).sid;
    return typeof sid === 'string' ? sid : null;
  } catch {
    return null;
  }
}

/** Creates a Gatehouse client. */
export function createClient(options: ClientOptions): GatehouseClient {
  return new GatehouseClient(options);
}
