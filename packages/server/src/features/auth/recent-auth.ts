import type { Caller } from '../../caller.js';
import { AuthError } from '../../errors/auth-error.js';

/** How recent a sign-in sensitive actions accept by default (disable MFA, change e-mail, API keys, deletion). */
export const RECENT_AUTH_MAX_AGE = 10 * 60 * 1000;

/**
 * Refuses (403 REAUTHENTICATION_REQUIRED) a caller whose token does not show a sign-in within `maxAgeMs` of `now`:
 * `auth_time` is when the session was opened by a credential (refreshing keeps it), `amr` how. A stolen refresh
 * token or a long-lived tab can therefore not be used for the actions that would lock the owner out. An
 * impersonation token never counts as a sign-in of the user; `options.amr` demands one method as well (e.g.
 * `mfa` for an account with a second factor).
 */
export function requireRecentAuth(caller: Caller, maxAgeMs: number, now: number, options: { amr?: string } = {}): void {
  const authTime = caller.claims.auth_time;
  const amr = Array.isArray(caller.claims.amr) ? caller.claims.amr.map(String) : [];
  const recent =
    typeof authTime === 'number' &&
    now - authTime * 1000 <= maxAgeMs &&
    !amr.includes('impersonation') &&
    caller.actorId === null &&
    (options.amr === undefined || amr.includes(options.amr));
  if (!recent) {
    throw new AuthError('REAUTHENTICATION_REQUIRED', 'This needs a recent sign-in: sign in again, then retry.', {
      extensions: { max_age: Math.floor(maxAgeMs / 1000), ...(options.amr ? { amr: options.amr } : {}) },
    });
  }
}
