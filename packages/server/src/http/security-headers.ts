import type { FastifyInstance } from 'fastify';

/** Headers every answer carries: no sniffing, no framing, no referrer leaks, and no caching of credentials. */
export function registerSecurityHeaders(app: FastifyInstance, options: { hsts: boolean }): void {
  // A callback hook rather than an async one: it runs on every answer, and awaits nothing.
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    if (options.hsts) reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains');
    if (!reply.hasHeader('cache-control') && !request.url.startsWith('/docs'))
      reply.header('cache-control', 'no-store');
    done(null, payload);
  });
}
