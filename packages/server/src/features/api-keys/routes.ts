import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  ApiAuthQuery,
  ApiAuthResult,
  ApiKey,
  ApiKeyParams,
  ApiKeyUserParams,
  CreateApiKeyBody,
  CreatedApiKey,
  CreatedProjectKey,
  CreateProjectKeyBody,
  Data,
  ProjectKey,
  RotateApiKeyBody,
  UserApiKeyParams,
} from '@gatehouse/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Caller, Credential } from '../../caller.js';
import type { UserProfile } from '../../db/types.js';
import { AuthError, forbidden, invalidCredentials, invalidPayload } from '../../errors/auth-error.js';
import { requestMeta } from '../../http/request-meta.js';
import { type ApiKeyService, keyError, type Refusal, type Result } from './service.js';

export interface ApiKeyRoutesOptions {
  keys: ApiKeyService;
  /** The request's credential as the authenticator reads it. */
  credentialOf(request: FastifyRequest): Credential | null;
  /** A project named in a path (id or slug) as the caller's own project id, or throws RECORD_NOT_FOUND. */
  resolveProject(caller: Caller, idOrSlug: string): Promise<string>;
  /** See AuthService.exchangeApiKey. */
  exchange(key: {
    id: string;
    userId: string;
    projectId: string;
    scopes: readonly string[] | null;
    endsAt: number;
  }): Promise<{ token: string; expires: number; user: UserProfile }>;
}

const ProjectRef = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, description: 'The project id, or its slug (`default`).' }),
});
const ProjectKeyRef = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, description: 'The project id, or its slug (`default`).' }),
  keyId: ApiKeyParams.properties.id,
});

const notFound = (): AuthError => new AuthError('RECORD_NOT_FOUND', "The record doesn't exist.");

const REFUSALS: Record<Refusal, (detail?: string) => AuthError> = {
  not_found: notFound,
  conflict: () =>
    new AuthError('API_KEY_CONFLICT', 'The key was already rotated, revoked or has expired; it cannot be rotated.'),
  expires_in_past: () => invalidPayload('expires_at must be in the future.'),
  expires_too_late: (max) =>
    invalidPayload(`expires_at may be at most ${Math.floor(Number(max) / 86_400_000)} days from now.`),
  scope_not_held: (scope) => forbidden(`You can't give a key the permission ${scope ?? ''}, which you don't hold.`),
  user_not_found: notFound,
  impersonating: () => forbidden("You can't create or rotate API keys while impersonating."),
};

function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw REFUSALS[result.reason](result.detail);
}

function callerOf(request: { caller: Caller | null }): Caller {
  if (!request.caller) throw invalidCredentials();
  return request.caller;
}

/** Refresh-style routes may come without a body; validate that as an empty object. */
async function emptyBodyAsObject(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
}

const NoContent = { 204: Type.Null() };

/**
 * Personal API keys (`/users/me/api-keys`), their administration (`/users/:id/api-keys`), project keys
 * (`/projects/:id/keys`) and the Entu-style exchange of a key for an access token (`GET /api/auth`).
 * Creating and rotating keys refuse API-key callers (`apiKeys: 'refused'`): a leaked key must not mint more.
 */
