import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBrowserFetch } from '../../server/src/testing/cookie-jar.js';
import { startOidcProvider, type TestOidcProvider } from '../../server/src/testing/oidc-server.js';
import { type ClientOptions, createClient, type GatehouseClient } from './client.js';
import { errorFromResponse, GatehouseError } from './errors.js';
import { freePort, type LiveServer, startLiveServer } from './testing/live-server.js';

/**
 * `oauth` and `completeOAuth` against a real Gatehouse on 127.0.0.1 and a real OpenID provider (oidc-provider,
 * code flow with PKCE): the browser is played with the real `fetch` and a cookie jar per site, following every
 * redirect by hand, from the URL the SDK builds to the application's page, where the SDK finishes the sign-in.
 */

const APP_ORIGIN = 'https://app.example.com';
const APP = `${APP_ORIGIN}/signed-in`;
const REFRESH = 'gatehouse_refresh_token';
const FLOW = 'gatehouse_oauth_flow';

let oidc: TestOidcProvider;
let live: LiveServer;
let accountCounter = 0;
const clients: GatehouseClient[] = [];
/** Every secret the tests saw: none may end up in the logs or the database. */
const secrets = new Set<string>();

beforeAll(async () => {
  // The provider must know Gatehouse's callback before Gatehouse (which needs the provider's issuer) starts.
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  oidc = await startOidcProvider([
    {
      client_id: 'gatehouse',
      client_secret: 'sdk-oidc-client-secret-3e8a41',
      redirect_uris: ['corp', 'corpjson', 'corpsession', 'off'].map(
        (name) => `${publicUrl}/auth/login/${name}/callback`,
      ),
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    },
  ]);
  const provider = (name: string, extra: Record<string, string> = {}) => ({
    [`GATEHOUSE_OAUTH_${name}_DRIVER`]: 'oidc',
    [`GATEHOUSE_OAUTH_${name}_ISSUER`]: oidc.issuer,
    [`GATEHOUSE_OAUTH_${name}_CLIENT_ID`]: 'gatehouse',
    [`GATEHOUSE_OAUTH_${name}_CLIENT_SECRET`]: 'sdk-oidc-client-secret-3e8a41',
    ...Object.fromEntries(Object.entries(extra).map(([key, value]) => [`GATEHOUSE_OAUTH_${name}_${key}`, value])),
  });
  live = await startLiveServer(
    {
      GATEHOUSE_REDIRECT_ALLOW_LIST: APP,
      GATEHOUSE_TRUSTED_ORIGINS: APP_ORIGIN,
      ...provider('CORP', { LABEL: 'Corp SSO' }),
      ...provider('CORPJSON', { MODE: 'json' }),
      ...provider('CORPSESSION', { MODE: 'session' }),
      ...provider('OFF', { ENABLED: 'false' }),
    },
    {},
    port,
  );
});

afterAll(async () => {
  for (const client of clients) client.close();
  const logs = live.server.logs();
  const { db } = live.server.database;
  const stored = JSON.stringify([
    await db.selectFrom('sessions').selectAll().execute(),
    await db.selectFrom('refresh_tokens').selectAll().execute(),
    await db.selectFrom('audit_events').selectAll().execute(),
    await db.selectFrom('oauth_flows').selectAll().execute(),
  ]);
  expect(secrets.size).toBeGreaterThan(5);
  for (const secret of secrets) {
    expect(logs).not.toContain(secret);
    expect(stored).not.toContain(secret);
  }
  await live?.close();
  await oidc?.close();
});

function client(options: Partial<ClientOptions> = {}): GatehouseClient {
  const created = createClient({ url: live.url, crossTab: false, ...options });
  clients.push(created);
  return created;
}

/** A fresh account at the OpenID provider; its next interaction signs in as it. */
function providerAccount(emailVerified = true): string {
  const sub = `sdk-acct-${++accountCounter}-${Date.now()}`;
  const email = `${sub}@corp.example`;
  oidc.accounts.set(sub, { email, email_verified: emailVerified, given_name: 'Ada', family_name: 'Lovelace' });
  oidc.signInAs(sub);
  return email;
}

/**
 * The application's page calling Gatehouse on another origin: as in a browser, cookies go and are kept only for
 * requests made with `credentials: 'include'`.
 */
