import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 'v1';

/** Derives a 32-byte key for one purpose from the master secret (HKDF-SHA256), so keys never share a use. */
export function deriveKey(masterSecret: string, purpose: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', masterSecret, 'gatehouse', purpose, 32));
}

/**
 * Encrypts a secret for storage with AES-256-GCM and a random 96-bit IV. `associatedData` (e.g. the row id)
 * is authenticated but not stored, so a sealed value copied onto another row no longer opens.
 */
export function seal(key: Uint8Array, plaintext: string, associatedData?: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  if (associatedData !== undefined) cipher.setAAD(Buffer.from(associatedData));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${VERSION}.${iv.toString('base64url')}.${ciphertext.toString('base64url')}`;
}

/** Opens a sealed value; null when the key, the associated data or the value is wrong. */
export function open(key: Uint8Array, sealed: string, associatedData?: string): string | null {
  const [version, ivText, bodyText] = sealed.split('.');
  if (version !== VERSION || !ivText || !bodyText) return null;
  try {
    const iv = Buffer.from(ivText, 'base64url');
    const body = Buffer.from(bodyText, 'base64url');
    if (iv.length !== 12 || body.length < 16) return null;
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    if (associatedData !== undefined) decipher.setAAD(Buffer.from(associatedData));
    decipher.setAuthTag(body.subarray(body.length - 16));
    return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}
