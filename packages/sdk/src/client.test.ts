import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBrowserFetch } from '../../server/src/testing/cookie-jar.js';
import { TEST_PASSWORD } from '../../server/src/testing/test-server.js';
import { type ClientOptions, createClient, type GatehouseClient } from './client.js';
import { type AnyGatehouseError, GatehouseError, isGatehouseError } from './errors.js';
import { localStorageAdapter } from './storage.js';
import { countingFetch, sharedWebStorage } from './testing/helpers.js';
import { type LiveServer, startLiveServer } from './testing/live-server.js';

/**
 * The client against a real Gatehouse listening on 127.0.0.1, over the real `fetch`: every call the server
 * offers today, the three modes, rotation across a reload, refresh under concurrency and a revoked session.
 */
let live: LiveServer;
/** Every token a test received, to prove at the end that the server logged none of them. */
const secrets = new Set<string>();
const clients: GatehouseClient[] = [];
let counter = 0;

beforeAll(async () => {
  live = await startLiveServer();
});
afterAll(async () => {
  for (const client of clients) client.close();
  const logs = live.server.logs();
  const { db } = live.server.database;
  const stored = JSON.stringify([
    await db.selectFrom('sessions').selectAll().execute(),
    await db.selectFrom('refresh_tokens').selectAll().execute(),
    await db.selectFrom('audit_events').selectAll().execute(),
  ]);
  expect(secrets.size).toBeGreaterThan(10);
  for (const secret of secrets) {
    expect(logs).not.toContain(secret);
    expect(stored).not.toContain(secret);
  }
  await live.close();
});

function client(options: Partial<ClientOptions> = {}): GatehouseClient {
  const created = createClient({ url: live.url, crossTab: false, ...options });
  created.on('signedIn', () => undefined);
  clients.push(created);
  return created;
}

async function account(): Promise<string> {
  const email = `sdk-${++counter}-${Date.now()}@example.com`;
  await client().signUp({ email, password: TEST_PASSWORD });
  return email;
}

async function signedIn(options: Partial<ClientOptions> = {}) {
  const email = await account();
  const saved: (string | null)[] = [];
  const counting = countingFetch(options.fetch);
  const signedOut: string[] = [];
  const sdk = client({
    saveFunction: (token) => {
      if (token) secrets.add(token);
      saved.push(token);
    },
    ...options,
    fetch: counting.fetch,
  });
  sdk.on('signedOut', (event) => signedOut.push(event.reason));
  const result = await sdk.auth({ email, password: TEST_PASSWORD });
  if (result.access_token) secrets.add(result.access_token);
  return { sdk, email, saved, calls: counting, signedOut, result };
}

