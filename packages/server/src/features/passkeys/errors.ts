import { AuthError, invalidCredentials } from '../../errors/auth-error.js';
import type { PasskeyRefusal } from './service.js';

const invalidPasskey = (detail?: string) =>
  new AuthError('PASSKEY_INVALID', 'The passkey could not be verified.', detail === undefined ? {} : { detail });
/** Registry errors for refusals; the detail (which check failed) only reaches the log. */
export const REFUSALS: Record<PasskeyRefusal, (detail?: string) => AuthError> = {
  challenge_unknown: () =>
    new AuthError('PASSKEY_CHALLENGE_INVALID', 'The challenge is unknown or already used; start again.'),
  challenge_used: () =>
    new AuthError('PASSKEY_CHALLENGE_INVALID', 'The challenge is unknown or already used; start again.'),
  challenge_expired: () => new AuthError('PASSKEY_CHALLENGE_EXPIRED', 'The challenge has expired; start again.'),
  unknown_credential: () => invalidPasskey('unknown credential'),
  not_owner: () => invalidPasskey('credential of another account'),
  invalid: invalidPasskey,
  clone_suspected: () => invalidPasskey('signature counter did not increase'),
  // Only said after the passkey proved who is signing in: the account's owner may know its status.
  suspended: () => new AuthError('USER_SUSPENDED', 'The account is suspended.'),
  not_active: invalidCredentials,
  already_registered: () => new AuthError('RECORD_NOT_UNIQUE', 'This passkey is already registered.'),
  not_found: () => new AuthError('RECORD_NOT_FOUND', "The record doesn't exist."),
};

/** The registry error for a refused passkey ceremony (for the MFA second step as for sign-in). */
export function passkeyRefusalError(refusal: { reason: PasskeyRefusal; detail?: string }): AuthError {
  return REFUSALS[refusal.reason](refusal.detail);
}
