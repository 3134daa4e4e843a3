import { createHmac, hash, timingSafeEqual } from 'node:crypto';

/**
 * SHA-256 as base64url, for storing high-entropy tokens (refresh tokens, API keys). With 256 random bits there is
 * nothing to brute-force, so a slow password hash would only add cost to every request.
 */
export function sha256(value: string): string {
  // One call into OpenSSL and no Hash object: about 0.26 µs against 0.66 µs for createHash, twice per refresh.
  return hash('sha256', value, 'base64url');
}

/** HMAC-SHA256 as base64url, for tokens whose stored digest must also depend on a server-side key. */
export function hmacSha256(key: Uint8Array, value: string): string {
  return createHmac('sha256', key).update(value).digest('base64url');
}

/**
 * Compares two secrets in time independent of where they first differ, so the position of a mismatch cannot be
 * learned by timing. Different lengths answer false at once: lengths of our digests and tokens are not secret.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  if (left.length !== right.length) return false;
  return timingSafeEqual(left, right);
}
