import { Secret, TOTP } from 'otpauth';

/**
 * TOTP as RFC 6238 with the parameters every authenticator app supports: HMAC-SHA-1, 6 digits, 30-second
 * steps. A code is accepted in the step before, during and after its own (clock drift of up to 30 s either
 * way). Callers decide about replays: `verifyTotp` answers the time step a code matched, and a factor accepts
 * only steps later than the last one it accepted.
 */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
const WINDOW = 1;

export interface TotpOptions {
  digits?: number;
  algorithm?: 'SHA1' | 'SHA256' | 'SHA512';
}

/** A new random secret of 160 bits (the HMAC-SHA-1 output size RFC 4226 recommends), in base32. */
export function generateTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

function totp(secretBase32: string, options: TotpOptions = {}, label = 'account', issuer = ''): TOTP {
  return new TOTP({
    issuer,
    label,
    secret: Secret.fromBase32(secretBase32),
    algorithm: options.algorithm ?? 'SHA1',
    digits: options.digits ?? TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
  });
}

/** The `otpauth://totp/...` URI an authenticator app imports (as a QR code or by hand). */
export function totpUri(secretBase32: string, input: { issuer: string; label: string }): string {
  return totp(secretBase32, {}, input.label, input.issuer).toString();
}

/** The code for the time `now` (milliseconds); for tests and the RFC vectors. */
export function generateTotp(secretBase32: string, now: number, options: TotpOptions = {}): string {
  return totp(secretBase32, options).generate({ timestamp: now });
}

/** The time step (floor(unix seconds / 30)) whose code `code` is, within one step of `now`; null when none. */
export function verifyTotp(secretBase32: string, code: string, now: number, options: TotpOptions = {}): number | null {
  const digits = options.digits ?? TOTP_DIGITS;
  if (code.length !== digits || !/^\d+$/.test(code)) return null;
  const delta = totp(secretBase32, options).validate({ token: code, timestamp: now, window: WINDOW });
  if (delta === null) return null;
  return Math.floor(now / 1000 / TOTP_PERIOD_SECONDS) + delta;
}
