import { type Algorithm, hash, verify } from '@node-rs/argon2';

/** `Algorithm.Argon2id`; the library exports it as a const enum, which isolated modules cannot read. */
const ARGON2ID = 2 as Algorithm;

export interface PasswordParams {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** OWASP's argon2id recommendation: 19 MiB, 2 iterations, 1 lane. */
export const OWASP_ARGON2ID: PasswordParams = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

export async function hashPassword(password: string, params: PasswordParams): Promise<string> {
  return hash(password, { algorithm: ARGON2ID, ...params });
}

const dummyHashes = new Map<string, Promise<string>>();

/**
 * A fixed hash with the same parameters, verified when there is no account, so that an unknown e-mail costs the
 * same argon2id work as a wrong password and response times do not reveal which accounts exist.
 */
function dummyHash(params: PasswordParams): Promise<string> {
  const key = `${params.memoryCost}:${params.timeCost}:${params.parallelism}`;
  let cached = dummyHashes.get(key);
  if (!cached) {
    cached = hashPassword('gatehouse dummy password', params);
    dummyHashes.set(key, cached);
  }
  return cached;
}

/** Verifies a password; `needsRehash` says the stored hash was made with other parameters than `params`. */
export async function verifyPassword(
  stored: string | null,
  password: string,
  params: PasswordParams,
): Promise<{ valid: boolean; needsRehash: boolean }> {
  if (stored === null) {
    await verify(await dummyHash(params), password).catch(() => false);
    return { valid: false, needsRehash: false };
  }
  let valid = false;
  try {
    valid = await verify(stored, password);
  } catch {
    return { valid: false, needsRehash: false };
  }
  return { valid, needsRehash: valid && !hasParams(stored, params) };
}

function hasParams(stored: string, params: PasswordParams): boolean {
  const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(stored);
  if (!match) return false;
  return (
    Number(match[1]) === params.memoryCost &&
    Number(match[2]) === params.timeCost &&
    Number(match[3]) === params.parallelism
  );
}