function fromPage(jar: ReturnType<typeof createBrowserFetch>): typeof fetch {
  return (input, init = {}) => {
    if (init.credentials === 'include') return jar.fetch(input, init);
    const headers = new Headers(init.headers);
    headers.set('origin', APP_ORIGIN);
    return fetch(input, { ...init, headers });
  };
}

/** A browser: one cookie jar for Gatehouse (with the application's Origin), one for the provider. */
function browser() {
  const gatehouse = createBrowserFetch(APP_ORIGIN);
  const provider = createBrowserFetch(APP_ORIGIN);
  /**
   * Opens `start` and follows the redirects through the provider back to Gatehouse's callback; answers where
   * the callback sends the browser in the end.
   */
  async function follow(start: string): Promise<string> {
    let url = start;
    for (let step = 0; step < 25; step++) {
      const onGatehouse = url.startsWith(`${live.url}/`);
      const response = await (onGatehouse ? gatehouse : provider).fetch(url, { redirect: 'manual' });
      const next = response.headers.get('location');
      if (!next) throw new Error(`the browser stopped at ${url}: ${response.status} ${await response.text()}`);
      const resolved = new URL(next, url).toString();
      const code = new URL(resolved).searchParams.get('code');
      if (code) secrets.add(code);
      if (!resolved.startsWith(`${live.url}/`) && !resolved.startsWith(oidc.issuer)) return resolved;
      url = resolved;
    }
    throw new Error('too many redirects');
  }
  return { gatehouse, provider, follow };
}

