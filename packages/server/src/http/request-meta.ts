import type { FastifyRequest } from 'fastify';
import type { RequestMeta } from '../caller.js';

/** The client address (behind trusted proxies, as configured) and user agent of a request. */
export function requestMeta(request: FastifyRequest): RequestMeta {
  const userAgent = request.headers['user-agent'];
  return { ip: request.ip ?? null, userAgent: typeof userAgent === 'string' ? userAgent : null };
}
