import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { AuthError } from '../../errors/auth-error.js';

const Status = Type.Object({ data: Type.Object({ status: Type.String() }) });

/** Liveness (`/health`: the process answers) and readiness (`/ready`: the database answers too). */
export async function healthRoutes(app: FastifyInstance, options: { ping(): Promise<boolean> }): Promise<void> {
  app.get(
    '/health',
    { config: { access: 'public' }, schema: { tags: ['operations'], summary: 'Liveness', response: { 200: Status } } },
    async () => ({
      data: { status: 'ok' },
    }),
  );
  app.get(
    '/ready',
    { config: { access: 'public' }, schema: { tags: ['operations'], summary: 'Readiness', response: { 200: Status } } },
    async () => {
      if (!(await options.ping())) throw new AuthError('SERVICE_UNAVAILABLE', 'The database is not reachable.');
      return { data: { status: 'ok' } };
    },
  );
}