describe('sign-up, sign-in and the account', () => {
  it('signs up, signs in, reads and updates the profile, lists sessions and providers', async () => {
    const { sdk, email, result } = await signedIn();
    expect(result).toMatchObject({ access_token: expect.any(String), refresh_token: expect.any(String) });
    expect(result.expires).toBe(15 * 60_000);

    const me = await sdk.getProfile();
    expect(me).toMatchObject({ email, role: 'user', status: 'active', first_name: null });
    const updated = await sdk.updateProfile({ first_name: 'Ada', language: 'en-GB' });
    expect(updated).toMatchObject({ first_name: 'Ada', language: 'en-GB' });
    expect(await sdk.fetch<{ first_name: string }>('/users/me')).toMatchObject({ first_name: 'Ada' });

    const second = client();
    await second.login({ email, password: TEST_PASSWORD });
    const sessions = await sdk.getActiveSessions();
    expect(sessions).toHaveLength(2);
    expect(sessions.filter((session) => session.current)).toHaveLength(1);
    expect(sessions.every((session) => session.mode === 'json')).toBe(true);

    expect(await sdk.getAuthProviders()).toEqual({ data: [], disableDefault: false });
  });

  it('types errors by registry code, with status and message', async () => {
    const email = await account();
    const sdk = client();
    const wrong = await sdk.auth({ email, password: 'not the password' }).catch((error: unknown) => error);
    expect(wrong).toBeInstanceOf(GatehouseError);
    expect(wrong).toMatchObject({ code: 'INVALID_CREDENTIALS', status: 401, message: 'Invalid user credentials.' });

    const invalid = await sdk.signUp({ email: 'not-an-email', password: TEST_PASSWORD }).catch((e: unknown) => e);
    expect(isGatehouseError(invalid, 'INVALID_PAYLOAD')).toBe(true);
    // The union narrows `status` to the registry's number for the code.
    const error = invalid as AnyGatehouseError;
    if (error.code === 'INVALID_PAYLOAD') {
      const status: 400 = error.status;
      expect(status).toBe(400);
    }

    const anonymous = await sdk.getProfile().catch((e: unknown) => e);
    expect(anonymous).toMatchObject({ code: 'INVALID_CREDENTIALS', status: 401 });
    const missing = await sdk.fetch('/no/such/route').catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 'ROUTE_NOT_FOUND', status: 404 });

    const offline = await createClient({ url: 'http://127.0.0.1:9', crossTab: false })
      .getProfile()
      .catch((e: unknown) => e);
    expect(offline).toMatchObject({ code: 'NETWORK_ERROR', status: 0 });
  });

  it('ends one session by id, and every session with logoutAll', async () => {
    const { sdk, email } = await signedIn();
    const other = client();
    const otherOut: string[] = [];
    other.on('signedOut', (event) => otherOut.push(event.reason));
    await other.login({ email, password: TEST_PASSWORD });
    const sessions = await sdk.getActiveSessions();
    const foreign = sessions.find((session) => !session.current);
    expect(foreign).toBeDefined();
    await sdk.revokeSession(foreign?.id ?? '');
    expect(await sdk.getActiveSessions()).toHaveLength(1);
    await expect(other.getProfile()).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
    expect(otherOut).toEqual(['revoked']);

    const third = client();
    await third.login({ email, password: TEST_PASSWORD });
    await sdk.logoutAll();
    expect(sdk.isSignedIn).toBe(false);
    await expect(third.getProfile()).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
  });

  it('a logout during a refresh is not undone by it', async () => {
    // The refresh answer comes back late: after the rotation happened on the server, while logout runs.
    const lateAnswers: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (String(input).endsWith('/auth/refresh')) await new Promise((resolve) => setTimeout(resolve, 200));
      return response;
    };
    const { sdk, signedOut } = await signedIn({ fetch: lateAnswers });
    const refreshing = sdk.refresh();
    await sdk.logout();
    await refreshing;
    expect(sdk.isSignedIn).toBe(false);
    await expect(sdk.getProfile()).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
    expect(signedOut).toEqual(['logout']);
  });

  it('a sign-in during a refresh keeps the new session, not the late answer for the old one', async () => {
    const lateAnswers: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (String(input).endsWith('/auth/refresh')) await new Promise((resolve) => setTimeout(resolve, 200));
      return response;
    };
    const { sdk, email } = await signedIn({ fetch: lateAnswers });
    const refreshing = sdk.refresh();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const fresh = await sdk.auth({ email, password: TEST_PASSWORD });
    await refreshing;
    expect(await sdk.getAccessToken()).toBe(fresh.access_token);
  });

  it('logs out: the server forgets the refresh token, saveFunction gets null, signedOut fires once', async () => {
    const { sdk, saved, signedOut, result } = await signedIn();
    await sdk.logout();
    expect(saved.at(-1)).toBeNull();
    expect(signedOut).toEqual(['logout']);
    const reuse = client({ refreshToken: result.refresh_token });
    await expect(reuse.refresh()).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
    await expect(sdk.getProfile()).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
    expect(signedOut).toEqual(['logout']);
  });
});

