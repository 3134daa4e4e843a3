import { errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import type pg from 'pg';

export type Verified = { ok: true; claims: JWTPayload } | { ok: false; reason: 'expired' | 'invalid' };

export interface VerifierOptions {
  /** Gatehouse's GATEHOUSE_PUBLIC_URL, exactly: the `iss` of its tokens. */
  issuer: string;
  /** GATEHOUSE_JWT_AUDIENCE (default `gatehouse`). */
  audience: string;
  /** `createRemoteJWKSet(new URL('/.well-known/jwks.json', issuer))`: fetched once, refetched on an unknown kid. */
  keys: JWTVerifyGetKey;
  /** GATEHOUSE_JWT_ALGORITHM; pinned so that no other algorithm is ever accepted. */
  algorithm?: 'ES256' | 'EdDSA' | 'RS256';
}

/**
 * Checks a Gatehouse access token: signature against the published keys, issuer, audience, expiry, and
 * `token_use: 'access'` (Gatehouse's session-cookie JWT is signed by the same key, but it is not a bearer token).
 * Never throws: a bad token is a value, for the caller to answer 401.
 */
export function createAccessTokenVerifier(options: VerifierOptions): (token: string) => Promise<Verified> {
  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, options.keys, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: [options.algorithm ?? 'ES256'],
        requiredClaims: ['sub', 'exp'],
      });
      if (payload.token_use !== 'access') return { ok: false, reason: 'invalid' };
      return { ok: true, claims: payload };
    } catch (error) {
      return { ok: false, reason: error instanceof errors.JWTExpired ? 'expired' : 'invalid' };
    }
  };
}

/**
 * Runs `work` in a transaction whose first statement hands the verified claims to PostgreSQL, where the policies
 * read them. The third argument of set_config, `true`, makes the setting end with the transaction: the pooled
 * connection goes back to the pool without the caller's identity on it. Only ever pass claims that
 * `createAccessTokenVerifier` answered.
 */
export async function withClaims<T>(
  pool: pg.Pool,
  claims: JWTPayload,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let reusable = true;
  try {
    await client.query('begin');
    await client.query("select set_config('request.jwt.claims', $1, true)", [JSON.stringify(claims)]);
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (error) {
    // A connection whose rollback failed is in an unknown state: close it rather than reuse it.
    await client.query('rollback').catch(() => {
      reusable = false;
    });
    throw error;
  } finally {
    client.release(!reusable);
  }
}
