import { describe, expect, it } from 'vitest';
import { randomDigits, randomId, randomToken } from './random.js';

describe('randomToken', () => {
  it('draws 32 bytes by default, as unpadded base64url', () => {
    const token = randomToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(randomToken()).not.toBe(token);
  });

  it('draws the requested number of bytes', () => {
    expect(Buffer.from(randomToken(16), 'base64url')).toHaveLength(16);
    expect(randomToken(16)).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
});

describe('randomId', () => {
  it('is a version 4 UUID, different each time', () => {
    const id = randomId();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(randomId()).not.toBe(id);
  });
});

describe('randomDigits', () => {
  it('returns exactly `length` decimal digits, leading zeros included', () => {
    expect(randomDigits(6)).toMatch(/^\d{6}$/);
    expect(randomDigits(1)).toMatch(/^\d$/);
    expect(randomDigits(0)).toBe('');
  });

  it('draws every digit about equally often', () => {
    const counts = new Array<number>(10).fill(0);
    for (const digit of randomDigits(20_000)) counts[Number(digit)] = (counts[Number(digit)] ?? 0) + 1;
    // Expected 2000 each, standard deviation about 42: the bounds are over 7 deviations away.
    for (const count of counts) {
      expect(count).toBeGreaterThan(1700);
      expect(count).toBeLessThan(2300);
    }
  });
});
