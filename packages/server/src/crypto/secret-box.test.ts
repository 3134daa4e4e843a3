import { describe, expect, it } from 'vitest';
import { deriveKey, open, seal } from './secret-box.js';

const key = deriveKey('correct horse battery staple', 'signing-keys');

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Flips one bit of one base64url field of a sealed value, keeping the encoding canonical. */
function flipBit(sealed: string, field: 1 | 2, byteIndex: number): string {
  const parts = sealed.split('.');
  const bytes = Buffer.from(parts[field] ?? '', 'base64url');
  const index = byteIndex < 0 ? bytes.length + byteIndex : byteIndex;
  bytes[index] = (bytes[index] ?? 0) ^ 0x01;
  parts[field] = bytes.toString('base64url');
  return parts.join('.');
}

describe('deriveKey', () => {
  it('is HKDF-SHA256 with salt "gatehouse" and the purpose as info (known answer computed independently)', () => {
    // Pinned: changing the derivation would make every sealed secret unreadable.
    expect(hex(key)).toBe('0897b59a6fed4b111e667dacc29d781d1ccc8397896d86c11147ac42717121f6');
  });

  it('gives each purpose and each master secret its own 32-byte key', () => {
    expect(key).toBeInstanceOf(Uint8Array);
    expect(key).toHaveLength(32);
    expect(hex(deriveKey('correct horse battery staple', 'signing-keys'))).toBe(hex(key));
    expect(hex(deriveKey('correct horse battery staple', 'totp'))).not.toBe(hex(key));
    expect(hex(deriveKey('another master secret', 'signing-keys'))).not.toBe(hex(key));
  });
});

describe('seal and open', () => {
  it('round-trips a secret in the v1.<iv>.<ciphertext+tag> format', () => {
    const sealed = seal(key, 'private key material', 'kid-1');
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(Buffer.from(sealed.split('.')[1] ?? '', 'base64url')).toHaveLength(12);
    // 20 bytes of plaintext + 16 bytes of tag.
    expect(Buffer.from(sealed.split('.')[2] ?? '', 'base64url')).toHaveLength(36);
    expect(sealed).not.toContain('private');
    expect(open(key, sealed, 'kid-1')).toBe('private key material');
  });

  it('round-trips empty and non-ASCII plaintexts, with and without associated data', () => {
    expect(open(key, seal(key, ''), undefined)).toBe('');
    expect(open(key, seal(key, 'clé secrète ✓'))).toBe('clé secrète ✓');
    expect(open(key, seal(key, 'x', ''), '')).toBe('x');
  });

  it('uses a fresh IV each time, so equal secrets do not look equal', () => {
    const first = seal(key, 'same secret');
    const second = seal(key, 'same secret');
    expect(first).not.toBe(second);
    expect(first.split('.')[1]).not.toBe(second.split('.')[1]);
  });

  it('refuses a tampered ciphertext, tag or IV', () => {
    const sealed = seal(key, 'private key material', 'kid-1');
    expect(open(key, flipBit(sealed, 2, 0), 'kid-1')).toBeNull();
    expect(open(key, flipBit(sealed, 2, -1), 'kid-1')).toBeNull();
    expect(open(key, flipBit(sealed, 1, 0), 'kid-1')).toBeNull();
  });

  it('refuses the wrong key', () => {
    const sealed = seal(key, 'private key material', 'kid-1');
    expect(open(deriveKey('correct horse battery staple', 'totp'), sealed, 'kid-1')).toBeNull();
    expect(open(new Uint8Array(32), sealed, 'kid-1')).toBeNull();
    expect(open(new Uint8Array(16), sealed, 'kid-1')).toBeNull();
  });

  it('refuses the wrong, a missing or an unexpected associated data (a value moved to another row)', () => {
    const bound = seal(key, 'private key material', 'kid-1');
    expect(open(key, bound, 'kid-2')).toBeNull();
    expect(open(key, bound)).toBeNull();
    expect(open(key, seal(key, 'private key material'), 'kid-1')).toBeNull();
  });

  it('answers null for malformed values instead of throwing', () => {
    const sealed = seal(key, 'private key material');
    const [, iv = '', body = ''] = sealed.split('.');
    for (const malformed of [
      '',
      'garbage',
      'v1..',
      `v2.${iv}.${body}`,
      `v1.${iv}`,
      `v1.${iv}.${body}.extra`,
      `v1.${iv}.${body.slice(0, 10)}`,
      `v1.${iv.slice(0, -2)}.${body}`,
      `v1.${iv}.${body}!`,
      `v1.${iv}=.${body}`,
    ]) {
      expect(open(key, malformed), malformed).toBeNull();
    }
  });
});
