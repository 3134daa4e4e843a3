import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * SHA-256 as base64url. Enough to store high-entropy tokens (refresh tokens, API keys): with 256 random bits
 * there is nothing to brute-force, so a slow hash would only cost time on every request.
 */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

export function hmacSha256(key: Uint8Array, value: string): string {
  return createHmac('sha256', key).update(value).digest('base64url');
}

/** Compares secrets in time independent of where they differ, so a mismatch position cannot be timed. */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  if (left.length !== right.length) return false;
  return timingSafeEqual(left, right);
}
