import type { FastifyRequest } from 'fastify';
import type { Credential } from '../caller.js';
import { AuthError } from '../errors/auth-error.js';

/**
 * Finds the caller's credential, in the order DESIGN.md §2 gives: a header or query credential wins over the
 * session cookie; a header and a query credential together are ambiguous and refused (as Directus does).
 */
export function extractCredential(request: FastifyRequest, sessionCookieName: string): Credential | null {
  const header = bearer(request.headers.authorization);
  const apiKey = single(request.headers['x-api-key']) ?? single(request.headers['api-key']);
  const query = (request.query as Record<string, unknown> | undefined)?.access_token;
  const queryToken = typeof query === 'string' && query.length > 0 ? query : null;
  if (Array.isArray(query)) throw new AuthError('INVALID_PAYLOAD', 'Only one access_token query parameter is allowed.');
  if (queryToken && (header || apiKey)) {
    throw new AuthError('INVALID_PAYLOAD', 'The token must be sent in the header or the query, not both.');
  }
  if (header) return { source: 'authorization', token: header };
  if (apiKey) return { source: 'api-key-header', token: apiKey };
  if (queryToken) return { source: 'query', token: queryToken };
  const cookie = request.cookies?.[sessionCookieName];
  if (cookie) return { source: 'session-cookie', token: cookie };
  return null;
}

function bearer(value: string | undefined): string | null {
  if (!value) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  if (!match?.[1]) throw new AuthError('INVALID_PAYLOAD', 'The Authorization header must be "Bearer <token>".');
  return match[1];
}

function single(value: string | string[] | undefined): string | null {
  if (Array.isArray(value)) throw new AuthError('INVALID_PAYLOAD', 'Only one API key header is allowed.');
  return value && value.length > 0 ? value : null;
}