export async function apiKeyRoutes(app: FastifyInstance, options: ApiKeyRoutesOptions): Promise<void> {
  const { keys, credentialOf, resolveProject, exchange } = options;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    '/users/me/api-keys',
    {
      config: { access: 'signed-in', apiKeys: 'refused' },
      schema: {
        tags: ['api-keys'],
        summary: 'Create a personal API key; the key is in this answer only',
        body: CreateApiKeyBody,
        response: { 201: Data(CreatedApiKey) },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const created = unwrap(await keys.createPersonal(caller, request.body, requestMeta(request)));
      return reply.status(201).send({ data: { ...keys.toApiKey(created.row), key: created.key } });
    },
  );

  r.get(
    '/users/me/api-keys',
    {
      config: { access: 'signed-in' },
      schema: {
        tags: ['api-keys'],
        summary: 'Personal API keys of the signed-in user (never the keys themselves)',
        response: { 200: Data(Type.Array(ApiKey)) },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      return { data: (await keys.listForUser(caller.userId)).map((row) => keys.toApiKey(row)) };
    },
  );

  r.post(
    '/users/me/api-keys/:id/rotate',
    {
      config: { access: 'signed-in', apiKeys: 'refused' },
      preValidation: emptyBodyAsObject,
      schema: {
        tags: ['api-keys'],
        summary: 'Replace the secret of a personal API key; the new key is in this answer only',
        description:
          'The new key keeps the name, expiry and scopes, under a new id. The old key stops at once, or after `grace_period` seconds.',
        params: ApiKeyParams,
        body: RotateApiKeyBody,
        response: { 200: Data(CreatedApiKey) },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const owner = { userId: caller.userId, projectId: caller.projectId };
      const grace = request.body.grace_period ?? 0;
      const rotated = unwrap(await keys.rotate(caller, owner, request.params.id, grace, requestMeta(request)));
      return { data: { ...keys.toApiKey(rotated.row), key: rotated.key } };
    },
  );

  r.delete(
    '/users/me/api-keys/:id',
    {
      config: { access: 'signed-in', apiKeys: 'refused' },
      schema: {
        tags: ['api-keys'],
        summary: 'Revoke a personal API key',
        params: ApiKeyParams,
        response: NoContent,
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const owner = { userId: caller.userId, projectId: caller.projectId };
      unwrap(await keys.revoke(caller, owner, request.params.id, requestMeta(request)));
      return reply.status(204).send(null);
    },
  );

  r.get(
    '/users/:id/api-keys',
    {
      config: { access: { permission: 'api-keys:admin' } },
      schema: {
        tags: ['api-keys'],
        summary: "A user's personal API keys",
        params: ApiKeyUserParams,
        response: { 200: Data(Type.Array(ApiKey)) },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      if (!(await keys.isUserOf(request.params.id, caller.projectId))) throw notFound();
      return { data: (await keys.listForUser(request.params.id)).map((row) => keys.toApiKey(row)) };
    },
  );

  r.delete(
    '/users/:id/api-keys/:keyId',
    {
      config: { access: { permission: 'api-keys:admin' } },
      schema: {
        tags: ['api-keys'],
        summary: "Revoke a user's personal API key",
        params: UserApiKeyParams,
        response: NoContent,
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const owner = { userId: request.params.id, projectId: caller.projectId };
      unwrap(await keys.revoke(caller, owner, request.params.keyId, requestMeta(request)));
      return reply.status(204).send(null);
    },
  );

  r.get(
    '/projects/:id/keys',
    {
      config: { access: { permission: 'projects:keys' } },
      schema: {
        tags: ['api-keys'],
        summary: 'Publishable and secret keys of the project (never the keys themselves)',
        params: ProjectRef,
        response: { 200: Data(Type.Array(ProjectKey)) },
      },
    },
    async (request) => {
      const projectId = await resolveProject(callerOf(request), request.params.id);
      return { data: (await keys.listForProject(projectId)).map((row) => keys.toProjectKey(row)) };
    },
  );

  r.post(
    '/projects/:id/keys',
    {
      config: { access: { permission: 'projects:keys' }, apiKeys: 'refused' },
      schema: {
        tags: ['api-keys'],
        summary: 'Create a publishable or secret key of the project; the key is in this answer only',
        params: ProjectRef,
        body: CreateProjectKeyBody,
        response: { 201: Data(CreatedProjectKey) },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      await resolveProject(caller, request.params.id);
      const created = await keys.createProjectKey(caller, request.body, requestMeta(request));
      return reply.status(201).send({ data: { ...keys.toProjectKey(created.row), key: created.key } });
    },
  );

  r.post(
    '/projects/:id/keys/:keyId/rotate',
    {
      config: { access: { permission: 'projects:keys' }, apiKeys: 'refused' },
      preValidation: emptyBodyAsObject,
      schema: {
        tags: ['api-keys'],
        summary: 'Replace the secret of a project key; the new key is in this answer only',
        params: ProjectKeyRef,
        body: RotateApiKeyBody,
        response: { 200: Data(CreatedProjectKey) },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const projectId = await resolveProject(caller, request.params.id);
      const grace = request.body.grace_period ?? 0;
      const rotated = unwrap(
        await keys.rotate(caller, { projectId }, request.params.keyId, grace, requestMeta(request)),
      );
      return { data: { ...keys.toProjectKey(rotated.row), key: rotated.key } };
    },
  );

  r.delete(
    '/projects/:id/keys/:keyId',
    {
      config: { access: { permission: 'projects:keys' } },
      schema: {
        tags: ['api-keys'],
        summary: 'Revoke a project key',
        params: ProjectKeyRef,
        response: NoContent,
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const projectId = await resolveProject(caller, request.params.id);
      unwrap(await keys.revoke(caller, { projectId }, request.params.keyId, requestMeta(request)));
      return reply.status(204).send(null);
    },
  );

  r.get(
    '/api/auth',
    {
      config: { access: 'public' },
      schema: {
        tags: ['api-keys'],
        summary: 'Exchange a personal API key (Authorization: Bearer) for an access token (the Entu model)',
        description:
          "Answers the accounts (projects) the key opens, its user, and an access token limited to the key's scopes, without the `data` envelope (as Entu does). `account` narrows to one project.",
        querystring: ApiAuthQuery,
        response: { 200: ApiAuthResult },
      },
    },
    async (request) => {
      const credential = credentialOf(request);
      if (credential?.source !== 'authorization' && credential?.source !== 'api-key-header') {
        throw invalidPayload('An API key is required: Authorization: Bearer <key>.');
      }
      const verified = await keys.verify(credential.token);
      if (!verified.ok) throw keyError(verified.reason);
      const { key } = verified;
      if (key.kind !== 'personal' || key.userId === null) {
        throw new AuthError('API_KEY_INVALID', 'Only a personal API key can be exchanged for a token.');
      }
      const project = await keys.project(key.projectId);
      const account = request.query.account;
      if (!project || (account !== undefined && account !== project.id && account !== project.slug)) throw notFound();
      const endsAt = Math.min(key.expiresAt ?? Number.MAX_SAFE_INTEGER, key.stopsAt ?? Number.MAX_SAFE_INTEGER);
      const issued = await exchange({
        id: key.id,
        userId: key.userId,
        projectId: key.projectId,
        scopes: key.scopes,
        endsAt,
      });
      const name = displayName(issued.user);
      return {
        accounts: [{ _id: project.id, name: project.name, user: { _id: issued.user.id, name } }],
        user: { _id: issued.user.id, name, email: issued.user.email },
        token: issued.token,
        expires: issued.expires,
      };
    },
  );
}

function displayName(user: UserProfile): string {
  const full = [user.first_name, user.last_name].filter((part) => part).join(' ');
  return full.length > 0 ? full : user.email;
}
