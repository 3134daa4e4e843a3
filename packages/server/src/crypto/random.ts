import { randomBytes, randomInt, randomUUID } from 'node:crypto';

/**
 * A URL-safe random token (base64url, no padding). The default 32 bytes (256 bits) is far beyond guessing, which
 * is what lets such tokens be stored as a plain SHA-256 instead of a slow password hash.
 */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** A random UUID (v4) for row ids. */
export function randomId(): string {
  return randomUUID();
}

/**
 * `length` random decimal digits, for codes a person types. Each digit comes from `randomInt`, which rejects
 * out-of-range samples, so every digit is uniform (no modulo bias) and leading zeros are kept.
 */
export function randomDigits(length: number): string {
  let digits = '';
  for (let i = 0; i < length; i++) digits += String(randomInt(10));
  return digits;
}
