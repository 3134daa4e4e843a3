import type { Kysely } from 'kysely';
import type { OutboxRow, OutboxTable, Tables } from '../db/types.js';

export async function insertMessage(db: Kysely<Tables>, row: OutboxTable): Promise<void> {
  await db.insertInto('outbox').values(row).execute();
}

export async function markSent(db: Kysely<Tables>, id: string, now: number, options: { keepBody: boolean }) {
  await db
    .updateTable('outbox')
    .set({
      status: 'sent',
      sent_at: now,
      next_attempt_at: null,
      last_error: null,
      ...(options.keepBody ? {} : { text: null, html: null }),
    })
    .where('id', '=', id)
    .execute();
}

export async function markFailed(
  db: Kysely<Tables>,
  id: string,
  values: { attempts: number; lastError: string; nextAttemptAt: number | null },
): Promise<void> {
  await db
    .updateTable('outbox')
    .set({
      status: 'failed',
      attempts: values.attempts,
      last_error: values.lastError,
      next_attempt_at: values.nextAttemptAt,
      // Given up: the links in the body are of no use to anyone any more, so they do not stay.
      ...(values.nextAttemptAt === null ? { text: null, html: null } : {}),
    })
    .where('id', '=', id)
    .execute();
}

/** Messages whose (next) attempt is due: failed ones at their retry time, pending ones whose first attempt died. */
export async function findDue(db: Kysely<Tables>, now: number, limit: number): Promise<OutboxRow[]> {
  return db
    .selectFrom('outbox')
    .selectAll()
    .where('status', 'in', ['pending', 'failed'])
    .where('next_attempt_at', '<=', now)
    .orderBy('next_attempt_at', 'asc')
    .limit(limit)
    .execute();
}

/**
 * Takes a due message for one attempt by moving its `next_attempt_at` to the end of a lease, only if nobody else
 * moved it first: of several nodes polling at once, exactly one sends it.
 */
export async function claim(db: Kysely<Tables>, row: OutboxRow, leaseUntil: number): Promise<boolean> {
  if (row.next_attempt_at === null) return false;
  const result = await db
    .updateTable('outbox')
    .set({ next_attempt_at: leaseUntil })
    .where('id', '=', row.id)
    .where('next_attempt_at', '=', row.next_attempt_at)
    .where('status', 'in', ['pending', 'failed'])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export interface OutboxFilter {
  projectId: string;
  status?: OutboxRow['status'];
  kind?: string;
  /** Only rows before this position in newest-first order (the previous page's last row). */
  before?: { createdAt: number; id: string };
  limit: number;
}

/** Newest first; ties on the creation time are ordered by id so pages never skip or repeat a row. */
export async function listMessages(db: Kysely<Tables>, filter: OutboxFilter): Promise<OutboxRow[]> {
  let query = db.selectFrom('outbox').selectAll().where('project_id', '=', filter.projectId);
  if (filter.status !== undefined) query = query.where('status', '=', filter.status);
  if (filter.kind !== undefined) query = query.where('kind', '=', filter.kind);
  const before = filter.before;
  if (before) {
    query = query.where((eb) =>
      eb.or([
        eb('created_at', '<', before.createdAt),
        eb.and([eb('created_at', '=', before.createdAt), eb('id', '<', before.id)]),
      ]),
    );
  }
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit).execute();
}
