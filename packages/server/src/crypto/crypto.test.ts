import { compactVerify, decodeJwt, importJWK, type JWK, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { constantTimeEqual, hmacSha256, sha256 } from './hash.js';
import { createJwtSigner, createJwtVerifier } from './jwt.js';
import { hashPassword, OWASP_ARGON2ID, verifyPassword } from './password.js';
import { randomDigits, randomToken } from './random.js';
import { deriveKey, open, seal } from './secret-box.js';
import { generateSigningKey, type SigningAlgorithm } from './signing-keys.js';

const FAST = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

describe('passwords (argon2id)', () => {
  it('hashes with argon2id and the OWASP parameters, and verifies', async () => {
    const hash = await hashPassword('correct horse', OWASP_ARGON2ID);
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await verifyPassword(hash, 'correct horse', OWASP_ARGON2ID)).toEqual({ valid: true, needsRehash: false });
    expect(await verifyPassword(hash, 'wrong horse', OWASP_ARGON2ID)).toEqual({ valid: false, needsRehash: false });
  });

  it('asks for a rehash when the stored parameters differ', async () => {
    const hash = await hashPassword('correct horse', FAST);
    expect(await verifyPassword(hash, 'correct horse', { ...FAST, memoryCost: 2048 })).toEqual({ valid: true, needsRehash: true });
    expect(await verifyPassword(hash, 'correct horse', FAST)).toEqual({ valid: true, needsRehash: false });
  });

  it('does the same argon2 work for a missing hash and answers invalid', async () => {
    const slow = { memoryCost: 65536, timeCost: 3, parallelism: 1 };
    await verifyPassword(null, 'warm-up', slow);
    const started = performance.now();
    expect(await verifyPassword(null, 'anything', slow)).toEqual({ valid: false, needsRehash: false });
    const dummy = performance.now() - started;
    const real = await hashPassword('anything', slow);
    const startedReal = performance.now();
    await verifyPassword(real, 'something else', slow);
    const verify = performance.now() - startedReal;
    // Not a speed goal: proof that the dummy path runs argon2 at all (a skipped verify takes microseconds).
    expect(dummy).toBeGreaterThan(verify / 4);
  });

  it('answers invalid for a malformed stored hash instead of throwing', async () => {
    expect(await verifyPassword('not a hash', 'x', FAST)).toEqual({ valid: false, needsRehash: false });
  });
});

