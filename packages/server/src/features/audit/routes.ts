import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AuditEvent, AuditQuery, PageMeta, SecurityEvent, SecurityEventsQuery } from '@gatehouse/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AuditEventRow } from '../../db/types.js';
import { invalidCredentials } from '../../errors/auth-error.js';
import type { AuditLog } from './service.js';

export interface AuditRoutesOptions {
  audit: AuditLog;
}

const DEFAULT_LIMIT = 50;

function page<T>(rows: AuditEventRow[], limit: number, shape: (row: AuditEventRow) => T) {
  const last = rows.length === limit ? rows[rows.length - 1] : undefined;
  return { data: rows.map(shape), meta: { next_cursor: last ? String(last.seq) : null } };
}

function details(row: AuditEventRow): Record<string, unknown> {
  return JSON.parse(row.details) as Record<string, unknown>;
}

export function toAuditEvent(row: AuditEventRow): AuditEvent {
  return {
    id: row.id,
    seq: Number(row.seq),
    created_at: new Date(Number(row.created_at)).toISOString(),
    event: row.event,
    outcome: row.outcome,
    actor_id: row.actor_id,
    subject_id: row.subject_id,
    ip: row.ip,
    user_agent: row.user_agent,
    details: details(row),
  };
}

/** The project's audit trail for admins, and each user's own security events. */
export async function auditRoutes(app: FastifyInstance, options: AuditRoutesOptions): Promise<void> {
  const { audit } = options;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/audit',
    {
      config: { access: { permission: 'audit:read' } },
      schema: {
        tags: ['audit'],
        summary: 'Security events of the project, newest first',
        querystring: AuditQuery,
        response: { 200: Type.Object({ data: Type.Array(AuditEvent), meta: PageMeta }) },
      },
    },
    async (request) => {
      if (!request.caller) throw invalidCredentials();
      const query = request.query;
      const limit = query.limit ? Number(query.limit) : DEFAULT_LIMIT;
      const rows = await audit.list({
        projectId: request.caller.projectId,
        event: query.event,
        outcome: query.outcome,
        actorId: query.actor,
        subjectId: query.subject,
        since: query.since ? Date.parse(query.since) : undefined,
        until: query.until ? Date.parse(query.until) : undefined,
        beforeSeq: query.cursor ? Number(query.cursor) : undefined,
        limit,
      });
      return page(rows, limit, toAuditEvent);
    },
  );

  r.get(
    '/users/me/security-events',
    {
      config: { access: 'signed-in' },
      schema: {
        tags: ['users'],
        summary: "Security events of the signed-in user's account, newest first",
        querystring: SecurityEventsQuery,
        response: { 200: Type.Object({ data: Type.Array(SecurityEvent), meta: PageMeta }) },
      },
    },
    async (request) => {
      const caller = request.caller;
      if (!caller) throw invalidCredentials();
      const limit = request.query.limit ? Number(request.query.limit) : DEFAULT_LIMIT;
      const rows = await audit.list({
        projectId: caller.projectId,
        subjectId: caller.userId,
        beforeSeq: request.query.cursor ? Number(request.query.cursor) : undefined,
        limit,
      });
      return page(rows, limit, (row) => ({
        id: row.id,
        created_at: new Date(Number(row.created_at)).toISOString(),
        event: row.event,
        outcome: row.outcome,
        by_admin: row.actor_id !== null && row.actor_id !== caller.userId,
        ip: row.ip,
        user_agent: row.user_agent,
        details: details(row),
      }));
    },
  );
}
