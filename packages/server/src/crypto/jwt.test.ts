import { pbkdf2 } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, importJWK, type JWK, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createJwtSigner, createJwtVerifier, type JwtSigner, type JwtVerifier } from './jwt.js';
import { generateSigningKey, type SigningAlgorithm, type SigningKey } from './signing-keys.js';
import { asPasswordWork, poolHasRoom, THREADPOOL_SIZE } from './threadpool.js';

const ISSUER = 'https://auth.example.com';
const AUDIENCE = 'gatehouse';
const START = 1_700_000_000_250;

interface Harness {
  key: SigningKey;
  signer: JwtSigner;
  verifier: JwtVerifier;
  clock: { now: number };
  keys: { list: JWK[]; lookups: number };
  sign(claims?: Record<string, unknown>, expiresInSeconds?: number): Promise<string>;
}

async function harness(alg: SigningAlgorithm = 'ES256', cacheSize?: number): Promise<Harness> {
  const key = await generateSigningKey(alg);
  const signer = await createJwtSigner(key);
  const clock = { now: START };
  const keys = { list: [key.publicJwk], lookups: 0 };
  const verifier = createJwtVerifier({
    keys: () => {
      keys.lookups += 1;
      return keys.list;
    },
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: [alg],
    now: () => clock.now,
    ...(cacheSize === undefined ? {} : { cacheSize }),
  });
  const sign = (claims: Record<string, unknown> = {}, expiresInSeconds = 900): Promise<string> =>
    signer.sign(claims, { issuer: ISSUER, audience: AUDIENCE, subject: 'user-1', expiresInSeconds, now: clock.now });
  return { key, signer, verifier, clock, keys, sign };
}

/** Signs arbitrary claims with the harness key, bypassing the signer's defaults. */
async function signRaw(key: SigningKey, claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .sign(await importJWK(key.privateJwk, key.alg));
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('createJwtSigner', () => {
  it('sets the header, the registered claims from the options and the time claims from now', async () => {
    const { key, sign } = await harness();
    const token = await sign({ sid: 'session-1', role: 'user' }, 900);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'ES256', kid: key.kid, typ: 'JWT' });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'user-1',
      sid: 'session-1',
      role: 'user',
      iat: 1_700_000_000,
      exp: 1_700_000_900,
    });
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(decodeJwt(await sign()).jti).not.toBe(claims.jti);
  });

  it('keeps a jti the claims provide, but never lets claims override iss, aud, sub, iat or exp', async () => {
    const { sign } = await harness();
    const claims = decodeJwt(
      await sign({ jti: 'fixed-id', iss: 'https://evil.example', aud: 'other', sub: 'admin', iat: 1, exp: 9e9 }),
    );
    expect(claims).toMatchObject({ jti: 'fixed-id', iss: ISSUER, aud: AUDIENCE, sub: 'user-1', iat: 1_700_000_000 });
    expect(claims.exp).toBe(1_700_000_900);
  });

  it('exposes its kid and algorithm', async () => {
    const { key, signer } = await harness('EdDSA');
    expect(signer.kid).toBe(key.kid);
    expect(signer.alg).toBe('EdDSA');
  });

  it('signs tokens that verify, on the pool and, while password work fills it, at once on the main thread', async () => {
    const { sign, verifier } = await harness();
    expect((await verifier.verify(await sign())).ok).toBe(true);
    /**
     * Signs while every pool thread runs a slow key derivation, beside a timer set just before for as long as the
     * signer's deadline; answers the order in which the three finished.
     */
    const finishing = async (countedAsPasswordWork: boolean): Promise<string[]> => {
      const order: string[] = [];
      const derive = () =>
        new Promise<void>((resolve, reject) =>
          pbkdf2('password', 'salt', 1_000_000, 32, 'sha256', (error) => {
            order.push('pool work');
            if (error) reject(error);
            else resolve();
          }),
        );
      const busy = Array.from({ length: THREADPOOL_SIZE }, () =>
        countedAsPasswordWork ? asPasswordWork(derive) : derive(),
      );
      expect(poolHasRoom()).toBe(!countedAsPasswordWork);
      setTimeout(() => order.push('deadline'), 20);
      const token = await sign();
      order.push('signed');
      expect((await verifier.verify(token)).ok).toBe(true);
      await Promise.all(busy);
      return order.filter((step, index) => step !== 'pool work' || order.indexOf(step) === index);
    };
    // Password work (the derivation stands in for argon2) holds the pool: the token is signed at once, on the main
    // thread, without waiting for the deadline.
    expect(await finishing(true)).toEqual(['signed', 'deadline', 'pool work']);
    // Pool work the count cannot see (a hanging DNS lookup, say) delays a signature by the deadline only.
    expect(await finishing(false)).toEqual(['deadline', 'signed', 'pool work']);
  });
});

