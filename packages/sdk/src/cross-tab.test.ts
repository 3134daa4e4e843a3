import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_PASSWORD } from '../../server/src/testing/test-server.js';
import { type ClientOptions, createClient, type GatehouseClient } from './client.js';
import { localStorageAdapter } from './storage.js';
import { countingFetch, processLocks, sharedWebStorage } from './testing/helpers.js';
import { freePort, type LiveServer, startLiveServer } from './testing/live-server.js';

/**
 * Tabs of one origin share a session through localStorage and talk over a BroadcastChannel (Node's, which
 * delivers between instances like the browser's). Each "tab" is a client with its own memory and channel.
 */
let live: LiveServer;
const clients: GatehouseClient[] = [];
let counter = 0;

beforeAll(async () => {
  live = await startLiveServer();
});
afterAll(async () => {
  for (const client of clients) client.close();
  await live.close();
});

/** How the first tab's refresh calls go: held back (ms), and sent to `to` (a dead address) instead of the server. */
interface FirstTabRefresh {
  delay?: number;
  to?: string;
}

/**
 * Two tabs sharing a session. With `secondStorageStale`, the second tab's storage is a copy taken when it opened,
 * which never sees the first tab's writes (as a browser tab may not yet see them right after another tab released
 * a lock).
 */
async function tabs(options: Partial<ClientOptions>, firstRefresh: FirstTabRefresh = {}, secondStorageStale = false) {
  const email = `tabs-${++counter}-${Date.now()}@example.com`;
  const web = sharedWebStorage();
  const counting = countingFetch();
  const channel = `tabs-${counter}`;
  // The first tab's refresh calls can be held back, to let the other tab see one in progress.
  const changed: typeof fetch = async (input, init) => {
    if (!String(input).endsWith('/auth/refresh')) return counting.fetch(input, init);
    await new Promise((resolve) => setTimeout(resolve, firstRefresh.delay ?? 0));
    return counting.fetch(firstRefresh.to ? String(input).replace(live.url, firstRefresh.to) : input, init);
  };
  let opened = 0;
  const open = (store = web) => {
    const tab = createClient({
      url: live.url,
      storage: localStorageAdapter('gatehouse', store),
      crossTab: channel,
      fetch: opened++ === 0 ? changed : counting.fetch,
      ...options,
    });
    clients.push(tab);
    return tab;
  };
  const first = open();
  await first.signUp({ email, password: TEST_PASSWORD });
  await first.auth({ email, password: TEST_PASSWORD });
  let view = web;
  if (secondStorageStale) {
    view = sharedWebStorage();
    for (const [key, value] of web.items) view.setItem(key, value);
  }
  const second = open(view);
  await second.getAccessToken();
  return { first, second, counting, web };
}

function next(client: GatehouseClient, event: 'refreshed' | 'signedOut'): Promise<unknown> {
  return new Promise((resolve) => {
    const off = client.on(event, (payload) => {
      off();
      resolve(payload);
    });
  });
}

describe('across tabs', () => {
  it('with Web Locks, tabs refreshing at once make one refresh call and end with the same token', async () => {
    const { first, second, counting } = await tabs({ locks: processLocks() });
    expect(await second.getAccessToken()).toBe(await first.getAccessToken());
    await Promise.all([first.refresh(), second.refresh(), first.refresh(), second.refresh()]);
    expect(counting.count('/auth/refresh')).toBe(1);
    const token = await first.getAccessToken();
    expect(await second.getAccessToken()).toBe(token);
    expect(await second.getProfile()).toMatchObject({ status: 'active' });
  });

  it('with Web Locks, 50 calls near expiry spread over two tabs make one refresh call', async () => {
    let skew = 0;
    const { first, second, counting } = await tabs({ locks: processLocks(), now: () => Date.now() + skew });
    skew = 15 * 60_000 - 10_000;
    const calls = Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? first : second).getProfile());
    expect(await Promise.all(calls)).toHaveLength(50);
    expect(counting.count('/auth/refresh')).toBe(1);
    expect(await first.getAccessToken()).toBe(await second.getAccessToken());
  });

  it('with Web Locks, a tab given the lock before the new tokens reach its storage waits for the announced result', async () => {
    // The lock passes to the second tab right after the first stored and announced its result, before the
    // announcement arrives; its storage still holds the old token. It heard the refresh announced, so it waits.
    const { first, second, counting } = await tabs({ locks: processLocks() }, { delay: 200 }, true);
    const firstRefresh = first.refresh();
    await new Promise((resolve) => setTimeout(resolve, 50)); // the first tab holds the lock, its call in flight
    await Promise.all([second.refresh(), firstRefresh]);
    expect(counting.count('/auth/refresh')).toBe(1);
    expect(await second.getAccessToken()).toBe(await first.getAccessToken());
    expect(counting.count('/auth/refresh')).toBe(1);
  });

  it('with Web Locks, a refresh that could not reach the server does not hold the waiting tab back', async () => {
    // The first tab's refresh goes to a port nothing listens on: a real connection failure, after 100 ms.
    const dead = `http://127.0.0.1:${await freePort()}`;
    const { first, second, counting } = await tabs({ locks: processLocks() }, { delay: 100, to: dead });
    const failed = first.refresh().then(
      () => 'refreshed',
      (error: { code?: string }) => error.code,
    );
    await new Promise((resolve) => setTimeout(resolve, 50)); // the first tab holds the lock, its call in flight
    const started = Date.now();
    await second.refresh();
    // The failure was announced: the second tab did not sit out the 5 s it waits for a silent peer.
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await failed).toBe('NETWORK_ERROR');
    expect(counting.calls.filter((call) => call === 'POST /auth/refresh')).toHaveLength(2);
    expect(await second.getProfile()).toMatchObject({ status: 'active' });
    expect(first.isSignedIn).toBe(true);
  });

  it('a refresh in one tab reaches the others over the channel, without a call of their own', async () => {
    const { first, second, counting } = await tabs({ locks: null });
    const heard = next(second, 'refreshed');
    await first.refresh();
    await heard;
    expect(counting.count('/auth/refresh')).toBe(1);
    expect(await second.getAccessToken()).toBe(await first.getAccessToken());
    expect(counting.count('/auth/refresh')).toBe(1);
  });

  it('without locks, a tab that hears another refreshing waits for its result instead of calling', async () => {
    const { first, second, counting } = await tabs({ locks: null }, { delay: 300 });
    const firstRefresh = first.refresh();
    await new Promise((resolve) => setTimeout(resolve, 100)); // the announcement has reached the second tab
    await second.refresh();
    await firstRefresh;
    expect(counting.count('/auth/refresh')).toBe(1);
    expect(await second.getAccessToken()).toBe(await first.getAccessToken());
  });

  it('without locks, tabs that refresh at the same moment both stay signed in (the server grace window)', async () => {
    const { first, second } = await tabs({ locks: null });
    const out: unknown[] = [];
    first.on('signedOut', (event) => out.push(event));
    second.on('signedOut', (event) => out.push(event));
    await Promise.all([first.refresh(), second.refresh()]);
    expect(await first.getProfile()).toMatchObject({ status: 'active' });
    expect(await second.getProfile()).toMatchObject({ status: 'active' });
    expect(out).toEqual([]);
  });

  it('signing out in one tab signs out the others sharing the session', async () => {
    const { first, second, web } = await tabs({ locks: null });
    const heard = next(second, 'signedOut');
    await first.logout();
    expect(await heard).toEqual({ reason: 'remote' });
    expect(second.isSignedIn).toBe(false);
    expect(web.items.size).toBe(0);
  });
});
