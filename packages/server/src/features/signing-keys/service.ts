import type { JWK } from 'jose';
import type { Kysely } from 'kysely';
import { createJwtSigner, type JwtSigner } from '../../crypto/jwt.js';
import { open, seal } from '../../crypto/secret-box.js';
import { generateSigningKey, type SigningAlgorithm } from '../../crypto/signing-keys.js';
import type { Tables } from '../../db/types.js';

export interface KeyRing {
  /** Signs with the newest active key. */
  signer: JwtSigner;
  /** Public keys of every key not yet retired: the current one and those still verifying older tokens. */
  publicKeys(): JWK[];
  algorithms: SigningAlgorithm[];
}

/**
 * Loads the project's signing keys, creating the first one of the configured algorithm when there is none.
 * Private keys are stored sealed with AES-256-GCM under a key derived from the master secret; the kid is bound
 * as associated data, so a sealed key cannot be swapped onto another row.
 */
export async function loadKeyRing(
  db: Kysely<Tables>,
  options: {
    projectId: string;
    algorithm: SigningAlgorithm;
    sealKey: Uint8Array;
    now: number;
    /** Told of a key generated here (for the audit trail). */
    onCreated?(key: { kid: string; alg: string }): Promise<void>;
  },
): Promise<KeyRing> {
  let rows = await activeKeys(db, options.projectId);
  if (!rows.some((row) => row.alg === options.algorithm)) {
    const key = await generateSigningKey(options.algorithm);
    await db
      .insertInto('signing_keys')
      .values({
        kid: key.kid,
        project_id: options.projectId,
        alg: key.alg,
        public_jwk: JSON.stringify(key.publicJwk),
        private_jwk: seal(options.sealKey, JSON.stringify(key.privateJwk), key.kid),
        created_at: options.now,
        retired_at: null,
      })
      .execute();
    await options.onCreated?.({ kid: key.kid, alg: key.alg });
    rows = await activeKeys(db, options.projectId);
  }
  const current = rows.find((row) => row.alg === options.algorithm);
  if (!current) throw new Error('no signing key for the configured algorithm');
  const privateJwk = open(options.sealKey, current.private_jwk, current.kid);
  if (privateJwk === null) {
    throw new Error(
      `signing key ${current.kid} cannot be decrypted: GATEHOUSE_SECRET differs from the one that sealed it`,
    );
  }
  const signer = await createJwtSigner({
    kid: current.kid,
    alg: options.algorithm,
    privateJwk: JSON.parse(privateJwk) as JWK,
    publicJwk: JSON.parse(current.public_jwk) as JWK,
  });
  const publicKeys = rows.map((row) => JSON.parse(row.public_jwk) as JWK);
  const algorithms = [...new Set(rows.map((row) => row.alg as SigningAlgorithm))];
  return { signer, publicKeys: () => publicKeys, algorithms };
}

async function activeKeys(db: Kysely<Tables>, projectId: string) {
  return db
    .selectFrom('signing_keys')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('retired_at', 'is', null)
    .orderBy('created_at', 'desc')
    .execute();
}
