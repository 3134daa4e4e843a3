import { type Algorithm, hash as argon2Hash, verify as argon2Verify, type Version } from '@node-rs/argon2';
import { describe, expect, it, vi } from 'vitest';
import { hashPassword, OWASP_ARGON2ID, type PasswordParams, verifyPassword } from './password.js';

// The real argon2, watched: the decoy test below sees which hashes verifyPassword checks against.
vi.mock('@node-rs/argon2', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@node-rs/argon2')>();
  return { ...actual, verify: vi.fn(actual.verify) };
});

/** Small parameters keep the tests fast; one test uses the real OWASP set. */
const FAST: PasswordParams = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

describe('hashPassword and verifyPassword', () => {
  it('hashes with argon2id and the OWASP parameters, and verifies only the right password', async () => {
    const hash = await hashPassword('correct horse battery staple', OWASP_ARGON2ID);
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    expect(await verifyPassword(hash, 'correct horse battery staple', OWASP_ARGON2ID)).toEqual({
      valid: true,
      needsRehash: false,
    });
    expect(await verifyPassword(hash, 'correct horse battery stapl', OWASP_ARGON2ID)).toEqual({
      valid: false,
      needsRehash: false,
    });
  });

  it('salts every hash', async () => {
    const first = await hashPassword('same password', FAST);
    const second = await hashPassword('same password', FAST);
    expect(first).not.toBe(second);
    expect(first).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    expect((await verifyPassword(second, 'same password', FAST)).valid).toBe(true);
  });

  it('refuses a wrong password, including case and unicode differences', async () => {
    const hash = await hashPassword('Pässword', FAST);
    expect((await verifyPassword(hash, 'Pässword', FAST)).valid).toBe(true);
    expect((await verifyPassword(hash, 'pässword', FAST)).valid).toBe(false);
    expect((await verifyPassword(hash, 'Password', FAST)).valid).toBe(false);
    expect((await verifyPassword(hash, '', FAST)).valid).toBe(false);
  });
});

describe('verifyPassword without a stored hash', () => {
  it('answers invalid, without asking for a rehash', async () => {
    expect(await verifyPassword(null, 'anything', FAST)).toEqual({ valid: false, needsRehash: false });
    expect(await verifyPassword(null, '', FAST)).toEqual({ valid: false, needsRehash: false });
    expect(await verifyPassword(null, 'anything', OWASP_ARGON2ID)).toEqual({ valid: false, needsRehash: false });
  });

  it('still runs argon2, with the same parameters, for an account without a hash', async () => {
    const params: PasswordParams = { memoryCost: 2048, timeCost: 2, parallelism: 1 };
    const verify = vi.mocked(argon2Verify);
    verify.mockClear();
    expect(await verifyPassword(null, 'a wrong password', params)).toEqual({ valid: false, needsRehash: false });
    // One real verification against a decoy hash made with the same cost, so it takes as long as a real one.
    expect(verify).toHaveBeenCalledTimes(1);
    const [decoy, password] = verify.mock.calls[0] ?? [];
    expect(password).toBe('a wrong password');
    expect(decoy).toMatch(/^\$argon2id\$v=19\$m=2048,t=2,p=1\$/);
    await expect(verify.mock.results[0]?.value).resolves.toBe(false);
  });
});

describe('needsRehash', () => {
  it('is true when the stored memory, time or parallelism cost differs from the current parameters', async () => {
    const hash = await hashPassword('pw', FAST);
    expect(await verifyPassword(hash, 'pw', FAST)).toEqual({ valid: true, needsRehash: false });
    expect(await verifyPassword(hash, 'pw', { ...FAST, memoryCost: 2048 })).toEqual({ valid: true, needsRehash: true });
    expect(await verifyPassword(hash, 'pw', { ...FAST, timeCost: 2 })).toEqual({ valid: true, needsRehash: true });
    expect(await verifyPassword(hash, 'pw', { ...FAST, parallelism: 2 })).toEqual({ valid: true, needsRehash: true });
    expect(await verifyPassword(hash, 'pw', OWASP_ARGON2ID)).toEqual({ valid: true, needsRehash: true });
  });

  it('is true for a hash made with another argon2 variant', async () => {
    const argon2i = await argon2Hash('pw', { algorithm: 1 as Algorithm, ...FAST });
    expect(argon2i).toMatch(/^\$argon2i\$/);
    expect(await verifyPassword(argon2i, 'pw', FAST)).toEqual({ valid: true, needsRehash: true });
  });

  it('is true for a hash made with the older argon2 version 1.0 (v=16)', async () => {
    const v16 = await argon2Hash('pw', { algorithm: 2 as Algorithm, version: 0 as Version, ...FAST });
    expect(v16).toMatch(/^\$argon2id\$v=16\$m=1024,t=1,p=1\$/);
    expect(await verifyPassword(v16, 'pw', FAST)).toEqual({ valid: true, needsRehash: true });
  });

  it('is never true for a wrong password, so a guess can never be stored as the new hash', async () => {
    const hash = await hashPassword('pw', FAST);
    expect(await verifyPassword(hash, 'guess', OWASP_ARGON2ID)).toEqual({ valid: false, needsRehash: false });
  });
});

describe('verifyPassword with a malformed stored hash', () => {
  it('answers invalid instead of throwing', async () => {
    const real = await hashPassword('pw', FAST);
    for (const malformed of [
      '',
      'not a hash',
      '$argon2id$',
      '$argon2id$v=19$m=abc,t=1,p=1$c2FsdHNhbHQ$aGFzaA',
      real.slice(0, -10),
      real.replace('$argon2id$', '$bcrypt$'),
      '$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234',
    ]) {
      expect(await verifyPassword(malformed, 'pw', FAST), malformed).toEqual({ valid: false, needsRehash: false });
    }
  });
});
