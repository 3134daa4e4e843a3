import { type Kysely, sql, type Transaction } from 'kysely';
import type { Dialect } from '../../db/database.js';
import { prepared } from '../../db/prepared.js';
import type { AuditEventRow, AuditHeadsTable, Tables } from '../../db/types.js';
import { GENESIS_HASH } from './chain.js';

type Executor = Kysely<Tables> | Transaction<Tables>;

// Every audited request appends an event: these are compiled once (db/prepared.ts), not on every append.
const ensureHead = prepared((db, projectId: string, genesis: string) =>
  db
    .insertInto('audit_heads')
    .values({ project_id: projectId, seq: sql.lit(0), hash: genesis })
    .onConflict((conflict) => conflict.column('project_id').doNothing()),
);
const selectHead = prepared((db, projectId: string) =>
  db.selectFrom('audit_heads').selectAll().where('project_id', '=', projectId),
);
const selectHeadForUpdate = prepared((db, projectId: string) =>
  db.selectFrom('audit_heads').selectAll().where('project_id', '=', projectId).forUpdate(),
);
const insertEvent = prepared(
  (
    db,
    id: string,
    projectId: string,
    seq: number,
    createdAt: number,
    event: string,
    outcome: string,
    actorId: string | null,
    subjectId: string | null,
    ip: string | null,
    userAgent: string | null,
    details: string,
    prevHash: string,
    hash: string,
  ) =>
    db.insertInto('audit_events').values({
      id,
      project_id: projectId,
      seq,
      created_at: createdAt,
      event,
      outcome: outcome as AuditEventRow['outcome'],
      actor_id: actorId,
      subject_id: subjectId,
      ip,
      user_agent: userAgent,
      details,
      prev_hash: prevHash,
      hash,
    }),
);
const updateHead = prepared((db, projectId: string, seq: number, hash: string) =>
  db.updateTable('audit_heads').set({ seq, hash }).where('project_id', '=', projectId),
);

/**
 * The project's chain head, created at the genesis hash on first use; on PostgreSQL the row stays locked until
 * the transaction ends, so appends from several nodes queue (SQLite has one writer at a time anyway). The head
 * exists after a project's first event, so it is read first and only created when the read finds none.
 */
export async function lockHead(
  trx: Transaction<Tables>,
  dialect: Dialect,
  projectId: string,
): Promise<AuditHeadsTable> {
  const select = dialect === 'postgres' ? selectHeadForUpdate : selectHead;
  let head = (await select(trx, projectId)).rows[0];
  if (!head) {
    await ensureHead(trx, projectId, GENESIS_HASH);
    head = (await select(trx, projectId)).rows[0];
  }
  if (!head) throw new Error(`no audit chain head for project ${projectId}`);
  return head;
}

/** Inserts the event and moves the chain head to it. */
export async function appendEvent(trx: Transaction<Tables>, row: AuditEventRow): Promise<void> {
  await insertEvent(
    trx,
    row.id,
    row.project_id,
    row.seq,
    row.created_at,
    row.event,
    row.outcome,
    row.actor_id,
    row.subject_id,
    row.ip,
    row.user_agent,
    row.details,
    row.prev_hash,
    row.hash,
  );
  await updateHead(trx, row.project_id, row.seq, row.hash);
}

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
