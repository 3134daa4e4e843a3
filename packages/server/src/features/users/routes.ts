import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Data, Session, UpdateMeBody, User } from '@gatehouse/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Caller } from '../../caller.js';
import type { Clock } from '../../clock.js';
import type { SessionRow, Tables, UserProfile } from '../../db/types.js';
import { forbidden, invalidCredentials } from '../../errors/auth-error.js';
import { requestMeta } from '../../http/request-meta.js';
import type { AuditLog } from '../audit/index.js';
import type { SessionService } from '../sessions/index.js';
import { iso, toPublicUser } from './service.js';
import { findUserById, updateUser } from './store.js';

export interface UserRoutesOptions {
  db: Kysely<Tables>;
  clock: Clock;
  sessions: SessionService;
  audit: AuditLog;
}

const SessionId = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const MeQuery = Type.Object(
  { fields: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])) },
  { additionalProperties: true },
);

function callerOf(request: { caller: Caller | null }): Caller {
  if (!request.caller) throw invalidCredentials();
  return request.caller;
}

/** The signed-in user's own account: profile and sessions. */
export async function userRoutes(app: FastifyInstance, options: UserRoutesOptions): Promise<void> {
  const { db, sessions, clock, audit } = options;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  /** The caller's account, read and checked active by the route's access check. */
  function accountOf(request: FastifyRequest): UserProfile {
    if (!request.account) throw invalidCredentials();
    return request.account;
  }

  r.get(
    '/users/me',
    {
      config: { access: 'signed-in' },
      schema: { tags: ['users'], summary: 'The signed-in user', querystring: MeQuery, response: { 200: Data(User) } },
    },
    async (request) => ({ data: toPublicUser(accountOf(request)) }),
  );

  r.patch(
    '/users/me',
    {
      config: { access: 'signed-in' },
      schema: {
        tags: ['users'],
        summary: 'Update profile fields of the signed-in user (not role, status or e-mail)',
        body: UpdateMeBody,
        response: { 200: Data(User) },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const user = accountOf(request);
      await updateUser(db, user.id, { ...request.body, updated_at: clock.now() });
      await audit.record(user.project_id, {
        event: 'user.profile_updated',
        actorId: caller.actorId ?? user.id,
        subjectId: user.id,
        ...requestMeta(request),
        details: { fields: Object.keys(request.body) },
      });
      const updated = await findUserById(db, user.id);
      if (!updated) throw invalidCredentials();
      return { data: toPublicUser(updated) };
    },
  );

  r.get(
    '/users/me/sessions',
    {
      config: { access: 'signed-in' },
      schema: {
        tags: ['sessions'],
        summary: 'Active sessions of the signed-in user',
        response: { 200: Data(Type.Array(Session)) },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const rows = await sessions.listActive(caller.userId);
      return {
        data: rows.map((row: SessionRow) => ({
          id: row.id,
          created_at: iso(row.created_at),
          last_used_at: iso(row.last_used_at),
          expires_at: iso(row.expires_at),
          ip: row.ip,
          user_agent: row.user_agent,
          mode: row.mode,
          current: row.id === caller.sessionId,
        })),
      };
    },
  );

  r.delete(
    '/users/me/sessions/:id',
    {
      config: { access: 'signed-in', apiKeys: 'refused' },
      schema: {
        tags: ['sessions'],
        summary: 'End one session of the signed-in user',
        params: SessionId,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const session = await sessions.get(request.params.id);
      // Another user's session answers exactly like a missing one: ids are not an oracle.
      if (!session || session.user_id !== caller.userId) throw forbidden();
      await sessions.end(session.id, 'user_ended');
      await audit.record(caller.projectId, {
        event: 'session.revoked',
        actorId: caller.actorId ?? caller.userId,
        subjectId: caller.userId,
        ...requestMeta(request),
        details: { session_id: session.id },
      });
      return reply.status(204).send(null);
    },
  );
}
