import { calculateJwkThumbprint, exportJWK, type GenerateKeyPairOptions, generateKeyPair, type JWK } from 'jose';

export type SigningAlgorithm = 'ES256' | 'EdDSA' | 'RS256';

export interface SigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateJwk: JWK;
  publicJwk: JWK;
}

const KEY_OPTIONS: Record<SigningAlgorithm, GenerateKeyPairOptions> = {
  ES256: { extractable: true },
  EdDSA: { extractable: true, crv: 'Ed25519' },
  RS256: { extractable: true, modulusLength: 2048 },
};

/**
 * Generates a signing key pair. It is extractable because the private key is stored (sealed) and loaded again on
 * every node. The kid is the RFC 7638 thumbprint of the public key, so a kid always names one exact key and two
 * keys never share one by accident.
 */
export async function generateSigningKey(alg: SigningAlgorithm): Promise<SigningKey> {
  const pair = await generateKeyPair(alg, KEY_OPTIONS[alg]);
  const publicJwk = await exportJWK(pair.publicKey);
  const privateJwk = await exportJWK(pair.privateKey);
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
  return {
    kid,
    alg,
    privateJwk: { ...privateJwk, kid, alg },
    publicJwk: { ...publicJwk, kid, alg, use: 'sig' },
  };
}
