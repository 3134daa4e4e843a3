import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AcceptInviteBody, Invitation, InvitationsQuery, InviteBody, PageMeta } from '@gatehouse/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Caller } from '../../caller.js';
import type { Clock } from '../../clock.js';
import type { InvitationRow } from '../../db/types.js';
import { AuthError, forbidden, invalidCredentials, invalidPayload } from '../../errors/auth-error.js';
import { requestMeta } from '../../http/request-meta.js';
import { parseTimeCursor } from '../outbox/index.js';
import { type InvitationService, invitationStatus } from './service.js';

export interface InvitationRoutesOptions {
  invitations: InvitationService;
  clock: Clock;
}

const DEFAULT_LIMIT = 50;
const InvitationId = Type.Object({
  id: Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' }),
});
const iso = (millis: number | null): string | null => (millis === null ? null : new Date(Number(millis)).toISOString());

function callerOf(request: { caller: Caller | null }): Caller {
  if (!request.caller) throw invalidCredentials();
  return request.caller;
}

function toInvitation(row: InvitationRow, now: number): Invitation {
  return {
    id: row.id,
    email: row.email,
    role: row.role,
    status: invitationStatus(row, now),
    user_id: row.user_id,
    invited_by: row.invited_by,
    created_at: new Date(Number(row.created_at)).toISOString(),
    expires_at: new Date(Number(row.expires_at)).toISOString(),
    accepted_at: iso(row.accepted_at),
    revoked_at: iso(row.revoked_at),
  };
}

/** Directus-compatible `POST /users/invite` and `/users/invite/accept`, and the admin list of invitations. */
export async function invitationRoutes(app: FastifyInstance, options: InvitationRoutesOptions): Promise<void> {
  const { invitations, clock } = options;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    '/users/invite',
    {
      config: { access: { permission: 'users:write' } },
      schema: {
        tags: ['invitations'],
        summary: 'Invite someone by e-mail: creates the account (status invited) and mails a single-use link',
        body: InviteBody,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const result = await invitations.invite(callerOf(request), request.body, requestMeta(request));
      if (!result.ok) {
        switch (result.reason) {
          case 'url_not_allowed':
            throw invalidPayload('invite_url is not on the allow-list (GATEHOUSE_INVITE_URL_ALLOW_LIST).');
          case 'unknown_role':
            throw invalidPayload(`Role "${request.body.role}" does not exist.`);
          case 'role_above_caller':
            throw forbidden('You cannot invite someone into a role with permissions you do not hold.');
          case 'account_exists':
            throw new AuthError('RECORD_NOT_UNIQUE', 'An account with this e-mail already exists.');
        }
      }
      return reply.status(204).send(null);
    },
  );

  r.post(
    '/users/invite/accept',
    {
      config: { access: 'public' },
      schema: {
        tags: ['invitations'],
        summary: 'Accept an invitation: set the password and activate the account; the token works once',
        body: AcceptInviteBody,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const result = await invitations.accept(request.body, requestMeta(request));
      if (!result.ok) {
        if (result.reason === 'expired') throw new AuthError('TOKEN_EXPIRED', 'The invitation has expired.');
        throw new AuthError('INVALID_TOKEN', 'Invalid token.', { detail: `invitation ${result.reason}` });
      }
      return reply.status(204).send(null);
    },
  );

  r.get(
    '/invitations',
    {
      config: { access: { permission: 'users:read' } },
      schema: {
        tags: ['invitations'],
        summary: 'Invitations of the project, newest first',
        querystring: InvitationsQuery,
        response: { 200: Type.Object({ data: Type.Array(Invitation), meta: PageMeta }) },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const limit = request.query.limit ? Number(request.query.limit) : DEFAULT_LIMIT;
      const rows = await invitations.list({
        projectId: caller.projectId,
        status: request.query.status,
        before: parseTimeCursor(request.query.cursor),
        limit,
      });
      const now = clock.now();
      const last = rows.length === limit ? rows[rows.length - 1] : undefined;
      return {
        data: rows.map((row) => toInvitation(row, now)),
        meta: { next_cursor: last ? `${Number(last.created_at)}.${last.id}` : null },
      };
    },
  );

  r.delete(
    '/invitations/:id',
    {
      config: { access: { permission: 'users:write' } },
      schema: {
        tags: ['invitations'],
        summary: 'Revoke a pending invitation; the account it created, never activated, is deleted',
        params: InvitationId,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const result = await invitations.revoke(callerOf(request), request.params.id, requestMeta(request));
      if (!result.ok) {
        if (result.reason === 'not_pending') throw invalidPayload('Only a pending invitation can be revoked.');
        throw new AuthError('RECORD_NOT_FOUND', 'Invitation not found.');
      }
      return reply.status(204).send(null);
    },
  );
}
