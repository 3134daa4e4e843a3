import { describe, expect, it } from 'vitest';
import type { Caller } from '../../caller.js';
import { AuthError } from '../../errors/auth-error.js';
import { requireRecentAuth } from './recent-auth.js';

const NOW = 1_800_000_000_000;
const MINUTE = 60_000;

function caller(claims: Record<string, unknown>, actorId: string | null = null): Caller {
  return {
    userId: 'u',
    sessionId: 's',
    projectId: 'p',
    role: 'user',
    permissions: [],
    source: 'authorization',
    claims,
    actorId,
    apiKey: null,
  };
}

function refusal(run: () => void): string | null {
  try {
    run();
    return null;
  } catch (error) {
    if (error instanceof AuthError) return `${error.status} ${error.code}`;
    throw error;
  }
}

describe('requireRecentAuth', () => {
  const signedIn = (minutesAgo: number, amr = ['pwd', 'otp', 'mfa']) => ({
    amr,
    auth_time: Math.floor((NOW - minutesAgo * MINUTE) / 1000),
  });

  it('admits a sign-in within the window and refuses an older one with 403 REAUTHENTICATION_REQUIRED', () => {
    expect(refusal(() => requireRecentAuth(caller(signedIn(9)), 10 * MINUTE, NOW))).toBeNull();
    expect(refusal(() => requireRecentAuth(caller(signedIn(11)), 10 * MINUTE, NOW))).toBe(
      '403 REAUTHENTICATION_REQUIRED',
    );
  });

  it('demands the named method when asked', () => {
    expect(refusal(() => requireRecentAuth(caller(signedIn(1, ['pwd'])), 10 * MINUTE, NOW, { amr: 'mfa' }))).toBe(
      '403 REAUTHENTICATION_REQUIRED',
    );
    expect(refusal(() => requireRecentAuth(caller(signedIn(1)), 10 * MINUTE, NOW, { amr: 'mfa' }))).toBeNull();
  });

  it('never counts impersonation or a token without auth_time as a sign-in of the user', () => {
    expect(refusal(() => requireRecentAuth(caller(signedIn(1, ['impersonation'])), 10 * MINUTE, NOW))).toBe(
      '403 REAUTHENTICATION_REQUIRED',
    );
    expect(refusal(() => requireRecentAuth(caller(signedIn(1), 'admin-id'), 10 * MINUTE, NOW))).toBe(
      '403 REAUTHENTICATION_REQUIRED',
    );
    expect(refusal(() => requireRecentAuth(caller({ amr: ['pwd'] }), 10 * MINUTE, NOW))).toBe(
      '403 REAUTHENTICATION_REQUIRED',
    );
  });
});