describe('oauth and completeOAuth', () => {
  it('signs in with the provider: a new account from the verified e-mail, then tokens in cookie mode', async () => {
    const email = providerAccount();
    const start = client().oauth('corp', { redirect: APP });
    expect(new URL(start).pathname).toBe('/auth/login/corp');
    expect(new URL(start).searchParams.get('redirect')).toBe(APP);

    const page = browser();
    const landed = await page.follow(start);
    expect(landed).toBe(APP);
    expect(page.gatehouse.cookies.get(FLOW)).toBeUndefined();
    const cookie = page.gatehouse.cookies.get(REFRESH);
    expect(cookie?.value).toEqual(expect.any(String));
    secrets.add(cookie?.value ?? '');
    // The provider never saw Gatehouse's cookies.
    expect(page.provider.cookies.has(REFRESH)).toBe(false);

    // Back on the application's page: a fresh client (a page load) whose fetch carries the browser's cookies.
    const signedIn: string[] = [];
    const sdk = client({ mode: 'cookie', fetch: fromPage(page.gatehouse) });
    sdk.on('signedIn', () => signedIn.push('signedIn'));
    expect(sdk.isSignedIn).toBe(false);
    const result = await sdk.completeOAuth();
    expect(result).toEqual({ access_token: expect.any(String), expires: 15 * 60_000 });
    secrets.add(result.access_token ?? '');
    expect(signedIn).toEqual(['signedIn']);
    expect(sdk.isSignedIn).toBe(true);
    expect(await sdk.getAccessToken()).toBe(result.access_token);
    // The refresh token rotated and stays in the HttpOnly cookie.
    expect(page.gatehouse.cookies.get(REFRESH)?.value).not.toBe(cookie?.value);
    secrets.add(page.gatehouse.cookies.get(REFRESH)?.value ?? '');

    const me = await sdk.getProfile();
    expect(me).toMatchObject({ email, first_name: 'Ada', last_name: 'Lovelace', status: 'active', provider: 'corp' });
    const sessions = await sdk.getActiveSessions();
    expect(sessions.filter((session) => session.current)).toHaveLength(1);

    await sdk.logout();
    expect(page.gatehouse.cookies.has(REFRESH)).toBe(false);
    await expect(sdk.getProfile()).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS', status: 401 });
    // The session is over: the cookie the callback set no longer signs anyone in.
    const stale = createBrowserFetch(APP_ORIGIN);
    stale.cookies.set(REFRESH, { value: cookie?.value ?? '', path: '/' });
    const error = await client({ mode: 'cookie', fetch: fromPage(stale) })
      .completeOAuth()
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(GatehouseError);
    expect(error).toMatchObject({ code: 'INVALID_CREDENTIALS', status: 401 });
  });

  it('json mode: completeOAuth takes both tokens from the cookie, and the second sign-in finds the account', async () => {
    const email = providerAccount();
    const first = browser();
    expect(await first.follow(client().oauth('corpjson', { redirect: APP }))).toBe(APP);
    const firstClient = client({ mode: 'json', fetch: fromPage(first.gatehouse) });
    await firstClient.completeOAuth();
    const id = (await firstClient.getProfile()).id;

    const page = browser();
    expect(await page.follow(client().oauth('corpjson', { redirect: APP }))).toBe(APP);
    const saved: (string | null)[] = [];
    const sdk = client({
      mode: 'json',
      fetch: fromPage(page.gatehouse),
      saveFunction: (token) => {
        if (token) secrets.add(token);
        saved.push(token);
      },
    });
    const result = await sdk.completeOAuth();
    expect(result).toEqual({
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      expires: 15 * 60_000,
    });
    secrets.add(result.access_token ?? '');
    expect(saved).toEqual([result.refresh_token]);
    expect(await sdk.getProfile()).toMatchObject({ id, email });
    // The client holds the refresh token itself now: a refresh works without the browser's cookies.
    const detached = client({ mode: 'json', refreshToken: result.refresh_token ?? '' });
    await detached.refresh();
    expect(await detached.getProfile()).toMatchObject({ id, email });
  });

  it('session mode: a session-mode provider leaves the session cookie, which only a session-mode client takes', async () => {
    const email = providerAccount();
    const page = browser();
    expect(await page.follow(client().oauth('corpsession', { redirect: APP }))).toBe(APP);
    expect(page.gatehouse.cookies.has(REFRESH)).toBe(false);
    secrets.add(page.gatehouse.cookies.get('gatehouse_session_token')?.value ?? '');

    // A json-mode client finds no refresh cookie to exchange.
    await expect(client({ mode: 'json', fetch: fromPage(page.gatehouse) }).completeOAuth()).rejects.toMatchObject({
      code: 'INVALID_PAYLOAD',
      status: 400,
    });
    const sdk = client({ mode: 'session', fetch: fromPage(page.gatehouse) });
    expect(await sdk.completeOAuth()).toEqual({ expires: expect.any(Number) });
    expect(sdk.isSignedIn).toBe(true);
    expect(await sdk.getAccessToken()).toBeNull();
    expect(await sdk.getProfile()).toMatchObject({ email, provider: 'corpsession' });
    secrets.add(page.gatehouse.cookies.get('gatehouse_session_token')?.value ?? '');
  });

  it('a failed provider sign-in lands on the redirect with a reason, and completeOAuth answers a typed error', async () => {
    providerAccount(false);
    const page = browser();
    const landed = new URL(await page.follow(client().oauth('corp', { redirect: APP })));
    expect(`${landed.origin}${landed.pathname}`).toBe(APP);
    expect(landed.searchParams.get('reason')).toBe('OAUTH_EMAIL_NOT_VERIFIED');
    expect(page.gatehouse.cookies.has(REFRESH)).toBe(false);

    const sdk = client({ mode: 'cookie', fetch: fromPage(page.gatehouse) });
    const error = await sdk.completeOAuth().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(GatehouseError);
    expect(error).toMatchObject({ code: 'INVALID_PAYLOAD', status: 400 });
    expect(sdk.isSignedIn).toBe(false);
  });

  it('an unknown or disabled provider: oauth only builds the URL; opening it answers RECORD_NOT_FOUND', async () => {
    const sdk = client();
    const providers = await sdk.getAuthProviders();
    expect(providers.data.map((provider) => provider.name).sort()).toEqual(['corp', 'corpjson', 'corpsession']);

    for (const name of ['nope', 'off']) {
      const url = sdk.oauth(name, { redirect: APP });
      expect(url).toBe(`${live.url}/auth/login/${name}?redirect=${encodeURIComponent(APP)}`);
      // The SDK makes no request here: the browser opens the URL and gets the server's error answer.
      const response = await fetch(url, { redirect: 'manual' });
      expect(response.status).toBe(404);
      expect(response.headers.getSetCookie()).toEqual([]);
      const error = await errorFromResponse(response);
      expect(error).toBeInstanceOf(GatehouseError);
      expect(error).toMatchObject({ code: 'RECORD_NOT_FOUND', status: 404 });
    }
    // A redirect outside the allow-list is refused at the start, before any cookie is set.
    const response = await fetch(sdk.oauth('corp', { redirect: 'https://evil.example/x' }), { redirect: 'manual' });
    expect(response.status).toBe(400);
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(await errorFromResponse(response)).toMatchObject({ code: 'INVALID_PAYLOAD', status: 400 });
  });
});
