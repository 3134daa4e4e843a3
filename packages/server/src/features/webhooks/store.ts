import { type Insertable, type Kysely, sql, type Transaction, type Updateable } from 'kysely';
import { prepared } from '../../db/prepared.js';
import type { Tables, WebhookDeliveriesTable, WebhookDeliveryRow, WebhookRow, WebhooksTable } from '../../db/types.js';

type Executor = Kysely<Tables> | Transaction<Tables>;

export async function insertWebhook(db: Executor, row: Insertable<WebhooksTable>): Promise<void> {
  await db.insertInto('webhooks').values(row).execute();
}

export async function listWebhooks(db: Executor, projectId: string): Promise<WebhookRow[]> {
  return db
    .selectFrom('webhooks')
    .selectAll()
    .where('project_id', '=', projectId)
    .orderBy('created_at', 'asc')
    .orderBy('id', 'asc')
    .execute();
}

export async function findWebhook(db: Executor, projectId: string, id: string): Promise<WebhookRow | undefined> {
  return db
    .selectFrom('webhooks')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** Answers whether the webhook existed. */
export async function updateWebhook(
  db: Executor,
  projectId: string,
  id: string,
  patch: Updateable<WebhooksTable>,
): Promise<boolean> {
  const result = await db
    .updateTable('webhooks')
    .set(patch)
    .where('project_id', '=', projectId)
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Its deliveries go with it (foreign key cascade). Answers whether the webhook existed. */
export async function deleteWebhook(db: Executor, projectId: string, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('webhooks')
    .where('project_id', '=', projectId)
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

const selectEnabled = prepared((db, projectId: string) =>
  db
    .selectFrom('webhooks')
    .select(['id', 'events'])
    .where('project_id', '=', projectId)
    .where('enabled', '=', sql.lit(1)),
);

/** The enabled webhooks of a project, with their subscriptions: runs once per audit event (indexed). */
export async function enabledWebhooks(db: Executor, projectId: string): Promise<Pick<WebhookRow, 'id' | 'events'>[]> {
  return (await selectEnabled(db, projectId)).rows;
}

export async function insertDeliveries(
  db: Executor,
  rows: readonly Insertable<WebhookDeliveriesTable>[],
): Promise<void> {
  if (rows.length > 0)
    await db
      .insertInto('webhook_deliveries')
      .values([...rows])
      .execute();
}

export interface DeliveryFilter {
  projectId: string;
  webhookId: string;
  status?: WebhookDeliveryRow['status'];
  /** Only deliveries after this one in newest-first order (the cursor of the previous page). */
  before?: { createdAt: number; id: string };
  limit: number;
}

/** Newest first. */
export async function listDeliveries(db: Executor, filter: DeliveryFilter): Promise<WebhookDeliveryRow[]> {
  let query = db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('webhook_id', '=', filter.webhookId)
    .where('project_id', '=', filter.projectId);
  if (filter.status !== undefined) query = query.where('status', '=', filter.status);
  const before = filter.before;
  if (before !== undefined) {
    query = query.where((eb) =>
      eb.or([
        eb('created_at', '<', before.createdAt),
        eb.and([eb('created_at', '=', before.createdAt), eb('id', '<', before.id)]),
      ]),
    );
  }
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit).execute();
}

export async function findDelivery(
  db: Executor,
  projectId: string,
  webhookId: string,
  id: string,
): Promise<WebhookDeliveryRow | undefined> {
  return db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('webhook_id', '=', webhookId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** Puts a failed delivery back in the queue with a fresh set of attempts; false unless it was failed. */
export async function requeueDelivery(db: Executor, id: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set({ status: 'pending', attempts: 0, next_attempt_at: now })
    .where('id', '=', id)
    .where('status', '=', 'failed')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export interface DueDelivery {
  id: string;
  webhook_id: string;
  payload: string;
  attempts: number;
  next_attempt_at: number;
  url: string;
  secret: string;
}

/** Pending deliveries whose time has come, of enabled webhooks, oldest due first. Not yet claimed. */
export async function dueDeliveries(db: Executor, now: number, limit: number): Promise<DueDelivery[]> {
  const rows = await db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhooks as w', 'w.id', 'd.webhook_id')
    .select(['d.id', 'd.webhook_id', 'd.payload', 'd.attempts', 'd.next_attempt_at', 'w.url', 'w.secret'])
    .where('d.status', '=', 'pending')
    .where('d.next_attempt_at', '<=', now)
    .where('w.enabled', '=', 1)
    .orderBy('d.next_attempt_at', 'asc')
    .limit(limit)
    .execute();
  return rows.map((row) => ({ ...row, attempts: Number(row.attempts), next_attempt_at: Number(row.next_attempt_at) }));
}

/**
 * Claims one attempt of a delivery: moves `next_attempt_at` from the value this node saw to the end of a lease
 * and counts the attempt. The update only matches while the row still holds the value seen, so of several nodes
 * (or concurrent calls) that saw the same row, exactly one changes it; the others see zero rows and skip it.
 * A node that dies mid-attempt leaves the lease to expire, and the delivery is tried again.
 */
export async function claimDelivery(
  db: Executor,
  delivery: Pick<DueDelivery, 'id' | 'next_attempt_at'>,
  now: number,
  leaseUntil: number,
): Promise<boolean> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set((eb) => ({ next_attempt_at: leaseUntil, last_attempt_at: now, attempts: eb('attempts', '+', 1) }))
    .where('id', '=', delivery.id)
    .where('status', '=', 'pending')
    .where('next_attempt_at', '=', delivery.next_attempt_at)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Records the outcome of a claimed attempt, unless the lease was lost meanwhile (then another node owns it). */
export async function finishAttempt(
  db: Executor,
  id: string,
  leaseUntil: number,
  outcome: Updateable<WebhookDeliveriesTable>,
): Promise<boolean> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set(outcome)
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('next_attempt_at', '=', leaseUntil)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
