import { createPrivateKey, type KeyObject, sign as signBytes } from 'node:crypto';
import { createLocalJWKSet, errors, type JWK, type JWTPayload, jwtVerify } from 'jose';
import { randomId } from './random.js';
import type { SigningAlgorithm, SigningKey } from './signing-keys.js';
import { poolHasRoom } from './threadpool.js';

export interface JwtClaims {
  [claim: string]: unknown;
  sub?: string;
  exp?: number;
  iat?: number;
  jti?: string;
  iss?: string;
  aud?: string | string[];
}

export interface JwtSigner {
  kid: string;
  alg: SigningAlgorithm;
  sign(
    claims: Record<string, unknown>,
    options: { issuer: string; audience: string; subject: string; expiresInSeconds: number; now: number /* ms */ },
  ): Promise<string>;
}

const DIGEST: Record<SigningAlgorithm, string | null> = { ES256: 'sha256', RS256: 'sha256', EdDSA: null };

const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Signs compact JWS with node:crypto rather than jose: jose signs through WebCrypto, which measured ~90 µs per
 * ES256 token here against ~19 µs for node:crypto's sign, and signing sits on every login and refresh; it runs on
 * libuv's threadpool when a thread is free (`signInput`). The serialization is RFC 7515 compact form; ECDSA
 * signatures use the JOSE (IEEE P1363) encoding. Verification stays with jose, which is where the parsing of
 * untrusted input happens.
 *
 * The private key is imported once, here. Times come from `options.now` (ms); `iss`, `aud`, `sub`, `iat` and
 * `exp` always come from the options, and each token gets a random `jti` unless the claims bring their own.
 */
export async function createJwtSigner(key: SigningKey): Promise<JwtSigner> {
  const privateKey = createPrivateKey({ key: { ...key.privateJwk }, format: 'jwk' });
  const header = base64url({ alg: key.alg, kid: key.kid, typ: 'JWT' });
  const digest = DIGEST[key.alg];
  return {
    kid: key.kid,
    alg: key.alg,
    async sign(claims, options): Promise<string> {
      const iat = Math.floor(options.now / 1000);
      // Object.assign rather than a spread followed by properties: V8 defined each of those through an inline
      // cache that kept missing here (~4 µs a token under load, from CPU profiles of the refresh).
      const payload = base64url(
        Object.assign({}, claims, {
          iss: options.issuer,
          aud: options.audience,
          sub: options.subject,
          iat,
          exp: iat + options.expiresInSeconds,
          jti: typeof claims.jti === 'string' ? claims.jti : randomId(),
        }),
      );
      const input = `${header}.${payload}`;
      const signature = await signInput(digest, Buffer.from(input), privateKey);
      return `${input}.${signature.toString('base64url')}`;
    },
  };
}

/** How long a signature may wait for a pool thread before it is made on the main thread instead. */
const POOL_SIGN_DEADLINE_MS = 20;

/**
 * An ES256 signature costs ~26 µs of CPU in isolation and ~39 µs on a loaded server, a third of a refresh. It runs
 * on libuv's threadpool, off the event loop, while password hashes leave a thread free there (threadpool.ts), and
 * on the main thread otherwise. Work the count cannot see (a DNS lookup that hangs holds a pool thread for
 * seconds) only delays a signature by the deadline: then it is made on the main thread, and the pool's late
 * answer is dropped.
 */
function signInput(digest: string | null, data: Buffer, key: KeyObject): Promise<Buffer> | Buffer {
  const options = { key, dsaEncoding: 'ieee-p1363' as const };
  if (!poolHasRoom()) return signBytes(digest, data, options);
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      try {
        resolve(signBytes(digest, data, options));
      } catch (error) {
        reject(error);
      }
    }, POOL_SIGN_DEADLINE_MS);
    signBytes(digest, data, options, (error, signature) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(signature);
    });
  });
}

export type VerifyResult = { ok: true; claims: JwtClaims } | { ok: false; reason: 'expired' | 'invalid' };

export interface JwtVerifier {
  verify(token: string): Promise<VerifyResult>;
  /** Empties the cache, e.g. after a key was retired for compromise, so its tokens are checked again. */
  clear(): void;
  readonly size: number;
}

type KeySet = ReturnType<typeof createLocalJWKSet>;

/**
 * Verifies JWTs against the current public keys. The algorithms are pinned, so `alg: none`, HMAC keyed with a
 * public key and unknown algorithms are refused; issuer and audience are checked, `exp` is required and there is
 * no clock tolerance. Never throws: a token whose signature holds but whose `exp` has passed is 'expired',
 * anything else wrong is 'invalid'.
 *
 * A signature check costs ~70 µs, so a verified token is kept in a bounded LRU cache and answered from there until
 * its `exp`. The cache is keyed by the signature segment and an entry answers only the exact token it was verified
 * for: hashing the whole ~600-character token for the lookup cost ~7k instructions per request, the signature's
 * 86 characters a seventh of that. Cache hits do not consult `keys()`; call `clear()` when a key must stop
 * verifying at once. Session revocation is the caller's check, on every use. `keys()` should return the same
 * array until the keys change: the key set is rebuilt whenever its identity changes.
 */
export function createJwtVerifier(options: {
  keys: () => JWK[];
  issuer: string;
  audience: string;
  algorithms: SigningAlgorithm[];
  now: () => number /* ms */;
  cacheSize?: number /* default 10000 */;
}): JwtVerifier {
  const limit = options.cacheSize ?? 10_000;
  const cache = new Map<string, { token: string; claims: JwtClaims }>();
  let keys: JWK[] | null = null;
  let keySet: KeySet | null = null;

  function currentKeySet(): KeySet {
    const latest = options.keys();
    if (latest !== keys || !keySet) {
      keySet = createLocalJWKSet({ keys: latest });
      keys = latest;
    }
    return keySet;
  }

  function remember(token: string, claims: JwtClaims): void {
    if (limit <= 0) return;
    while (cache.size >= limit) {
      const oldest = cache.keys().next();
      if (oldest.done) break;
      cache.delete(oldest.value);
    }
    cache.set(signatureOf(token), { token, claims });
  }

  async function verifySignature(token: string, now: number): Promise<VerifyResult> {
    try {
      const { payload } = await jwtVerify(token, currentKeySet(), {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: options.algorithms,
        currentDate: new Date(now),
        clockTolerance: 0,
        requiredClaims: ['exp'],
      });
      return { ok: true, claims: Object.freeze(toClaims(payload)) };
    } catch (error) {
      return { ok: false, reason: error instanceof errors.JWTExpired ? 'expired' : 'invalid' };
    }
  }

  return {
    async verify(token: string): Promise<VerifyResult> {
      const now = options.now();
      const key = signatureOf(token);
      const cached = cache.get(key);
      if (cached?.token === token) {
        cache.delete(key);
        if ((cached.claims.exp ?? 0) * 1000 <= now) return { ok: false, reason: 'expired' };
        cache.set(key, cached);
        return { ok: true, claims: cached.claims };
      }
      const result = await verifySignature(token, now);
      if (result.ok) remember(token, result.claims);
      return result;
    },
    clear(): void {
      cache.clear();
    },
    get size(): number {
      return cache.size;
    },
  };
}

/** The cache key of a token: its signature segment (the whole string when it has no dot). */
function signatureOf(token: string): string {
  return token.slice(token.lastIndexOf('.') + 1);
}

/** The verified payload, typed as the claims our signer writes (jose checked `iss`, `aud` and `exp`). */
function toClaims(payload: JWTPayload): JwtClaims {
  return payload as JwtClaims;
}
