import { CompactSign, calculateJwkThumbprint, compactVerify, importJWK, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { generateSigningKey, type SigningAlgorithm } from './signing-keys.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

describe('generateSigningKey', () => {
  it.each([
    ['ES256', { kty: 'EC', crv: 'P-256' }],
    ['EdDSA', { kty: 'OKP', crv: 'Ed25519' }],
    ['RS256', { kty: 'RSA', e: 'AQAB' }],
  ] as const)('makes a %s key whose kid is the RFC 7638 thumbprint of its public key', async (alg, shape) => {
    const key = await generateSigningKey(alg);
    expect(key.alg).toBe(alg);
    expect(key.publicJwk).toMatchObject({ ...shape, kid: key.kid, alg, use: 'sig' });
    expect(key.privateJwk).toMatchObject({ ...shape });
    expect(key.privateJwk.d).toEqual(expect.any(String));
    for (const member of PRIVATE_MEMBERS) expect(key.publicJwk).not.toHaveProperty(member);
    expect(key.kid).toBe(await calculateJwkThumbprint(key.publicJwk, 'sha256'));
    expect(key.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('makes 2048-bit RSA keys', async () => {
    const key = await generateSigningKey('RS256');
    expect(Buffer.from(key.publicJwk.n ?? '', 'base64url')).toHaveLength(256);
  });

  it('makes a usable pair: what the private key signs, the public key verifies', async () => {
    for (const alg of ['ES256', 'EdDSA', 'RS256'] satisfies SigningAlgorithm[]) {
      const key = await generateSigningKey(alg);
      const jws = await new CompactSign(new TextEncoder().encode('hello'))
        .setProtectedHeader({ alg })
        .sign(await importJWK(key.privateJwk, alg));
      const { payload } = await compactVerify(jws, await importJWK(key.publicJwk, alg));
      expect(new TextDecoder().decode(payload)).toBe('hello');
    }
  });

  it('never gives two keys the same kid', async () => {
    const first = await generateSigningKey('ES256');
    const second = await generateSigningKey('ES256');
    expect(first.kid).not.toBe(second.kid);
  });
});

describe('RFC 8037 Ed25519 vectors', () => {
  const privateJwk: JWK = {
    kty: 'OKP',
    crv: 'Ed25519',
    d: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A',
    x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
  };
  const publicJwk: JWK = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };
  const jws =
    'eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.' +
    'hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg';

  it('A.3: the thumbprint of the public key', async () => {
    expect(await calculateJwkThumbprint(publicJwk, 'sha256')).toBe('kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
  });

  it('A.4: the example JWS verifies with the public key', async () => {
    const { payload, protectedHeader } = await compactVerify(jws, await importJWK(publicJwk, 'EdDSA'));
    expect(protectedHeader).toEqual({ alg: 'EdDSA' });
    expect(new TextDecoder().decode(payload)).toBe('Example of Ed25519 signing');
  });

  it('A.4: signing the example reproduces the JWS exactly (Ed25519 is deterministic)', async () => {
    const signed = await new CompactSign(new TextEncoder().encode('Example of Ed25519 signing'))
      .setProtectedHeader({ alg: 'EdDSA' })
      .sign(await importJWK(privateJwk, 'EdDSA'));
    expect(signed).toBe(jws);
  });
});
