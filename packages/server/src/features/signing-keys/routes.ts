import type { FastifyInstance } from 'fastify';
import type { KeyRing } from './service.js';

/** Token verification metadata for resource servers: the public keys, and where to find them. */
export async function signingKeyRoutes(
  app: FastifyInstance,
  options: { keyRing: KeyRing; issuer: string },
): Promise<void> {
  const { keyRing, issuer } = options;
  app.get(
    '/.well-known/jwks.json',
    {
      config: { access: 'public' },
      schema: { tags: ['tokens'], summary: 'Public keys that verify access tokens (JWKS)' },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return { keys: keyRing.publicKeys() };
    },
  );
  app.get(
    '/.well-known/openid-configuration',
    {
      config: { access: 'public' },
      schema: { tags: ['tokens'], summary: 'Issuer metadata: issuer and JWKS location' },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      const base = issuer.replace(/\/$/, '');
      return {
        issuer,
        jwks_uri: `${base}/.well-known/jwks.json`,
        token_endpoint: `${base}/auth/refresh`,
        response_types_supported: ['token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: keyRing.algorithms,
        token_endpoint_auth_methods_supported: ['none'],
        claims_supported: [
          'iss',
          'sub',
          'aud',
          'exp',
          'iat',
          'jti',
          'sid',
          'role',
          'permissions',
          'project',
          'amr',
          'auth_time',
        ],
      };
    },
  );
}
