import type { PasskeyRow } from '../../db/types.js';

/**
 * RFC 8176 method references of a passkey sign-in: `webauthn` names the method; `hwk` (a key bound to one
 * device) or `swk` (a synced, backed-up key) the kind of key; `user` the presence test every assertion carries.
 * With user verification (PIN or biometric on the authenticator) the one gesture is two factors, so `mfa` is
 * added: such a sign-in satisfies a second-factor requirement by itself.
 */
export function passkeyAmr(verified: { passkey: PasskeyRow; userVerified: boolean }): string[] {
  const amr = ['webauthn', verified.passkey.backed_up === 1 ? 'swk' : 'hwk', 'user'];
  if (verified.userVerified) amr.push('mfa');
  return amr;
}
