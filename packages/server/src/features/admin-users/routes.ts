import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  AdminSession,
  CreateUserBody,
  Data,
  ImpersonationResult,
  UpdateUserBody,
  User,
  UserIdParams,
  UserList,
  UserSessionParams,
  UsersQuery,
} from '@gatehouse/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Caller } from '../../caller.js';
import type { SessionRow } from '../../db/types.js';
import { AuthError, forbidden, invalidCredentials, invalidPayload } from '../../errors/auth-error.js';
import { requestMeta } from '../../http/request-meta.js';
import { iso, toPublicUser } from '../users/index.js';
import type { AdminUserService, Refusal, Result } from './service.js';

export interface AdminUserRoutesOptions {
  service: AdminUserService;
}

const DEFAULT_LIMIT = 50;

function callerOf(request: { caller: Caller | null }): Caller {
  if (!request.caller) throw invalidCredentials();
  return request.caller;
}

const notFound = (): AuthError => new AuthError('RECORD_NOT_FOUND', "The record doesn't exist.");

const REFUSALS: Record<Refusal, (detail?: string) => AuthError> = {
  not_found: notFound,
  bad_cursor: () => invalidPayload('Invalid query "cursor": not a cursor of this list and sort order.'),
  unknown_role: (role) => invalidPayload(`The role "${role ?? ''}" doesn't exist.`),
  email_taken: () => new AuthError('RECORD_NOT_UNIQUE', 'An account with this e-mail already exists.'),
  outranked: () => forbidden("You can't act on a user who holds administrative permissions you don't hold."),
  role_too_strong: () => forbidden("You can't assign a role with administrative permissions you don't hold."),
  last_admin: () =>
    new AuthError('LAST_ADMIN', 'The project must keep at least one active user whose role grants every permission.'),
  self: () => invalidPayload("You can't impersonate yourself."),
  not_active: () => new AuthError('USER_NOT_ACTIVE', 'The user is suspended or not yet active.'),
  already_impersonating: () => forbidden("You can't impersonate while impersonating."),
};

/** The value of a service result, or the registry error for its refusal. */
function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw REFUSALS[result.reason](result.detail);
}

function toAdminSession(row: SessionRow, caller: Caller): AdminSession {
  return {
    id: row.id,
    created_at: iso(row.created_at),
    last_used_at: iso(row.last_used_at),
    expires_at: iso(row.expires_at),
    ip: row.ip,
    user_agent: row.user_agent,
    mode: row.mode,
    current: row.id === caller.sessionId,
    impersonated_by: row.actor_id,
  };
}

/** Admin management of a project's accounts: list, read, create, update, delete, sessions, impersonation. */
export async function adminUserRoutes(app: FastifyInstance, options: AdminUserRoutesOptions): Promise<void> {
  const { service } = options;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['users'];
  const sessionTags = ['sessions'];

  r.get(
    '/users',
    {
      config: { access: { permission: 'users:read' } },
      schema: {
        tags,
        summary: 'Users of the project: search, filter, sort, cursor pagination',
        querystring: UsersQuery,
        response: { 200: UserList },
      },
    },
    async (request) => {
      const { search, role, status, sort, limit, cursor } = request.query;
      const page = unwrap(
        await service.list(callerOf(request).projectId, {
          search,
          role,
          status,
          sort,
          cursor,
          limit: limit ? Number(limit) : DEFAULT_LIMIT,
        }),
      );
      return { data: page.users.map(toPublicUser), meta: { next_cursor: page.next } };
    },
  );

  r.get(
    '/users/:id',
    {
      config: { access: { permission: 'users:read' } },
      schema: { tags, summary: 'One user', params: UserIdParams, response: { 200: Data(User) } },
    },
    async (request) => {
      const user = await service.get(callerOf(request).projectId, request.params.id);
      if (!user) throw notFound();
      return { data: toPublicUser(user) };
    },
  );

  r.post(
    '/users',
    {
      config: { access: { permission: 'users:write' } },
      schema: {
        tags,
        summary: 'Create a user, with or without a password',
        body: CreateUserBody,
        response: { 201: Data(User) },
      },
    },
    async (request, reply) => {
      const user = unwrap(await service.create(callerOf(request), request.body, requestMeta(request)));
      return reply.status(201).send({ data: toPublicUser(user) });
    },
  );

  r.patch(
    '/users/:id',
    {
      config: { access: { permission: 'users:write' } },
      schema: {
        tags,
        summary: "Update a user's profile, e-mail, role or status",
        params: UserIdParams,
        body: UpdateUserBody,
        response: { 200: Data(User) },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const user = unwrap(await service.update(caller, request.params.id, request.body, requestMeta(request)));
      return { data: toPublicUser(user) };
    },
  );

  r.delete(
    '/users/:id',
    {
      config: { access: { permission: 'users:delete' } },
      schema: { tags, summary: 'Delete a user', params: UserIdParams, response: { 204: Type.Null() } },
    },
    async (request, reply) => {
      unwrap(await service.remove(callerOf(request), request.params.id, requestMeta(request)));
      return reply.status(204).send(null);
    },
  );

  r.get(
    '/users/:id/sessions',
    {
      config: { access: { permission: 'users:read' } },
      schema: {
        tags: sessionTags,
        summary: "A user's active sessions",
        params: UserIdParams,
        response: { 200: Data(Type.Array(AdminSession)) },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const rows = unwrap(await service.sessionsOf(caller.projectId, request.params.id));
      return { data: rows.map((row) => toAdminSession(row, caller)) };
    },
  );

  r.delete(
    '/users/:id/sessions',
    {
      config: { access: { permission: 'users:write' } },
      schema: {
        tags: sessionTags,
        summary: "End all of a user's sessions",
        params: UserIdParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      unwrap(await service.endSessions(callerOf(request), request.params.id, {}, requestMeta(request)));
      return reply.status(204).send(null);
    },
  );

  r.delete(
    '/users/:id/sessions/:sessionId',
    {
      config: { access: { permission: 'users:write' } },
      schema: {
        tags: sessionTags,
        summary: 'End one session of a user',
        params: UserSessionParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const { id, sessionId } = request.params;
      unwrap(await service.endSessions(callerOf(request), id, { sessionId }, requestMeta(request)));
      return reply.status(204).send(null);
    },
  );

  r.post(
    '/users/:id/impersonate',
    {
      config: { access: { permission: 'users:impersonate' }, apiKeys: 'refused' },
      schema: {
        tags,
        summary: 'A short access token that acts as the user (support)',
        params: UserIdParams,
        response: { 200: Data(ImpersonationResult) },
      },
    },
    async (request) => {
      const issued = unwrap(await service.impersonate(callerOf(request), request.params.id, requestMeta(request)));
      return { data: { access_token: issued.token, expires: issued.expires } };
    },
  );
}
