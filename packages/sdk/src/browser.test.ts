import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { decodeJwt } from 'jose';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TEST_PASSWORD } from '../../server/src/testing/test-server.js';
import { createClient } from './client.js';
import { freePort, type LiveServer, startLiveServer } from './testing/live-server.js';

/**
 * The SDK in a real browser: Debian's headless Chromium (driven by playwright-core, never a downloaded build) runs
 * the browser entry and `@gatehouse/sdk/passkeys`, bundled by esbuild, against a real Gatehouse. The page is
 * served on Gatehouse's own origin (http://localhost:<port>, a secure context, and the WebAuthn relying party):
 * Playwright answers the two test files under `/__sdk-test/`, every other request reaches the server untouched.
 * Real localStorage, BroadcastChannel, `navigator.locks`, and WebAuthn through a CDP virtual authenticator.
 */
const CHROMIUM = '/usr/bin/chromium';
const inCi = ['1', 'true'].includes(String(process.env.CI).toLowerCase());
const skip = !existsSync(CHROMIUM) && !inCi;
if (skip) {
  console.warn(
    `browser tests skipped: ${CHROMIUM} is missing (Debian: apt-get install chromium). With CI=true they run, and fail without it.`,
  );
}

const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const PAGE =
  '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>Gatehouse SDK</title><script src="sdk.js"></script>';
/** 15 minutes less 10 s: a 15-minute access token is then inside the client's refresh margin. */
const NEAR_EXPIRY = 15 * 60_000 - 10_000;

interface Tab {
  page: Page;
  /** Every request of this tab to Gatehouse: path, and whether it carried an access token. */
  calls: { path: string; bearer: boolean }[];
  count(path: string): number;
}

it.runIf(inCi)(`CI has Chromium at ${CHROMIUM}`, () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: .ci/run installs Debian's chromium`).toBe(true);
});

