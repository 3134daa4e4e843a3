import type { FastifyInstance, FastifyRequest } from 'fastify';
import { API_KEY_PREFIXES } from '../crypto/api-key.js';
import { AuthError } from '../errors/auth-error.js';
import { apiKeyHeader } from './credentials.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The project named by a publishable key (`X-API-Key: gatehouse_pk_...`), once checked; null without one. */
    projectKey: { keyId: string; projectId: string } | null;
  }
}

export interface ProjectKeyOptions {
  /** Checks a publishable key and answers its project, or throws the registry error (PROJECT_KEY_INVALID). */
  resolve(key: string): Promise<{ keyId: string; projectId: string }>;
}

/** True for the browser-facing sign-in flows: `/auth` and everything under it. */
function isBrowserFlow(request: FastifyRequest): boolean {
  const url = request.url;
  return url === '/auth' || url.startsWith('/auth/') || url.startsWith('/auth?');
}

/**
 * Publishable and secret project keys at the edge, before any handler runs:
 * - a secret key is refused on the browser-facing flows under `/auth`, in any header (`onRequest`, a string
 *   test): it administers the project and must never be sent from a browser. Elsewhere it authenticates as the
 *   project (http/authenticate).
 * - a publishable key in the API key header names the project; an unknown or revoked one is refused, on any
 *   route, so a stale key in a deployed front end shows up as an error, not as silence. Its lookup runs in
 *   `preValidation`, after the `onRequest` rate limits, so made-up keys count toward them like any request.
 */
export function registerProjectKeyCheck(app: FastifyInstance, options: ProjectKeyOptions): void {
  app.decorateRequest('projectKey', null);
  // Callback hooks rather than async ones: they run on every request, and only a publishable key needs a lookup.
  app.addHook('onRequest', (request, _reply, done) => {
    if (!isBrowserFlow(request)) return done();
    const key = apiKeyHeader(request);
    const authorization = request.headers.authorization ?? '';
    if (key?.startsWith(API_KEY_PREFIXES.secret) || authorization.includes(API_KEY_PREFIXES.secret)) {
      return done(
        new AuthError(
          'SECRET_KEY_NOT_ALLOWED',
          'A secret key must not be sent to the sign-in endpoints; send the publishable key (gatehouse_pk_...).',
        ),
      );
    }
    done();
  });
  app.addHook('preValidation', (request, _reply, done) => {
    if (request.headers['x-api-key'] === undefined && request.headers['api-key'] === undefined) return done();
    const key = apiKeyHeader(request);
    if (!key?.startsWith(API_KEY_PREFIXES.publishable)) return done();
    options.resolve(key).then((resolved) => {
      request.projectKey = resolved;
      done();
    }, done);
  });
}