describe('refresh', () => {
  it('rotates the refresh token and survives a reload through saveFunction', async () => {
    const { sdk, saved, result } = await signedIn();
    expect(saved).toEqual([result.refresh_token]);
    await sdk.refresh();
    await sdk.refresh();
    expect(saved).toHaveLength(3);
    expect(new Set(saved).size).toBe(3);
    const latest = saved.at(-1) ?? '';

    // A reload: a new client with only what saveFunction kept.
    sdk.close();
    const afterReload: (string | null)[] = [];
    const reloaded = client({
      refreshToken: latest,
      saveFunction: (token) => {
        if (token) secrets.add(token);
        afterReload.push(token);
      },
    });
    expect(reloaded.isSignedIn).toBe(true);
    expect(await reloaded.getProfile()).toMatchObject({ email: expect.any(String) });
    expect(afterReload).toHaveLength(1);
    expect(afterReload[0]).not.toBe(latest);
  });

  it('makes exactly one refresh call for 50 parallel calls near expiry', async () => {
    let skew = 0;
    const { sdk, calls } = await signedIn({ now: () => Date.now() + skew });
    const before = await sdk.getAccessToken();
    skew = 15 * 60_000 - 10_000; // 10 s before the access token expires: inside the refresh margin
    const profiles = await Promise.all(Array.from({ length: 50 }, () => sdk.getProfile()));
    expect(profiles).toHaveLength(50);
    expect(calls.count('/auth/refresh')).toBe(1);
    expect(calls.count('/users/me')).toBe(50);
    expect(await sdk.getAccessToken()).not.toBe(before);
  });

  it('refreshes once on 401 TOKEN_EXPIRED, even for parallel calls, and retries them', async () => {
    const { sdk, calls } = await signedIn();
    live.server.clock.advance(16 * 60_000); // the server says the access token has expired; the client cannot know
    try {
      const profiles = await Promise.all(Array.from({ length: 20 }, () => sdk.getProfile()));
      expect(profiles).toHaveLength(20);
      expect(calls.count('/auth/refresh')).toBe(1);
      expect(calls.count('/users/me')).toBe(40);
      expect(await sdk.getProfile()).toMatchObject({ status: 'active' });
      expect(calls.count('/auth/refresh')).toBe(1);
    } finally {
      live.server.clock.advance(-16 * 60_000);
    }
  });

  it('refreshes by itself before the access token expires', async () => {
    // A server whose access tokens live 2 s: the margin is a quarter of the lifetime, so the timer fires at 1.5 s.
    const quick = await startLiveServer({ GATEHOUSE_ACCESS_TOKEN_TTL: '2s' });
    try {
      const email = `timer-${Date.now()}@example.com`;
      let refreshSentAt = 0;
      const counting = countingFetch((input, init) => {
        if (String(input).endsWith('/auth/refresh')) refreshSentAt = Date.now();
        return fetch(input, init);
      });
      const sdk = createClient({ url: quick.url, crossTab: false, fetch: counting.fetch });
      clients.push(sdk);
      await sdk.signUp({ email, password: TEST_PASSWORD });
      const started = Date.now();
      const result = await sdk.auth({ email, password: TEST_PASSWORD });
      expect(result.expires).toBe(2_000);
      await new Promise<void>((resolve) => sdk.on('refreshed', () => resolve()));
      // The refresh went out about 1.5 s after sign-in: before the 2 s token expired, not at once.
      expect(refreshSentAt - started).toBeGreaterThanOrEqual(1_400);
      expect(refreshSentAt - started).toBeLessThan(2_000);
      expect(counting.count('/auth/refresh')).toBe(1);
      expect(await sdk.getAccessToken()).not.toBe(result.access_token);
      sdk.close();
    } finally {
      await quick.close();
    }
  });

  it('ends a revoked session with one signedOut event and no refresh loop', async () => {
    const { sdk, email, calls, signedOut, saved } = await signedIn();
    const admin = client();
    await admin.login({ email, password: TEST_PASSWORD });
    const current = (await sdk.getActiveSessions()).find((session) => session.current);
    await admin.revokeSession(current?.id ?? '');

    const first = await sdk.getProfile().catch((error: unknown) => error);
    expect(first).toMatchObject({ code: 'INVALID_CREDENTIALS', status: 401 });
    expect(signedOut).toEqual(['revoked']);
    expect(saved.at(-1)).toBeNull();
    expect(sdk.isSignedIn).toBe(false);
    for (let i = 0; i < 5; i++) await expect(sdk.getProfile()).rejects.toBeInstanceOf(GatehouseError);
    expect(calls.count('/auth/refresh')).toBe(1);
    expect(signedOut).toEqual(['revoked']);
  });

  it('a session past its lifetime ends with signedOut reason expired', async () => {
    const { sdk, calls, signedOut } = await signedIn();
    live.server.clock.advance(8 * 24 * 3_600_000); // past the 7-day refresh token
    try {
      await expect(sdk.getProfile()).rejects.toMatchObject({ code: 'TOKEN_EXPIRED', status: 401 });
      expect(signedOut).toEqual(['expired']);
      expect(calls.count('/auth/refresh')).toBe(1);
      await expect(sdk.getProfile()).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
      expect(calls.count('/auth/refresh')).toBe(1);
    } finally {
      live.server.clock.advance(-8 * 24 * 3_600_000);
    }
  });

  it('a suspended account ends the session the same way, once', async () => {
    const { sdk, calls, signedOut } = await signedIn();
    const me = await sdk.getProfile();
    const admin = await live.server.admin();
    const suspended = await fetch(`${live.url}/users/${me.id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${admin.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'suspended' }),
    });
    expect(suspended.status).toBe(200);
    const error = await sdk.getProfile().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatehouseError);
    expect((error as GatehouseError).status).toBe(401);
    expect(signedOut).toEqual(['revoked']);
    await expect(sdk.updateProfile({ title: 'x' })).rejects.toBeInstanceOf(GatehouseError);
    expect(calls.count('/auth/refresh')).toBe(1);
  });

  it('refreshes on 401 TOKEN_EXPIRED in cookie mode too', async () => {
    const browser = createBrowserFetch(live.url);
    const { sdk, calls } = await signedIn({ mode: 'cookie', fetch: browser.fetch });
    live.server.clock.advance(16 * 60_000);
    try {
      expect(await sdk.getProfile()).toMatchObject({ status: 'active' });
      expect(calls.count('/auth/refresh')).toBe(1);
    } finally {
      live.server.clock.advance(-16 * 60_000);
    }
  });
});

describe('cookie and session modes', () => {
  it('cookie mode: the refresh token stays in an HttpOnly cookie, never in JS, and survives a reload', async () => {
    const browser = createBrowserFetch(live.url);
    const { sdk, saved, result } = await signedIn({ mode: 'cookie', fetch: browser.fetch });
    expect(result.refresh_token).toBeUndefined();
    expect(saved).toEqual([]);
    expect(browser.cookies.has('gatehouse_refresh_token')).toBe(true);
    expect(await sdk.getProfile()).toMatchObject({ status: 'active' });
    const before = await sdk.getAccessToken();
    await sdk.refresh();
    expect(await sdk.getAccessToken()).not.toBe(before);

    const reloaded = client({ mode: 'cookie', fetch: browser.fetch });
    await reloaded.refresh();
    expect(await reloaded.getProfile()).toMatchObject({ status: 'active' });
    await reloaded.logout();
    expect(browser.cookies.has('gatehouse_refresh_token')).toBe(false);
    await expect(client({ mode: 'cookie', fetch: browser.fetch }).refresh()).rejects.toMatchObject({
      code: 'INVALID_PAYLOAD',
    });
  });

  it('session mode: no token in JS, the session cookie carries every call', async () => {
    const browser = createBrowserFetch(live.url);
    const { sdk, result } = await signedIn({ mode: 'session', fetch: browser.fetch });
    expect(result).toEqual({ expires: expect.any(Number) });
    expect(await sdk.getAccessToken()).toBeNull();
    expect(browser.cookies.has('gatehouse_session_token')).toBe(true);
    expect(await sdk.updateProfile({ title: 'Engineer' })).toMatchObject({ title: 'Engineer' });
    await sdk.refresh();
    expect(await sdk.getProfile()).toMatchObject({ title: 'Engineer' });
    await sdk.logout();
    expect(browser.cookies.has('gatehouse_session_token')).toBe(false);
    await expect(sdk.getProfile()).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
  });
});

describe('storage', () => {
  it('keeps tokens in a Web Storage, so a new client on the same storage is signed in', async () => {
    const web = sharedWebStorage();
    const { sdk } = await signedIn({ storage: localStorageAdapter('gh', web) });
    expect(JSON.parse(web.items.get('gh') ?? '{}')).toMatchObject({ access_token: await sdk.getAccessToken() });
    const next = client({ storage: localStorageAdapter('gh', web) });
    expect(await next.getProfile()).toMatchObject({ status: 'active' });
    await next.logout();
    expect(web.items.has('gh')).toBe(false);
  });
});
