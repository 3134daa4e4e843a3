import { Secret } from 'otpauth';
import { describe, expect, it } from 'vitest';
import { generateTotp, generateTotpSecret, TOTP_PERIOD_SECONDS, totpUri, verifyTotp } from './totp.js';

/** RFC 6238 Appendix B, SHA-1 column: the 20-byte ASCII seed "12345678901234567890", 8 digits, 30 s steps. */
const RFC_SEED = Secret.fromLatin1('12345678901234567890').base32;
const RFC_VECTORS: [seconds: number, code: string][] = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];

describe('TOTP (RFC 6238)', () => {
  it('produces the Appendix B test vectors for SHA-1', () => {
    for (const [seconds, code] of RFC_VECTORS) {
      expect(generateTotp(RFC_SEED, seconds * 1000, { digits: 8 }), `T=${seconds}`).toBe(code);
    }
  });

  it('verifies the Appendix B codes and answers the time step they belong to', () => {
    for (const [seconds, code] of RFC_VECTORS) {
      expect(verifyTotp(RFC_SEED, code, seconds * 1000, { digits: 8 })).toBe(Math.floor(seconds / TOTP_PERIOD_SECONDS));
    }
  });

  it('accepts a code one step early or late and refuses it two steps away', () => {
    const secret = generateTotpSecret();
    const now = 1_700_000_000_000;
    const step = Math.floor(now / 30_000);
    const code = generateTotp(secret, now);
    expect(code).toMatch(/^\d{6}$/);
    expect(verifyTotp(secret, code, now)).toBe(step);
    expect(verifyTotp(secret, code, now + 30_000)).toBe(step);
    expect(verifyTotp(secret, code, now - 30_000)).toBe(step);
    expect(verifyTotp(secret, code, now + 60_000)).toBeNull();
    expect(verifyTotp(secret, code, now - 60_000)).toBeNull();
  });

  it('refuses malformed codes without throwing', () => {
    const secret = generateTotpSecret();
    for (const code of ['', '12345', '1234567', 'abcdef', '12 456', '１２３４５６']) {
      expect(verifyTotp(secret, code, Date.now())).toBeNull();
    }
  });

  it('makes 160-bit secrets and an otpauth URI with the standard parameters', () => {
    const secret = generateTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(generateTotpSecret()).not.toBe(secret);
    const uri = new URL(totpUri(secret, { issuer: 'Gatehouse', label: 'ada@example.com' }));
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.searchParams.get('secret')).toBe(secret);
    expect(uri.searchParams.get('issuer')).toBe('Gatehouse');
    expect(uri.searchParams.get('algorithm')).toBe('SHA1');
    expect(uri.searchParams.get('digits')).toBe('6');
    expect(uri.searchParams.get('period')).toBe('30');
  });
});
