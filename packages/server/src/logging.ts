import type { FastifyServerOptions } from 'fastify';

/**
 * Log options that never write a credential: headers that carry one are redacted, and an `access_token`, `token`,
 * `code` (an OAuth authorization code at a provider callback) or `link` (a provider link ticket) in the query
 * string is masked before the URL is logged.
 */
export function logOptions(level: string): FastifyServerOptions['logger'] {
  return {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["x-api-key"]',
        'req.headers["api-key"]',
        'res.headers["set-cookie"]',
      ],
      censor: '[redacted]',
    },
    serializers: {
      req(request: { method: string; url: string; id: string; ip?: string }) {
        return { id: request.id, method: request.method, url: maskUrl(request.url), ip: request.ip };
      },
    },
  };
}

export function maskUrl(url: string): string {
  return url.replace(/([?&](?:access_token|token|code|link)=)[^&#]*/gi, '$1[redacted]');
}
