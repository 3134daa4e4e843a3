import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_PASSWORD } from '../../server/src/testing/test-server.js';
import { type ClientOptions, createClient, type GatehouseClient } from './client.js';
import { localStorageAdapter } from './storage.js';
import { countingFetch, processLocks, sharedWebStorage } from './testing/helpers.js';
import { type LiveServer, startLiveServer } from './testing/live-server.js';

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

async function tabs(options: Partial<ClientOptions>, slowRefreshInFirst = 0) {
  const email = `tabs-${++counter}-${Date.now()}@example.com`;
  const web = sharedWebStorage();
  const counting = countingFetch();
  const channel = `tabs-${counter}`;
  // The first tab's refresh calls can be held back, to let the other tab see one in progress.
  const slow: typeof fetch = async (input, init) => {
    if (String(input).endsWith('/auth/refresh'))
      await new Promise((resolve) => setTimeout(resolve, slowRefreshInFirst));
    return counting.fetch(input, init);
  };
  let opened = 0;
  const open = () => {
    const tab = createClient({
      url: live.url,
      storage: localStorageAdapter('gatehouse', web),
      crossTab: channel,
      fetch: opened++ === 0 && slowRefreshInFirst > 0 ? slow : counting.fetch,
      ...options,
    });
    clients.push(tab);
    return tab;
  };
  const first = open();
  await first.signUp({ email, password: TEST_PASSWORD });
  await first.auth({ email, password: TEST_PASSWORD });
  const second = open();
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
    const { first, second, counting } = await tabs({ locks: null }, 300);
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