describe('hashes and random values', () => {
  it('computes SHA-256 (FIPS 180-2 "abc" vector)', () => {
    expect(Buffer.from(sha256('abc'), 'base64url').toString('hex')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('computes HMAC-SHA256 (RFC 4231 test case 2)', () => {
    const mac = hmacSha256(new TextEncoder().encode('Jefe'), 'what do ya want for nothing?');
    expect(Buffer.from(mac, 'base64url').toString('hex')).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('compares in constant time, and unequal lengths are simply unequal', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
  });

  it('draws 256-bit tokens and digit codes', () => {
    const token = randomToken();
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(randomToken()).not.toBe(token);
    expect(randomDigits(6)).toMatch(/^\d{6}$/);
  });
});

describe('secret box (AES-256-GCM)', () => {
  const key = deriveKey('master secret master secret master secret', 'test');

  it('derives keys with HKDF-SHA256 (RFC 5869 test case 1)', async () => {
    const { hkdfSync } = await import('node:crypto');
    const ikm = Buffer.alloc(22, 0x0b);
    const salt = Buffer.from('000102030405060708090a0b0c', 'hex');
    const info = Buffer.from('f0f1f2f3f4f5f6f7f8f9', 'hex');
    expect(Buffer.from(hkdfSync('sha256', ikm, salt, info, 42)).toString('hex')).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );
    expect(deriveKey('a', 'one')).not.toEqual(deriveKey('a', 'two'));
    expect(deriveKey('a', 'one')).toHaveLength(32);
  });

  it('opens what it sealed, and nothing else', () => {
    const sealed = seal(key, 'private key', 'kid-1');
    expect(sealed).toMatch(/^v1\./);
    expect(sealed).not.toContain('private key');
    expect(open(key, sealed, 'kid-1')).toBe('private key');
    expect(open(key, sealed, 'kid-2')).toBeNull();
    expect(open(deriveKey('another secret', 'test'), sealed, 'kid-1')).toBeNull();
    const [version, iv, body] = sealed.split('.');
    const flipped = Buffer.from(body!, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    expect(open(key, `${version}.${iv}.${flipped.toString('base64url')}`, 'kid-1')).toBeNull();
    expect(open(key, 'garbage', 'kid-1')).toBeNull();
  });
});

describe('RFC 8037 Ed25519 JWS (Appendix A.4)', () => {
  it('verifies the RFC example with its public key', async () => {
    const publicJwk: JWK = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };
    const jws =
      'eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg';
    const { payload } = await compactVerify(jws, await importJWK(publicJwk, 'EdDSA'));
    expect(new TextDecoder().decode(payload)).toBe('Example of Ed25519 signing');
  });
});

describe('JWT signing and verification', () => {
  const ISSUER = 'https://auth.example.com';
  const AUDIENCE = 'gatehouse';

  async function setup(alg: SigningAlgorithm, cacheSize?: number) {
    const key = await generateSigningKey(alg);
    const signer = await createJwtSigner(key);
    let now = Date.now();
    let keys = [key.publicJwk];
    const verifier = createJwtVerifier({
      keys: () => keys,
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: [alg],
      now: () => now,
      ...(cacheSize ? { cacheSize } : {}),
    });
    const sign = (claims: Record<string, unknown> = {}, expiresInSeconds = 60) =>
      signer.sign(claims, { issuer: ISSUER, audience: AUDIENCE, subject: 'user-1', expiresInSeconds, now });
    return {
      key,
      signer,
      verifier,
      sign,
      advance: (ms: number) => {
        now += ms;
      },
      setKeys: (next: JWK[]) => {
        keys = next;
      },
    };
  }

  it.each(['ES256', 'EdDSA', 'RS256'] as const)('signs and verifies with %s; the kid is the key thumbprint', async (alg) => {
    const { key, sign, verifier } = await setup(alg);
    expect(key.publicJwk).toMatchObject({ alg, use: 'sig', kid: key.kid });
    expect(key.publicJwk).not.toHaveProperty('d');
    const token = await sign({ role: 'user' });
    const result = await verifier.verify(token);
    expect(result).toMatchObject({ ok: true, claims: { sub: 'user-1', role: 'user', iss: ISSUER, aud: AUDIENCE } });
    expect(decodeJwt(token).jti).toEqual(expect.any(String));
  });

  it('refuses tampered, alg:none, foreign-key and wrong-issuer tokens as invalid', async () => {
    const { sign, verifier, key } = await setup('ES256');
    const token = await sign({ role: 'user' });
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, role: 'admin' })).toString('base64url')}.${signature}`;
    expect(await verifier.verify(tampered)).toEqual({ ok: false, reason: 'invalid' });
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
    expect(await verifier.verify(none)).toEqual({ ok: false, reason: 'invalid' });
    const impostor = await generateSigningKey('ES256');
    const foreign = await (await createJwtSigner({ ...impostor, kid: key.kid, privateJwk: { ...impostor.privateJwk, kid: key.kid } })).sign(
      {},
      { issuer: ISSUER, audience: AUDIENCE, subject: 'user-1', expiresInSeconds: 60, now: Date.now() },
    );
    expect(await verifier.verify(foreign)).toEqual({ ok: false, reason: 'invalid' });
    const wrongIssuer = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: key.kid })
      .setIssuer('https://evil.example')
      .setAudience(AUDIENCE)
      .setExpirationTime('1m')
      .sign(await importJWK(key.privateJwk, 'ES256'));
    expect(await verifier.verify(wrongIssuer)).toEqual({ ok: false, reason: 'invalid' });
    expect(await verifier.verify('not.a.jwt')).toEqual({ ok: false, reason: 'invalid' });
  });

  it('answers expired once exp has passed, from the cache too', async () => {
    const { sign, verifier, advance } = await setup('ES256');
    const token = await sign({}, 60);
    expect((await verifier.verify(token)).ok).toBe(true);
    advance(61_000);
    expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'expired' });
    const fresh = await sign({}, 60);
    advance(120_000);
    expect(await verifier.verify(fresh)).toEqual({ ok: false, reason: 'expired' });
  });

  it('serves a verified token from its cache, and keeps the cache bounded', async () => {
    const key = await generateSigningKey('ES256');
    const signer = await createJwtSigner(key);
    let keyLookups = 0;
    let keys: JWK[] = [key.publicJwk];
    const verifier = createJwtVerifier({
      keys: () => {
        keyLookups += 1;
        return keys;
      },
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['ES256'],
      now: () => Date.now(),
      cacheSize: 2,
    });
    const sign = (n: number) =>
      signer.sign({ n }, { issuer: ISSUER, audience: AUDIENCE, subject: 'u', expiresInSeconds: 60, now: Date.now() });
    const first = await sign(1);
    expect((await verifier.verify(first)).ok).toBe(true);
    expect(keyLookups).toBe(1);
    // A cache hit never reaches signature verification (which is what looks the keys up).
    expect((await verifier.verify(first)).ok).toBe(true);
    expect(keyLookups).toBe(1);
    await verifier.verify(await sign(2));
    await verifier.verify(await sign(3));
    expect(verifier.size).toBe(2);
    // The first token was evicted, so it is verified again, against a key set that no longer has its key.
    keys = [];
    expect(await verifier.verify(first)).toEqual({ ok: false, reason: 'invalid' });
  });
});
