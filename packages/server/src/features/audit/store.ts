import type { Kysely, Transaction } from 'kysely';
import type { AuditEventRow, AuditHeadsTable, Tables } from '../../db/types.js';

type Executor = Kysely<Tables> | Transaction<Tables>;

export interface AuditFilter {
  projectId: string;
  event?: string;
  outcome?: 'success' | 'failure';
  actorId?: string;
  subjectId?: string;
  since?: number;
  until?: number;
  /** Only events older than this sequence number (the cursor of the previous page). */
  beforeSeq?: number;
  limit: number;
}

/** Newest first. */
export async function listEvents(db: Executor, filter: AuditFilter): Promise<AuditEventRow[]> {
  let query = db.selectFrom('audit_events').selectAll().where('project_id', '=', filter.projectId);
  if (filter.event !== undefined) query = query.where('event', '=', filter.event);
  if (filter.outcome !== undefined) query = query.where('outcome', '=', filter.outcome);
  if (filter.actorId !== undefined) query = query.where('actor_id', '=', filter.actorId);
  if (filter.subjectId !== undefined) query = query.where('subject_id', '=', filter.subjectId);
  if (filter.since !== undefined) query = query.where('created_at', '>=', filter.since);
  if (filter.until !== undefined) query = query.where('created_at', '<', filter.until);
  if (filter.beforeSeq !== undefined) query = query.where('seq', '<', filter.beforeSeq);
  return query.orderBy('seq', 'desc').limit(filter.limit).execute();
}

/** Oldest first, from `afterSeq` on: for walking a chain. */
export async function eventsInOrder(
  db: Executor,
  projectId: string,
  afterSeq: number,
  limit: number,
): Promise<AuditEventRow[]> {
  return db
    .selectFrom('audit_events')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('seq', '>', afterSeq)
    .orderBy('seq', 'asc')
    .limit(limit)
    .execute();
}

export async function findHead(db: Executor, projectId: string): Promise<AuditHeadsTable | undefined> {
  return db.selectFrom('audit_heads').selectAll().where('project_id', '=', projectId).executeTakeFirst();
}

/** Every project that has a chain, or events without a head (a deleted head row must not hide a chain). */
export async function chainedProjects(db: Executor): Promise<string[]> {
  const heads = await db.selectFrom('audit_heads').select('project_id').execute();
  const withEvents = await db.selectFrom('audit_events').select('project_id').distinct().execute();
  return [...new Set([...heads, ...withEvents].map((row) => row.project_id))];
}
