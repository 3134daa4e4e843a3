import type { FastifyRequest } from 'fastify';
import type { Credential } from '../caller.js';
import { API_KEY_PREFIXES } from '../crypto/api-key.js';
import { AuthError } from '../errors/auth-error.js';

/**
 * Finds the caller's credential, in the order DESIGN.md §2 gives: a header or query credential wins over the
 * session cookie; a header and a query credential together, or an Authorization header and an API key header
 * together, are ambiguous and refused (as Directus does). A publishable key in the API key header only names the
 * project (see project-key.ts) and is no credential, so it may accompany any.
 */
export function extractCredential(request: FastifyRequest, sessionCookieName: string): Credential | null {
  const header = bearer(request.headers.authorization);
  const keyHeader = apiKeyHeader(request);
  const apiKey = keyHeader?.startsWith(API_KEY_PREFIXES.publishable) ? null : keyHeader;
  if (header && apiKey) {
    throw new AuthError('INVALID_PAYLOAD', 'Send one credential: an Authorization header or an API key header.');
  }
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

/** The value of `X-API-Key` or `API-KEY` (one of them, once), or null. */
export function apiKeyHeader(request: FastifyRequest): string | null {
  const headers = request.headers;
  const xApiKey = single(headers['x-api-key']);
  const apiKey = single(headers['api-key']);
  if (xApiKey && apiKey) throw new AuthError('INVALID_PAYLOAD', 'Only one API key header is allowed.');
  return xApiKey ?? apiKey;
}

function bearer(value: string | undefined): string | null {
  if (!value) return null;
  // The usual form without a capturing expression over the whole (~600-character) token: it runs on every request.
  if (value.startsWith('Bearer ')) {
    const token = value.slice(7);
    if (token.length > 0 && !/\s/.test(token)) return token;
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  if (!match?.[1]) throw new AuthError('INVALID_PAYLOAD', 'The Authorization header must be "Bearer <token>".');
  return match[1];
}

function single(value: string | string[] | undefined): string | null {
  if (Array.isArray(value)) throw new AuthError('INVALID_PAYLOAD', 'Only one API key header is allowed.');
  return value && value.length > 0 ? value : null;
}
