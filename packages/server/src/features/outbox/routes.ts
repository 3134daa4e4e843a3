import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { OutboxMessage, OutboxQuery, PageMeta } from '@gatehouse/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { OutboxRow } from '../../db/types.js';
import { invalidCredentials } from '../../errors/auth-error.js';
import type { Mailer } from '../../mail/index.js';

export interface OutboxRoutesOptions {
  mailer: Mailer;
}

const DEFAULT_LIMIT = 50;
const iso = (millis: number | null): string | null => (millis === null ? null : new Date(Number(millis)).toISOString());

export function toOutboxMessage(row: OutboxRow): OutboxMessage {
  return {
    id: row.id,
    kind: row.kind,
    to: row.to,
    subject: row.subject,
    text: row.text,
    html: row.html,
    status: row.status,
    attempts: Number(row.attempts),
    next_attempt_at: iso(row.next_attempt_at),
    last_error: row.last_error,
    created_at: new Date(Number(row.created_at)).toISOString(),
    sent_at: iso(row.sent_at),
    channel: row.channel,
  };
}

/** `<created_at>.<id>` of a page's last row: where the next page starts. */
export function parseTimeCursor(cursor: string | undefined): { createdAt: number; id: string } | undefined {
  if (cursor === undefined) return undefined;
  const dot = cursor.indexOf('.');
  return { createdAt: Number(cursor.slice(0, dot)), id: cursor.slice(dot + 1) };
}

/**
 * The project's outgoing mail, newest first: the development outbox (messages kept because no SMTP server is
 * configured, links included) and the delivery state of SMTP mail. Admins only (`outbox:read`).
 */
export async function outboxRoutes(app: FastifyInstance, options: OutboxRoutesOptions): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/outbox',
    {
      config: { access: { permission: 'outbox:read' } },
      schema: {
        tags: ['mail'],
        summary: 'Outgoing mail of the project, newest first',
        querystring: OutboxQuery,
        response: { 200: Type.Object({ data: Type.Array(OutboxMessage), meta: PageMeta }) },
      },
    },
    async (request) => {
      if (!request.caller) throw invalidCredentials();
      const { query } = request;
      const limit = query.limit ? Number(query.limit) : DEFAULT_LIMIT;
      const rows = await options.mailer.list({
        projectId: request.caller.projectId,
        status: query.status,
        kind: query.kind,
        before: parseTimeCursor(query.cursor),
        limit,
      });
      const last = rows.length === limit ? rows[rows.length - 1] : undefined;
      return {
        data: rows.map(toOutboxMessage),
        meta: { next_cursor: last ? `${Number(last.created_at)}.${last.id}` : null },
      };
    },
  );
}
