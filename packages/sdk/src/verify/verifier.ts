import { createRemoteJWKSet, customFetch, type JWTPayload, jwtVerify } from 'jose';
import { GatehouseError } from '../errors.js';

/** The claims of a Gatehouse access token (DESIGN.md §3). */
export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  /** The user id. */
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  /** The session id. */
  sid: string;
  /** Always `access`: the server's session-cookie JWTs (`session`) are signed by the same keys and refused here. */
  token_use: 'access';
  role: string;
  permissions: string[];
  project: string;
  amr?: string[];
  auth_time?: number;
}

/** Why a token was refused, as the registry codes a resource server should answer with. */
export type VerifyFailure =
  | GatehouseError<'INVALID_CREDENTIALS'>
  | GatehouseError<'TOKEN_EXPIRED'>
  | GatehouseError<'INVALID_TOKEN'>
  | GatehouseError<'SERVICE_UNAVAILABLE'>;

export type VerifyResult = { ok: true; claims: AccessTokenClaims } | { ok: false; error: VerifyFailure };

export interface VerifierOptions {
  /** The Gatehouse public URL: the `iss` of its tokens. */
  issuer: string;
  /** Accepted `aud` values (default `gatehouse`, the server's default GATEHOUSE_JWT_AUDIENCE). */
  audience?: string | string[];
  /** Where the keys are (default `<issuer>/.well-known/jwks.json`). */
  jwksUrl?: string;
  /** Accepted algorithms (default the three Gatehouse signs with: ES256, EdDSA, RS256). */
  algorithms?: string[];
  /** Leeway for `exp`, `nbf` and `iat`, in seconds (default 5). */
  clockTolerance?: number;
  /** Least time between two JWKS fetches triggered by an unknown `kid`, in ms (default 30 s). */
  cooldown?: number;
  /** How long fetched keys are used before they are fetched again, in ms (default 10 min). */
  cacheMaxAge?: number;
  /** How many verified tokens are remembered until they expire (default 1000; 0 turns the cache off). */
  cacheSize?: number;
  /** The fetch used for the JWKS. */
  fetch?: typeof fetch;
  /** The clock, in ms (default `Date.now`). */
  now?: () => number;
}

export interface Verifier {
  /** Checks a token's signature and claims. Expected failures are values, never exceptions. */
  verify(token: string | null | undefined): Promise<VerifyResult>;
  /** The bearer token of an `Authorization` header value, or null. */
  tokenFrom(authorization: string | string[] | null | undefined): string | null;
}

const ALGORITHMS = ['ES256', 'EdDSA', 'RS256'];
/** Errors that say the key source failed rather than the token: answered 503 and not remembered. */
const KEY_SOURCE_FAILURES = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID', 'ERR_JOSE_GENERIC']);

/**
 * Verifies Gatehouse access tokens for a resource server. The JWKS is fetched once and kept (jose's remote key
 * set); a token signed with an unknown `kid` triggers one fetch, at most once per cooldown, which is how a key
 * rotation arrives without a restart. A verified token is remembered until it expires, so a client repeating its
 * token costs one signature check. Revocation is not visible here: tokens are short-lived by design.
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const issuer = options.issuer;
  const jwksUrl = new URL(options.jwksUrl ?? `${issuer.replace(/\/+$/, '')}/.well-known/jwks.json`);
  const keys = createRemoteJWKSet(jwksUrl, {
    cooldownDuration: options.cooldown ?? 30_000,
    cacheMaxAge: options.cacheMaxAge ?? 600_000,
    ...(options.fetch ? { [customFetch]: options.fetch } : {}),
  });
  const audience = options.audience ?? 'gatehouse';
  const algorithms = options.algorithms ?? ALGORITHMS;
  const clockTolerance = options.clockTolerance ?? 5;
  const now = options.now ?? Date.now;
  const cacheSize = options.cacheSize ?? 1000;
  const cache = new Map<string, AccessTokenClaims>();

  function remember(token: string, claims: AccessTokenClaims): void {
    if (cacheSize <= 0) return;
    if (cache.size >= cacheSize) {
      const oldest = cache.keys().next();
      if (!oldest.done) cache.delete(oldest.value);
    }
    cache.set(token, claims);
  }

  return {
    tokenFrom(authorization) {
      const value = Array.isArray(authorization) ? authorization[0] : authorization;
      if (!value) return null;
      const match = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(value);
      return match?.[1] ?? null;
    },

    async verify(token) {
      if (!token) {
        return { ok: false, error: new GatehouseError('INVALID_CREDENTIALS', 401, 'Authentication is required.') };
      }
      const seconds = now() / 1000;
      const cached = cache.get(token);
      if (cached) {
        if (cached.exp + clockTolerance > seconds) return { ok: true, claims: cached };
        cache.delete(token);
        return { ok: false, error: new GatehouseError('TOKEN_EXPIRED', 401, 'Token expired.') };
      }
      try {
        const { payload } = await jwtVerify(token, keys, {
          issuer,
          audience,
          algorithms,
          clockTolerance,
          currentDate: new Date(now()),
          requiredClaims: ['exp', 'iat', 'sub'],
        });
        const claims = payload as AccessTokenClaims;
        // A session-cookie JWT is signed by the same keys; taking one as an access token would let a cookie
        // that leaked into a header act as a bearer token.
        if (claims.token_use !== 'access') {
          return { ok: false, error: new GatehouseError('INVALID_TOKEN', 403, 'Invalid token.') };
        }
        if (!Array.isArray(claims.permissions)) claims.permissions = [];
        remember(token, claims);
        return { ok: true, claims };
      } catch (cause) {
        const code = (cause as { code?: unknown }).code;
        if (code === 'ERR_JWT_EXPIRED') {
          return { ok: false, error: new GatehouseError('TOKEN_EXPIRED', 401, 'Token expired.', { cause }) };
        }
        if (typeof code !== 'string' || KEY_SOURCE_FAILURES.has(code)) {
          return {
            ok: false,
            error: new GatehouseError('SERVICE_UNAVAILABLE', 503, 'The signing keys cannot be fetched.', { cause }),
          };
        }
        return { ok: false, error: new GatehouseError('INVALID_TOKEN', 403, 'Invalid token.', { cause }) };
      }
    },
  };
}

/**
 * True when the token's permissions cover `required`: exactly, through `*`, or through `<resource>:*` (the
 * server's rule).
 */
export function hasPermission(claims: Pick<AccessTokenClaims, 'permissions'>, required: string): boolean {
  const resource = required.slice(0, required.indexOf(':') + 1);
  for (const permission of claims.permissions ?? []) {
    if (permission === '*' || permission === required) return true;
    if (resource && permission === `${resource}*`) return true;
  }
  return false;
}

/** Throws a 403 `FORBIDDEN` GatehouseError unless the token's permissions cover `required`. */
export function requirePermission(claims: Pick<AccessTokenClaims, 'permissions'>, required: string): void {
  if (!hasPermission(claims, required)) {
    throw new GatehouseError('FORBIDDEN', 403, `The permission ${required} is required.`);
  }
}
