import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { CreateRoleBody, Data, Role, UpdateRoleBody } from '@gatehouse/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Caller } from '../../caller.js';
import { invalidCredentials } from '../../errors/auth-error.js';
import { requestMeta } from '../../http/request-meta.js';
import type { RoleService } from './service.js';

const RoleId = Type.Object({ id: Type.String({ format: 'uuid' }) });

function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw invalidCredentials();
  return request.caller;
}

/** Roles CRUD for admins: `/roles`. */
export async function roleRoutes(app: FastifyInstance, options: { roles: RoleService }): Promise<void> {
  const { roles } = options;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/roles',
    {
      config: { access: { permission: 'roles:read' } },
      schema: { tags: ['roles'], summary: 'Roles of the project', response: { 200: Data(Type.Array(Role)) } },
    },
    async (request) => ({ data: await roles.list(callerOf(request).projectId) }),
  );

  r.get(
    '/roles/:id',
    {
      config: { access: { permission: 'roles:read' } },
      schema: { tags: ['roles'], summary: 'One role', params: RoleId, response: { 200: Data(Role) } },
    },
    async (request) => ({ data: await roles.get(callerOf(request).projectId, request.params.id) }),
  );

  r.post(
    '/roles',
    {
      config: { access: { permission: 'roles:write' } },
      schema: {
        tags: ['roles'],
        summary: 'Create a role with a set of permissions',
        description: 'A caller can only grant permissions they hold themselves.',
        body: CreateRoleBody,
        response: { 201: Data(Role) },
      },
    },
    async (request, reply) => {
      const role = await roles.create(callerOf(request), request.body, requestMeta(request));
      return reply.status(201).send({ data: role });
    },
  );

  r.patch(
    '/roles/:id',
    {
      config: { access: { permission: 'roles:write' } },
      schema: {
        tags: ['roles'],
        summary: "Change a role's description or permissions",
        description:
          'Names are fixed (accounts refer to roles by name). The admin role keeps `*`. Tokens issued after the change carry the new permissions; admin routes see it at once.',
        params: RoleId,
        body: UpdateRoleBody,
        response: { 200: Data(Role) },
      },
    },
    async (request) => ({
      data: await roles.update(callerOf(request), request.params.id, request.body, requestMeta(request)),
    }),
  );

  r.delete(
    '/roles/:id',
    {
      config: { access: { permission: 'roles:write' } },
      schema: {
        tags: ['roles'],
        summary: 'Delete a custom role that no account holds',
        params: RoleId,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await roles.remove(callerOf(request), request.params.id, requestMeta(request));
      return reply.status(204).send(null);
    },
  );
}
