import { describe, expect, it } from 'vitest';
import { asPasswordWork, poolHasRoom, poolSize, THREADPOOL_SIZE } from './threadpool.js';

/** Holds `count` pool threads with password work until the answered function is called. */
function holdPasswordWork(count: number): () => Promise<void> {
  const releases: (() => void)[] = [];
  const settled = Array.from({ length: count }, () =>
    asPasswordWork(() => new Promise<void>((resolve) => releases.push(resolve))),
  );
  return async () => {
    for (const release of releases) release();
    await Promise.all(settled);
  };
}

describe('the threadpool count', () => {
  it('reads UV_THREADPOOL_SIZE as libuv does', () => {
    // What node's libuv made of each value, counted as threads in /proc/self/status.
    expect(poolSize(undefined)).toBe(4);
    expect(poolSize('')).toBe(1);
    expect(poolSize('0')).toBe(1);
    expect(poolSize('not a number')).toBe(1);
    expect(poolSize('2x')).toBe(2);
    expect(poolSize('16')).toBe(16);
    expect(poolSize('-3')).toBe(1024);
    expect(poolSize('5000')).toBe(1024);
  });

  it('has no room while password work holds every thread, and has again once one ends', async () => {
    expect(poolHasRoom()).toBe(true);
    const releaseAllButOne = holdPasswordWork(THREADPOOL_SIZE - 1);
    expect(poolHasRoom()).toBe(true);
    const releaseLast = holdPasswordWork(1);
    expect(poolHasRoom()).toBe(false);
    await releaseLast();
    expect(poolHasRoom()).toBe(true);
    await releaseAllButOne();
  });

  it('counts password work that fails as ended', async () => {
    const failing = Array.from({ length: THREADPOOL_SIZE }, () =>
      asPasswordWork(() => Promise.reject(new Error('bad hash'))),
    );
    expect(poolHasRoom()).toBe(false);
    await Promise.allSettled(failing);
    expect(poolHasRoom()).toBe(true);
  });
});
