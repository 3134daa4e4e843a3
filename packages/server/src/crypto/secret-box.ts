import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const CIPHER = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Derives a 32-byte key for one purpose from the master secret (HKDF-SHA256, salt 'gatehouse', `purpose` as
 * info), so no two uses share a key and no key is the master secret itself. The derivation is fixed: changing it
 * would make every sealed value unreadable.
 */
export function deriveKey(masterSecret: string, purpose: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', masterSecret, 'gatehouse', purpose, 32));
}

/**
 * Encrypts a secret for storage with AES-256-GCM under a fresh random 96-bit IV, as `v1.<iv>.<ciphertext+tag>`
 * (base64url). `associatedData` (e.g. the row id) is authenticated but not stored, so a sealed value copied onto
 * another row no longer opens.
 */
export function seal(key: Uint8Array, plaintext: string, associatedData?: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(CIPHER, key, iv, { authTagLength: TAG_BYTES });
  if (associatedData !== undefined) cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${VERSION}.${iv.toString('base64url')}.${body.toString('base64url')}`;
}

/** Opens a sealed value; null when the key, the associated data or the value itself is wrong. Never throws. */
export function open(key: Uint8Array, sealed: string, associatedData?: string): string | null {
  const parts = sealed.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION) return null;
  const iv = decodeStrict(parts[1] ?? '');
  const body = decodeStrict(parts[2] ?? '');
  if (!iv || !body || iv.length !== IV_BYTES || body.length < TAG_BYTES) return null;
  try {
    const decipher = createDecipheriv(CIPHER, key, iv, { authTagLength: TAG_BYTES });
    if (associatedData !== undefined) decipher.setAAD(Buffer.from(associatedData, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    const plaintext = Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
    return plaintext.toString('utf8');
  } catch {
    return null;
  }
}

/** Node's base64url decoder skips stray characters; only the canonical spelling of the bytes is accepted. */
function decodeStrict(text: string): Buffer | null {
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : null;
}