describe('createJwtVerifier', () => {
  it.each(['ES256', 'EdDSA', 'RS256'] as const)('verifies a %s token it signed', async (alg) => {
    const { sign, verifier } = await harness(alg);
    const result = await verifier.verify(await sign({ sid: 'session-1', permissions: ['users:read'] }));
    expect(result).toEqual({
      ok: true,
      claims: expect.objectContaining({
        iss: ISSUER,
        aud: AUDIENCE,
        sub: 'user-1',
        sid: 'session-1',
        permissions: ['users:read'],
        exp: 1_700_000_900,
      }),
    });
  });

  it('refuses a tampered payload or signature as invalid', async () => {
    const { sign, verifier } = await harness();
    const [header, payload, signature = ''] = (await sign({ role: 'user' })).split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    const escalated = `${header}.${b64({ ...claims, role: 'admin' })}.${signature}`;
    expect(await verifier.verify(escalated)).toEqual({ ok: false, reason: 'invalid' });
    const signatureBytes = Buffer.from(signature, 'base64url');
    signatureBytes[10] = (signatureBytes[10] ?? 0) ^ 0x01;
    const forged = `${header}.${payload}.${signatureBytes.toString('base64url')}`;
    expect(await verifier.verify(forged)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('answers expired for a well-signed token whose exp has passed, from exactly exp on', async () => {
    const { sign, verifier, clock } = await harness();
    const token = await sign({}, 60);
    clock.now = 1_700_000_060_000;
    expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'expired' });
    clock.now = 1_700_000_059_999;
    expect((await verifier.verify(token)).ok).toBe(true);
  });

  it('answers invalid, not expired, for an expired token that is also wrong', async () => {
    const { key, verifier, clock } = await harness();
    const token = await signRaw(key, { iss: 'https://evil.example', aud: AUDIENCE, exp: 1_600_000_000 });
    clock.now = START;
    expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('refuses a wrong issuer or a wrong audience', async () => {
    const { key, verifier } = await harness();
    const exp = 1_700_000_900;
    expect(await verifier.verify(await signRaw(key, { iss: 'https://evil.example', aud: AUDIENCE, exp }))).toEqual({
      ok: false,
      reason: 'invalid',
    });
    expect(await verifier.verify(await signRaw(key, { iss: ISSUER, aud: 'another-app', exp }))).toEqual({
      ok: false,
      reason: 'invalid',
    });
    expect(await verifier.verify(await signRaw(key, { aud: AUDIENCE, exp }))).toEqual({ ok: false, reason: 'invalid' });
    expect((await verifier.verify(await signRaw(key, { iss: ISSUER, aud: [AUDIENCE, 'other'], exp }))).ok).toBe(true);
  });

  it('refuses a token without exp, and does not cache it', async () => {
    const { key, verifier } = await harness();
    const token = await signRaw(key, { iss: ISSUER, aud: AUDIENCE, sub: 'user-1' });
    expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'invalid' });
    expect(verifier.size).toBe(0);
  });

  it('refuses a hand-built alg:none token', async () => {
    const { key, verifier } = await harness();
    const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'admin', exp: 1_700_000_900 };
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    expect(await verifier.verify(none)).toEqual({ ok: false, reason: 'invalid' });
    const noneWithKid = `${b64({ alg: 'none', kid: key.kid })}.${b64(claims)}.`;
    expect(await verifier.verify(noneWithKid)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('refuses HS256 keyed with the public key (algorithm confusion)', async () => {
    const { key, verifier } = await harness('RS256');
    const secret = new TextEncoder().encode(JSON.stringify(key.publicJwk));
    const token = await new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'admin', exp: 1_700_000_900 })
      .setProtectedHeader({ alg: 'HS256', kid: key.kid })
      .sign(secret);
    expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('refuses an algorithm it was not given, even with a matching key in the set', async () => {
    const { verifier, keys } = await harness('ES256');
    const other = await generateSigningKey('EdDSA');
    keys.list = [...keys.list, other.publicJwk];
    const token = await signRaw(other, { iss: ISSUER, aud: AUDIENCE, exp: 1_700_000_900 });
    expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('refuses a token signed by another key under the same kid, and an unknown kid', async () => {
    const { key, verifier } = await harness();
    const impostor = await generateSigningKey('ES256');
    const sameKid = await signRaw({ ...impostor, kid: key.kid }, { iss: ISSUER, aud: AUDIENCE, exp: 1_700_000_900 });
    expect(decodeProtectedHeader(sameKid).kid).toBe(key.kid);
    expect(await verifier.verify(sameKid)).toEqual({ ok: false, reason: 'invalid' });
    const unknownKid = await signRaw(impostor, { iss: ISSUER, aud: AUDIENCE, exp: 1_700_000_900 });
    expect(await verifier.verify(unknownKid)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('answers invalid for garbage instead of throwing', async () => {
    const { verifier, keys } = await harness();
    for (const garbage of ['', 'not-a-jwt', 'a.b.c', '..', `${b64({ alg: 'ES256' })}.e30.`]) {
      expect(await verifier.verify(garbage), garbage).toEqual({ ok: false, reason: 'invalid' });
    }
    keys.list = 'not an array' as unknown as JWK[];
    expect(await verifier.verify('a.b.c')).toEqual({ ok: false, reason: 'invalid' });
  });

  it('picks up new keys when keys() returns a new array (rotation)', async () => {
    const { verifier, keys } = await harness();
    const next = await generateSigningKey('ES256');
    const token = await signRaw(next, { iss: ISSUER, aud: AUDIENCE, exp: 1_700_000_900 });
    expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'invalid' });
    keys.list = [...keys.list, next.publicJwk];
    expect((await verifier.verify(token)).ok).toBe(true);
  });
});

describe('the verifier cache', () => {
  it('answers a token verified before without verifying it again', async () => {
    const { sign, verifier, keys } = await harness();
    const token = await sign();
    expect((await verifier.verify(token)).ok).toBe(true);
    expect(keys.lookups).toBe(1);
    expect(verifier.size).toBe(1);
    // With no keys left, only a cached answer can still say ok.
    keys.list = [];
    const again = await verifier.verify(token);
    expect(again).toEqual({ ok: true, claims: expect.objectContaining({ sub: 'user-1' }) });
    expect(keys.lookups).toBe(1);
    expect(await verifier.verify(await sign({ n: 2 }))).toEqual({ ok: false, reason: 'invalid' });
    expect(keys.lookups).toBe(2);
  });

  it('answers from the cache only the exact token it verified, not another payload under the same signature', async () => {
    const { sign, verifier } = await harness();
    const token = await sign({ role: 'user' });
    expect((await verifier.verify(token)).ok).toBe(true);
    const [header, , signature] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...decodeJwt(token), role: 'admin' })).toString('base64url');
    expect(await verifier.verify(`${header}.${forged}.${signature}`)).toEqual({ ok: false, reason: 'invalid' });
    expect((await verifier.verify(token)).ok).toBe(true);
  });

  it('hands out frozen claims, so one caller cannot change what the next one reads', async () => {
    const { sign, verifier } = await harness();
    const token = await sign({ role: 'user' });
    const first = await verifier.verify(token);
    expect(first.ok && Object.isFrozen(first.claims)).toBe(true);
    const second = await verifier.verify(token);
    expect(second.ok && second.claims.role).toBe('user');
  });

  it('does not cache failures', async () => {
    const { key, sign, verifier, clock } = await harness();
    await verifier.verify(await signRaw(key, { iss: ISSUER, aud: 'other', exp: 1_700_000_900 }));
    const token = await sign({}, 60);
    clock.now += 61_000;
    await verifier.verify(token);
    expect(verifier.size).toBe(0);
  });

  it('stays bounded, evicting the least recently used token', async () => {
    const { sign, verifier, keys } = await harness('ES256', 2);
    const [first, second, third] = await Promise.all([sign({ n: 1 }), sign({ n: 2 }), sign({ n: 3 })]);
    expect((await verifier.verify(first ?? '')).ok).toBe(true);
    expect((await verifier.verify(second ?? '')).ok).toBe(true);
    // Touch the first, so the second is now the oldest.
    expect((await verifier.verify(first ?? '')).ok).toBe(true);
    expect((await verifier.verify(third ?? '')).ok).toBe(true);
    expect(verifier.size).toBe(2);
    keys.list = [];
    expect((await verifier.verify(first ?? '')).ok).toBe(true);
    expect((await verifier.verify(third ?? '')).ok).toBe(true);
    expect(await verifier.verify(second ?? '')).toEqual({ ok: false, reason: 'invalid' });
    expect(verifier.size).toBe(2);
  });

  it('holds 10000 tokens by default', async () => {
    const { key, verifier } = await harness();
    const signer = await createJwtSigner(key);
    const options = { issuer: ISSUER, audience: AUDIENCE, subject: 'u', expiresInSeconds: 900, now: START };
    const tokens = await Promise.all(Array.from({ length: 10_001 }, (_, n) => signer.sign({ n }, options)));
    for (const token of tokens) await verifier.verify(token);
    expect(verifier.size).toBe(10_000);
  }, 60_000);

  it('answers expired for a cached token once the clock passes its exp, and forgets it', async () => {
    const { sign, verifier, clock } = await harness();
    const token = await sign({}, 60);
    expect((await verifier.verify(token)).ok).toBe(true);
    clock.now = 1_700_000_059_999;
    expect((await verifier.verify(token)).ok).toBe(true);
    expect(verifier.size).toBe(1);
    clock.now = 1_700_000_060_000;
    expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'expired' });
    expect(verifier.size).toBe(0);
  });

  it('is emptied by clear()', async () => {
    const { sign, verifier, keys } = await harness();
    const token = await sign();
    await verifier.verify(token);
    verifier.clear();
    expect(verifier.size).toBe(0);
    keys.list = [];
    expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('caches nothing when cacheSize is 0', async () => {
    const { sign, verifier } = await harness('ES256', 0);
    expect((await verifier.verify(await sign())).ok).toBe(true);
    expect(verifier.size).toBe(0);
  });
});
