import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * API key format: `<prefix><43 base62 characters: 32 random bytes><6 base62 characters: CRC32 of what precedes>`.
 *
 * - The prefix says what the key is and lets secret scanners (GitHub push protection, trufflehog, gitleaks) find
 *   a leaked one with a plain regular expression: `gatehouse_(pat|sk|pk)_[0-9A-Za-z]{49}`.
 * - 32 random bytes are 256 bits: nothing to brute-force, so a SHA-256 of the key is what is stored (DESIGN §4),
 *   and checking one costs a hash, not an argon2 run.
 * - The checksum lets a typo, a truncated paste or a made-up string be refused before any database work or
 *   cache lookup. It is not a secret and proves nothing about the key's validity.
 * - Base62 (no `-` or `_` inside the body): a double-click selects the whole key.
 */
export const API_KEY_PREFIXES = {
  /** A person's key for scripts, CI and services acting as that person. */
  personal: 'gatehouse_pat_',
  /** A project's publishable key: names the project on the public auth endpoints; safe in a browser. */
  publishable: 'gatehouse_pk_',
  /** A project's secret key: server-side administration of the project. */
  secret: 'gatehouse_sk_',
} as const;

export type ApiKeyKind = keyof typeof API_KEY_PREFIXES;

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BODY_LENGTH = 43;
const CHECKSUM_LENGTH = 6;
/** Characters of the random body shown in listings, after the kind prefix, to tell keys apart. */
const DISPLAY_LENGTH = 6;
const KEY_PATTERN = /^gatehouse_(pat|pk|sk)_([0-9A-Za-z]{43})([0-9A-Za-z]{6})$/;
const KIND_OF_TAG = { pat: 'personal', pk: 'publishable', sk: 'secret' } as const;

function base62(value: bigint, length: number): string {
  let out = '';
  let rest = value;
  for (let i = 0; i < length; i++) {
    out = ALPHABET[Number(rest % 62n)] + out;
    rest /= 62n;
  }
  return out;
}

/** CRC32 in 6 base62 characters. Plain numbers (a CRC32 fits a double exactly): this runs on every request. */
function checksum(text: string): string {
  let rest = crc32(text);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = ALPHABET[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out;
}

export interface GeneratedApiKey {
  key: string;
  /** What listings show of the key: the kind prefix and the first characters of the random part. */
  displayPrefix: string;
}

/** A new key of `kind`: 256 random bits, base62, with its checksum. */
export function generateApiKey(kind: ApiKeyKind): GeneratedApiKey {
  const body = base62(BigInt(`0x${randomBytes(32).toString('hex')}`), BODY_LENGTH);
  const head = API_KEY_PREFIXES[kind] + body;
  return { key: head + checksum(head), displayPrefix: head.slice(0, API_KEY_PREFIXES[kind].length + DISPLAY_LENGTH) };
}

/** True when `value` starts like a Gatehouse key (of any kind), well-formed or not. */
export function looksLikeApiKey(value: string): boolean {
  return value.startsWith('gatehouse_');
}

/**
 * The kind of a well-formed key whose checksum matches, or null. Pure string work: no database, no cache, so a
 * malformed key costs nothing more than this.
 */
export function parseApiKey(value: string): ApiKeyKind | null {
  const match = KEY_PATTERN.exec(value);
  if (!match) return null;
  const head = value.slice(0, value.length - CHECKSUM_LENGTH);
  if (checksum(head) !== match[3]) return null;
  return KIND_OF_TAG[match[1] as keyof typeof KIND_OF_TAG];
}
