import { type Algorithm, hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import { asPasswordWork } from './threadpool.js';

/** `Algorithm.Argon2id`. The library declares a const enum, which `isolatedModules` cannot read at runtime. */
const ARGON2ID = 2 as Algorithm;

/** Argon2 version 1.3 (0x13), the one @node-rs/argon2 writes; older hashes are rehashed. */
const ARGON2_VERSION = 19;

export interface PasswordParams {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** OWASP's argon2id recommendation: 19 MiB of memory, 2 iterations, 1 lane. */
export const OWASP_ARGON2ID: PasswordParams = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

/** Hashes a password with argon2id into a PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`). */
export async function hashPassword(password: string, params: PasswordParams): Promise<string> {
  return asPasswordWork(() =>
    argon2Hash(password, {
      algorithm: ARGON2ID,
      memoryCost: params.memoryCost,
      timeCost: params.timeCost,
      parallelism: params.parallelism,
    }),
  );
}

/**
 * Verifies a password against a stored PHC hash; never throws for a bad hash.
 *
 * When there is no hash (unknown account, or no password set) the same argon2id work is still done against a
 * dummy hash made with `params`, so response times do not reveal which accounts exist. `needsRehash` is only
 * ever true together with `valid`: it says the stored hash uses other parameters or another algorithm than
 * `params`, and the caller, who now holds the right password, should store a fresh hash.
 */
export async function verifyPassword(
  hash: string | null,
  password: string,
  params: PasswordParams,
): Promise<{ valid: boolean; needsRehash: boolean }> {
  if (hash === null) {
    await verifyQuietly(await dummyHash(params), password);
    return { valid: false, needsRehash: false };
  }
  const valid = await verifyQuietly(hash, password);
  return { valid, needsRehash: valid && !matchesParams(hash, params) };
}

async function verifyQuietly(stored: string, password: string): Promise<boolean> {
  try {
    return await asPasswordWork(() => argon2Verify(stored, password));
  } catch {
    return false;
  }
}

const dummyHashes = new Map<string, Promise<string>>();

/** One dummy hash per parameter set, computed on first use and kept, so the decoy costs one verify, not two. */
function dummyHash(params: PasswordParams): Promise<string> {
  const key = `${params.memoryCost}:${params.timeCost}:${params.parallelism}`;
  let cached = dummyHashes.get(key);
  if (!cached) {
    cached = hashPassword('gatehouse-dummy-password', params);
    cached.catch(() => dummyHashes.delete(key));
    dummyHashes.set(key, cached);
  }
  return cached;
}

interface PhcArgon2 {
  algorithm: string;
  version: number;
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** Reads `$argon2id$v=19$m=19456,t=2,p=1$salt$hash`; the version field is absent in pre-1.3 hashes. */
function parsePhc(stored: string): PhcArgon2 | null {
  const match = /^\$(argon2(?:id|i|d))(?:\$v=(\d+))?\$([^$]+)\$[^$]+\$[^$]+$/.exec(stored);
  if (!match) return null;
  const [, algorithm = '', version = '16', paramText = ''] = match;
  const fields = new Map(
    paramText.split(',').map((pair): [string, string] => {
      const [name = '', value = ''] = pair.split('=');
      return [name, value];
    }),
  );
  const memoryCost = Number(fields.get('m'));
  const timeCost = Number(fields.get('t'));
  const parallelism = Number(fields.get('p'));
  if (![memoryCost, timeCost, parallelism].every(Number.isSafeInteger)) return null;
  return { algorithm, version: Number(version), memoryCost, timeCost, parallelism };
}

function matchesParams(stored: string, params: PasswordParams): boolean {
  const phc = parsePhc(stored);
  return (
    phc !== null &&
    phc.algorithm === 'argon2id' &&
    phc.version === ARGON2_VERSION &&
    phc.memoryCost === params.memoryCost &&
    phc.timeCost === params.timeCost &&
    phc.parallelism === params.parallelism
  );
}
