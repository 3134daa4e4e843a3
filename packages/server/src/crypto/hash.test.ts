import { describe, expect, it } from 'vitest';
import { constantTimeEqual, hmacSha256, sha256 } from './hash.js';

describe('sha256', () => {
  it('matches the FIPS 180-2 "abc" vector, as unpadded base64url', () => {
    const digest = sha256('abc');
    expect(Buffer.from(digest, 'base64url').toString('hex')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(digest).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  });

  it('hashes the UTF-8 bytes of the value', () => {
    expect(sha256('é')).toBe('SplVfkAzw1Od4utlRyAXytX5VX96BiWgnxw_biumnEw');
    expect(sha256('é')).not.toBe(sha256('e'));
  });
});

describe('hmacSha256', () => {
  it('matches RFC 4231 test case 2', () => {
    const mac = hmacSha256(new TextEncoder().encode('Jefe'), 'what do ya want for nothing?');
    expect(Buffer.from(mac, 'base64url').toString('hex')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
    expect(mac).toBe('W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM');
  });

  it('depends on the key', () => {
    const value = 'refresh-token';
    expect(hmacSha256(new Uint8Array(32), value)).not.toBe(hmacSha256(new Uint8Array(32).fill(1), value));
  });
});

describe('constantTimeEqual', () => {
  it('answers true only for identical strings', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('', '')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'xbc')).toBe(false);
  });

  it('answers false for different lengths instead of throwing', () => {
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', 'a')).toBe(false);
    // Same string length, different byte length: still no throw.
    expect(constantTimeEqual('é', 'e')).toBe(false);
  });
});