describe.skipIf(skip)('in headless Chromium', () => {
  let live: LiveServer;
  let origin: string;
  let browser: Browser;
  let script: string;
  let contexts: BrowserContext[] = [];
  let pageErrors: string[] = [];
  let counter = 0;

  beforeAll(async () => {
    const port = await freePort();
    origin = `http://localhost:${port}`;
    live = await startLiveServer({ GATEHOUSE_PUBLIC_URL: origin }, {}, port);
    const bundled = await build({
      entryPoints: [fileURLToPath(new URL('./testing/browser-page.ts', import.meta.url))],
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    });
    script = bundled.outputFiles[0]?.text ?? '';
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await live?.close();
  });
  afterEach(async () => {
    for (const context of contexts) await context.close();
    contexts = [];
    expect(pageErrors).toEqual([]);
    pageErrors = [];
  });

  /** How many requests for `path` Gatehouse received, from every tab and client, by its own request log. */
  function serverCount(path: string): number {
    return live.server
      .logs()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg?: string; req?: { url?: string } })
      .filter((entry) => entry.msg === 'incoming request' && entry.req?.url === path).length;
  }

  /** A browser profile of its own (fresh localStorage), whose tabs load the test page. */
  async function newContext(): Promise<BrowserContext> {
    const context = await browser.newContext();
    contexts.push(context);
    await context.route(`${origin}/__sdk-test/**`, (route) => {
      const { pathname } = new URL(route.request().url());
      return pathname.endsWith('/sdk.js')
        ? route.fulfill({ contentType: 'text/javascript; charset=utf-8', body: script })
        : route.fulfill({ contentType: 'text/html; charset=utf-8', body: PAGE });
    });
    return context;
  }

  /**
   * Opens a tab on the test page and its client: `local` keeps tokens with the localStorage adapter, `saved` in
   * memory with saveFunction and refreshToken, `memory` in memory only (with cookie and session modes).
   */
  async function openTab(
    context: BrowserContext,
    setup: 'local' | 'saved' | 'memory' = 'local',
    mode: 'json' | 'cookie' | 'session' = 'json',
  ): Promise<Tab> {
    const page = await context.newPage();
    const calls: Tab['calls'] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('request', (request) => {
      const url = new URL(request.url());
      // Only the SDK's calls: not the test page, nor a favicon the browser might ask for.
      if (url.origin !== origin || url.pathname.startsWith('/__sdk-test/') || url.pathname === '/favicon.ico') return;
      calls.push({ path: url.pathname, bearer: 'authorization' in request.headers() });
    });
    await page.goto(`${origin}/__sdk-test/`);
    await page.evaluate(([how, as]) => harness.open(how, as), [setup, mode] as const);
    return { page, calls, count: (path) => calls.filter((call) => call.path === path).length };
  }

  async function signedIn(tab: Tab): Promise<string> {
    const email = `browser-${++counter}-${Date.now()}@example.com`;
    await tab.page.evaluate(([e, p]) => harness.signUp(e, p), [email, TEST_PASSWORD] as const);
    await tab.page.evaluate(([e, p]) => harness.signIn(e, p), [email, TEST_PASSWORD] as const);
    return email;
  }

  it('runs in a secure context with Web Locks and BroadcastChannel', async () => {
    const tab = await openTab(await newContext());
    expect(await tab.page.evaluate(() => harness.supports())).toEqual({
      locks: true,
      broadcastChannel: true,
      secureContext: true,
    });
  });

  it('two tabs near expiry refresh once: navigator.locks makes the other wait, then it takes the new tokens', async () => {
    const context = await newContext();
    const first = await openTab(context);
    const email = await signedIn(first);
    const second = await openTab(context); // opened after the sign-in: finds the session in localStorage
    let token = await first.page.evaluate(() => harness.token());
    expect(await second.page.evaluate(() => harness.token())).toBe(token);

    // Each refresh is held on the wire until the test has seen the other tab wait for the lock.
    let release = () => {};
    let held = Promise.resolve();
    await context.route(`${origin}/auth/refresh`, async (route) => {
      await held;
      await route.continue();
    });
    const lock = `gatehouse:${origin}:refresh`;
    // Several rounds: which tab gets the lock, and whether the other tab's storage and broadcast have reached it
    // when the lock passes, varies from one to the next.
    for (let round = 1; round <= 10; round++) {
      held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const before = serverCount('/auth/refresh');
      const fromTabs = first.count('/auth/refresh') + second.count('/auth/refresh');
      // Each round's tokens were issued at the previous round's (skewed) time, 15 minutes before this one.
      const skew = (round - 1) * 15 * 60_000 + NEAR_EXPIRY;
      for (const tab of [first, second]) await tab.page.evaluate((ms) => harness.skew(ms), skew);
      const calls = Promise.all([
        first.page.evaluate(() => harness.profiles(10)),
        second.page.evaluate(() => harness.profiles(10)),
      ]);

      let locks = { held: [] as string[], pending: [] as string[] };
      for (const until = Date.now() + 10_000; Date.now() < until && locks.pending.length === 0; ) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        locks = await first.page.evaluate(() => harness.locks());
      }
      expect(locks).toEqual({ held: [lock], pending: [lock] });
      release();

      const [fromFirst, fromSecond] = await calls;
      expect([...fromFirst, ...fromSecond]).toEqual(Array(20).fill(email));
      expect(serverCount('/auth/refresh') - before, `round ${round}`).toBe(1);
      expect(first.count('/auth/refresh') + second.count('/auth/refresh') - fromTabs).toBe(1);
      const rotated = await first.page.evaluate(() => harness.token());
      expect(rotated).not.toBe(token);
      expect(await second.page.evaluate(() => harness.token())).toBe(rotated);
      expect(JSON.parse((await first.page.evaluate(() => harness.storedTokens())) ?? '{}')).toMatchObject({
        access_token: rotated,
      });
      expect(await first.page.evaluate(() => harness.locks())).toEqual({ held: [], pending: [] });
      token = rotated;
    }
  }, 60_000);

  it('a refresh in one tab reaches the other over BroadcastChannel: it holds the new tokens without a call', async () => {
    const context = await newContext();
    const first = await openTab(context);
    await signedIn(first);
    const second = await openTab(context);
    const original = await second.page.evaluate(() => harness.token());

    await first.page.evaluate(() => harness.refresh());
    await second.page.waitForFunction(() => harness.events().includes('refreshed'));
    const rotated = await first.page.evaluate(() => harness.token());
    expect(rotated).not.toBe(original);
    // Not near expiry, so the second tab answers from memory: only the broadcast can have put the token there.
    expect(await second.page.evaluate(() => harness.token())).toBe(rotated);
    expect(second.calls).toEqual([]);
    expect(first.count('/auth/refresh')).toBe(1);
  });

  it('a tab that finds another account signed in through localStorage says so with signedIn', async () => {
    // One session per origin: a sign-in in another tab replaces the stored session. A tab that then takes the
    // stored tokens (at its next refresh) holds another user's session, and must say so rather than carry on.
    const context = await newContext();
    const first = await openTab(context);
    const second = await openTab(context); // signed out: it does not learn of the sign-in below
    const ada = await signedIn(first);
    for (const tab of [first, second]) await tab.page.evaluate((ms) => harness.skew(ms), NEAR_EXPIRY);
    const bob = await signedIn(second);
    expect(await first.page.evaluate(() => harness.events())).toEqual(['signedIn']);

    // The first tab's token is near expiry: under the lock it finds the second tab's session stored.
    expect(await first.page.evaluate(() => harness.profileOrCode())).toBe(bob);
    expect(await first.page.evaluate(() => harness.events())).toEqual(['signedIn', 'signedIn']);
    expect(ada).not.toBe(bob);
  });

  it('the session survives a reload through the localStorage adapter', async () => {
    const context = await newContext();
    const tab = await openTab(context);
    const email = await signedIn(tab);
    const token = await tab.page.evaluate(() => harness.token());
    const before = serverCount('/auth/refresh');

    await tab.page.reload();
    await tab.page.evaluate(() => harness.open('local'));
    expect(await tab.page.evaluate(() => harness.isSignedIn())).toBe(true);
    expect(await tab.page.evaluate(() => harness.token())).toBe(token);
    expect(await tab.page.evaluate(() => harness.profileOrCode())).toBe(email);
    expect(serverCount('/auth/refresh') - before).toBe(0);
    expect(tab.calls.map((call) => call.path)).toEqual(['/auth/signup', '/auth/login', '/users/me']);
  });

  it('the session survives a reload through saveFunction and the refreshToken option', async () => {
    const context = await newContext();
    const tab = await openTab(context, 'saved');
    const email = await signedIn(tab);
    const saved = await tab.page.evaluate(() => harness.savedRefreshToken());
    expect(saved).toEqual(expect.any(String));
    expect(await tab.page.evaluate(() => harness.storedTokens())).toBeNull(); // tokens were only in memory

    await tab.page.reload();
    await tab.page.evaluate(() => harness.open('saved'));
    expect(await tab.page.evaluate(() => harness.profileOrCode())).toBe(email);
    expect(tab.count('/auth/refresh')).toBe(1);
    const rotated = await tab.page.evaluate(() => harness.savedRefreshToken());
    expect(rotated).toEqual(expect.any(String));
    expect(rotated).not.toBe(saved);
  });

  it('cookie mode keeps the refresh token in an HttpOnly cookie of the browser: a reload restores the session', async () => {
    const context = await newContext();
    const tab = await openTab(context, 'memory', 'cookie');
    const email = await signedIn(tab);
    expect(await tab.page.evaluate(() => harness.profileOrCode())).toBe(email);
    const [cookie] = await context.cookies(`${origin}/auth/refresh`);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/auth' });
    expect(await tab.page.evaluate(() => harness.cookies())).toBe(''); // no script can read it

    await tab.page.reload();
    await tab.page.evaluate(() => harness.open('memory', 'cookie'));
    expect(await tab.page.evaluate(() => harness.isSignedIn())).toBe(false); // nothing in memory after a reload
    await tab.page.evaluate(() => harness.refresh()); // the cookie goes along
    expect(await tab.page.evaluate(() => harness.profileOrCode())).toBe(email);
    expect(tab.count('/auth/refresh')).toBe(1);

    await tab.page.evaluate(() => harness.logout());
    expect(await context.cookies(`${origin}/auth/refresh`)).toEqual([]);
    await tab.page.reload();
    await tab.page.evaluate(() => harness.open('memory', 'cookie'));
    const refused = await tab.page.evaluate(() =>
      harness.refresh().then(
        () => 'refreshed',
        (error: { code?: string }) => error.code,
      ),
    );
    expect(refused).toBe('INVALID_PAYLOAD'); // no cookie left to refresh with
    expect(await tab.page.evaluate(() => harness.isSignedIn())).toBe(false);
  });

  it('session mode needs no token in script: the HttpOnly session cookie carries calls across a reload', async () => {
    const context = await newContext();
    const tab = await openTab(context, 'memory', 'session');
    const email = await signedIn(tab);
    expect(await tab.page.evaluate(() => harness.token())).toBeNull();
    expect(await tab.page.evaluate(() => harness.profileOrCode())).toBe(email);
    expect(await tab.page.evaluate(() => harness.cookies())).toBe('');

    await tab.page.reload();
    await tab.page.evaluate(() => harness.open('memory', 'session'));
    expect(await tab.page.evaluate(() => harness.profileOrCode())).toBe(email);
    expect(tab.calls.filter((call) => call.bearer)).toEqual([]);
    await tab.page.evaluate(() => harness.logout());
    expect(await tab.page.evaluate(() => harness.profileOrCode())).toBe('INVALID_CREDENTIALS');
  });

  it('a session revoked from another client ends in one signedOut per tab, with no refresh loop', async () => {
    const context = await newContext();
    const first = await openTab(context);
    const email = await signedIn(first);
    const second = await openTab(context);
    expect(await second.page.evaluate(() => harness.token())).toEqual(expect.any(String));

    // The same user, signed in elsewhere, ends every session.
    const elsewhere = createClient({ url: live.url, crossTab: false });
    await elsewhere.auth({ email, password: TEST_PASSWORD });
    await elsewhere.logoutAll();
    elsewhere.close();

    const before = serverCount('/auth/refresh');
    expect(await first.page.evaluate(() => harness.profileOrCode())).toBe('INVALID_CREDENTIALS');
    await second.page.waitForFunction(() => !harness.isSignedIn());
    expect(await first.page.evaluate(() => harness.events())).toEqual(['signedIn', 'signedOut:revoked']);
    expect(await second.page.evaluate(() => harness.events())).toEqual(['signedOut:remote']);
    expect(await first.page.evaluate(() => harness.storedTokens())).toBeNull();

    // Later calls go out without a token and start no refresh, in either tab.
    for (let i = 0; i < 3; i++) {
      for (const tab of [first, second]) {
        expect(await tab.page.evaluate(() => harness.profileOrCode())).toBe('INVALID_CREDENTIALS');
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(serverCount('/auth/refresh') - before).toBe(1);
    expect(first.count('/auth/refresh') + second.count('/auth/refresh')).toBe(1);
    const meCalls = [...first.calls, ...second.calls].filter((call) => call.path === '/users/me');
    expect(meCalls.filter((call) => call.bearer)).toHaveLength(1); // the refused call; the failed refresh ends it
    expect(meCalls.filter((call) => !call.bearer)).toHaveLength(6);
    expect(await first.page.evaluate(() => harness.events())).toEqual(['signedIn', 'signedOut:revoked']);
  });

  it('registers a passkey and signs in with it through @gatehouse/sdk/passkeys and a virtual authenticator', async () => {
    const context = await newContext();
    const tab = await openTab(context);
    const cdp = await context.newCDPSession(tab.page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    const email = await signedIn(tab);

    expect(await tab.page.evaluate(() => harness.registerPasskey('Laptop'))).toBe('Laptop');
    expect(await tab.page.evaluate(() => harness.passkeyNames())).toEqual(['Laptop']);
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]).toMatchObject({ rpId: 'localhost', isResidentCredential: true });

    // With the e-mail (the server lists the account's passkeys), then usernameless (a discoverable credential).
    for (const who of [email, undefined]) {
      await tab.page.evaluate(() => harness.logout());
      expect(await tab.page.evaluate(() => harness.isSignedIn())).toBe(false);
      const token = await tab.page.evaluate((address) => harness.signInWithPasskey(address), who);
      expect(decodeJwt(token ?? '').amr).toContain('webauthn');
      expect(await tab.page.evaluate(() => harness.profileOrCode())).toBe(email);
    }
    const after = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(after.credentials[0]?.signCount).toBeGreaterThanOrEqual(2);
    await cdp.detach();
  });
});
