import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Data, ProjectSettings, UpdateProjectSettingsBody } from '@gatehouse/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Caller } from '../../caller.js';
import { invalidCredentials } from '../../errors/auth-error.js';
import { requestMeta } from '../../http/request-meta.js';
import type { ProjectSettingsService } from './settings.js';

const ProjectRef = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, description: 'The project id, or its slug (`default`).' }),
});

function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw invalidCredentials();
  return request.caller;
}

/** `/projects/:id/settings`: sign-up policy, token lifetimes, MFA policy and password policy. */
export async function projectRoutes(app: FastifyInstance, options: { settings: ProjectSettingsService }) {
  const { settings } = options;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/projects/:id/settings',
    {
      config: { access: { permission: 'projects:read' } },
      schema: {
        tags: ['projects'],
        summary: 'Settings of the project',
        params: ProjectRef,
        response: { 200: Data(ProjectSettings) },
      },
    },
    async (request) => {
      const projectId = await settings.resolve(callerOf(request), request.params.id);
      return { data: await settings.get(projectId) };
    },
  );

  r.patch(
    '/projects/:id/settings',
    {
      config: { access: { permission: 'projects:write' } },
      schema: {
        tags: ['projects'],
        summary: 'Change settings of the project',
        description:
          'Only the keys given change. Token lifetimes are in seconds and may not exceed the server configuration.',
        params: ProjectRef,
        body: UpdateProjectSettingsBody,
        response: { 200: Data(ProjectSettings) },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      await settings.resolve(caller, request.params.id);
      return { data: await settings.update(caller, request.body, requestMeta(request)) };
    },
  );
}
