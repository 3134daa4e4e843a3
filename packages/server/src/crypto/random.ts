import { randomBytes, randomInt, randomUUID } from 'node:crypto';

/** A URL-safe random token; 32 bytes (256 bits) by default, far beyond guessing. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** A random UUID (v4) for row ids. */
export function randomId(): string {
  return randomUUID();
}

/** `length` uniformly random decimal digits, for codes a person types. */
export function randomDigits(length: number): string {
  let digits = '';
  for (let i = 0; i < length; i++) digits += String(randomInt(10));
  return digits;
}
