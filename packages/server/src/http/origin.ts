import type { FastifyRequest } from 'fastify';
import { AuthError } from '../errors/auth-error.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * CSRF defence for cookie-authenticated writes. Browsers attach cookies to cross-site requests, but always say
 * where a non-GET request comes from in `Origin`; so a write that rides on a cookie must carry an Origin we
 * trust. A missing Origin is refused too: every browser that could be tricked into the request sends one.
 */
export function createOriginCheck(trustedOrigins: readonly string[]): (request: FastifyRequest) => void {
  const trusted = new Set(trustedOrigins.map((origin) => new URL(origin).origin));
  return (request) => {
    if (SAFE_METHODS.has(request.method)) return;
    const origin = request.headers.origin;
    if (typeof origin === 'string' && trusted.has(origin)) return;
    throw new AuthError('FORBIDDEN', 'Cookie-authenticated requests must come from a trusted Origin.', {
      detail: `origin ${JSON.stringify(origin ?? null)} is not trusted`,
    });
  };
}
