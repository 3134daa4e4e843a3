import { pbkdf2 } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createJwtSigner, createJwtVerifier } from './jwt.js';
import { generateSigningKey } from './signing-keys.js';
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
    expect(poolSize(undefined)).toBe(4);
    expect(poolSize('')).toBe(4);
    expect(poolSize('0')).toBe(4);
    expect(poolSize('not a number')).toBe(4);
    expect(poolSize('16')).toBe(16);
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

  it('signs tokens that verify, on the pool and, while password work fills it, at once on the main thread', async () => {
    const key = await generateSigningKey('ES256');
    const signer = await createJwtSigner(key);
    const verifier = createJwtVerifier({
      keys: () => [key.publicJwk],
      issuer: 'https://auth.example.com',
      audience: 'gatehouse',
      algorithms: ['ES256'],
      now: () => Date.now(),
    });
    const sign = () =>
      signer.sign(
        { sid: 's' },
        {
          issuer: 'https://auth.example.com',
          audience: 'gatehouse',
          subject: 'u',
          expiresInSeconds: 60,
          now: Date.now(),
        },
      );
    expect((await verifier.verify(await sign())).ok).toBe(true);
    /**
     * Signs while every pool thread runs a slow key derivation, beside a timer set just before for as long as the
     * signer's deadline; answers the order in which the three finished.
     */
    const finishing = async (countedAsPasswordWork: boolean): Promise<string[]> => {
      const order: string[] = [];
      const derive = () =>
        new Promise<void>((resolve, reject) =>
          pbkdf2('password', 'salt', 1_000_000, 32, 'sha256', (error) => {
            order.push('pool work');
            if (error) reject(error);
            else resolve();
          }),
        );
      const busy = Array.from({ length: THREADPOOL_SIZE }, () =>
        countedAsPasswordWork ? asPasswordWork(derive) : derive(),
      );
      expect(poolHasRoom()).toBe(!countedAsPasswordWork);
      setTimeout(() => order.push('deadline'), 20);
      const token = await sign();
      order.push('signed');
      expect((await verifier.verify(token)).ok).toBe(true);
      await Promise.all(busy);
      return order.filter((step, index) => step !== 'pool work' || order.indexOf(step) === index);
    };
    // Password work (the derivation stands in for argon2) holds the pool: the token is signed at once, on the main
    // thread, without waiting for the deadline.
    expect(await finishing(true)).toEqual(['signed', 'deadline', 'pool work']);
    // Pool work the count cannot see (a hanging DNS lookup, say) delays a signature by the deadline only.
    expect(await finishing(false)).toEqual(['deadline', 'signed', 'pool work']);
  });
});
