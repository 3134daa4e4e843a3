import {
  AUDIT_EVENTS,
  type CreateWebhookBody,
  type UpdateWebhookBody,
  WEBHOOK_ALL_EVENTS,
  WEBHOOK_TEST_EVENT,
  type Webhook,
  type WebhookDeliveriesQuery,
  type WebhookDelivery,
  type WebhookWithSecret,
} from '@gatehouse/protocol';
import type { Insertable, Kysely, Transaction } from 'kysely';
import type { RequestMeta } from '../../caller.js';
import type { Clock } from '../../clock.js';
import { randomId } from '../../crypto/random.js';
import { seal } from '../../crypto/secret-box.js';
import type { AuditEventRow, Tables, WebhookDeliveriesTable, WebhookDeliveryRow, WebhookRow } from '../../db/types.js';
import { type AuditLog, toAuditEvent } from '../audit/index.js';
import { newWebhookSecret } from './signature.js';
import * as store from './store.js';
import { checkWebhookUrl } from './url.js';

export interface WebhookServiceDeps {
  db: Kysely<Tables>;
  clock: Clock;
  audit: AuditLog;
  /** Seals signing secrets at rest (AES-256-GCM, the webhook id as associated data). */
  sealKey: Uint8Array;
  /** In production only https URLs are accepted. */
  production: boolean;
}

/** The admin acting, for the audit trail. */
export interface Actor extends RequestMeta {
  actorId: string;
}

export type Outcome<T> =
  | { ok: true; value: T }
  | { ok: false; reason: 'not_found' }
  | { ok: false; reason: 'invalid'; message: string };

export interface DeliveryPage {
  deliveries: WebhookDelivery[];
  nextCursor: string | null;
}

const DEFAULT_PAGE = 50;
const notFound = { ok: false, reason: 'not_found' } as const;
const invalid = (message: string) => ({ ok: false, reason: 'invalid', message }) as const;

const iso = (millis: number): string => new Date(millis).toISOString();
const isoOrNull = (millis: number | null): string | null => (millis === null ? null : iso(Number(millis)));

export function toWebhook(row: WebhookRow): Webhook {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    events: JSON.parse(row.events) as string[],
    enabled: row.enabled === 1,
    created_at: iso(Number(row.created_at)),
    updated_at: iso(Number(row.updated_at)),
  };
}

export function toWebhookDelivery(row: WebhookDeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    webhook_id: row.webhook_id,
    event_id: row.event_id,
    event: row.event,
    status: row.status,
    attempts: Number(row.attempts),
    next_attempt_at: row.status === 'pending' ? isoOrNull(row.next_attempt_at) : null,
    last_attempt_at: isoOrNull(row.last_attempt_at),
    response_status: row.response_status === null ? null : Number(row.response_status),
    last_error: row.last_error,
    created_at: iso(Number(row.created_at)),
    delivered_at: isoOrNull(row.delivered_at),
  };
}

/** Subscriptions are audit event names, or `*` alone; anything else is refused so a typo cannot go unnoticed. */
function checkEvents(events: readonly string[]): { events: string[] } | { problem: string } {
  if (events.includes(WEBHOOK_ALL_EVENTS)) return { events: [WEBHOOK_ALL_EVENTS] };
  const unknown = events.find((name) => !Object.hasOwn(AUDIT_EVENTS, name));
  if (unknown !== undefined) return { problem: `Unknown event "${unknown}" (see AUDIT_EVENTS, or use "*").` };
  return { events: [...events] };
}

function subscribes(events: string, name: string): boolean {
  const list = JSON.parse(events) as string[];
  return list.includes(WEBHOOK_ALL_EVENTS) || list.includes(name);
}

/** The exact body of a delivery: stored once, then sent and signed byte for byte on every attempt. */
function payload(deliveryId: string, event: string, createdAt: number, data: unknown): string {
  return JSON.stringify({ id: deliveryId, event, created_at: iso(createdAt), data });
}

/** The project's webhook subscriptions and their delivery queue. */
export class WebhookService {
  constructor(private readonly deps: WebhookServiceDeps) {}

  async list(projectId: string): Promise<Webhook[]> {
    return (await store.listWebhooks(this.deps.db, projectId)).map(toWebhook);
  }

  async get(projectId: string, id: string): Promise<Webhook | null> {
    const row = await store.findWebhook(this.deps.db, projectId, id);
    return row ? toWebhook(row) : null;
  }

  async create(projectId: string, input: CreateWebhookBody, actor: Actor): Promise<Outcome<WebhookWithSecret>> {
    const url = checkWebhookUrl(input.url, { production: this.deps.production });
    if ('problem' in url) return invalid(url.problem);
    const events = checkEvents(input.events);
    if ('problem' in events) return invalid(events.problem);
    const now = this.deps.clock.now();
    const id = randomId();
    const secret = newWebhookSecret();
    const row: WebhookRow = {
      id,
      project_id: projectId,
      url: url.url,
      description: input.description ?? null,
      events: JSON.stringify(events.events),
      secret: seal(this.deps.sealKey, secret, id),
      enabled: input.enabled === false ? 0 : 1,
      created_at: now,
      updated_at: now,
    };
    await store.insertWebhook(this.deps.db, row);
    await this.record(projectId, 'webhook.created', actor, {
      webhook_id: id,
      host: new URL(url.url).host,
      events: events.events,
      enabled: row.enabled === 1,
    });
    return { ok: true, value: { ...toWebhook(row), secret } };
  }

  async update(projectId: string, id: string, input: UpdateWebhookBody, actor: Actor): Promise<Outcome<Webhook>> {
    const patch: Partial<WebhookRow> = {};
    const details: Record<string, unknown> = { webhook_id: id, fields: Object.keys(input) };
    if (input.url !== undefined) {
      const url = checkWebhookUrl(input.url, { production: this.deps.production });
      if ('problem' in url) return invalid(url.problem);
      patch.url = url.url;
      details.host = new URL(url.url).host;
    }
    if (input.events !== undefined) {
      const events = checkEvents(input.events);
      if ('problem' in events) return invalid(events.problem);
      patch.events = JSON.stringify(events.events);
      details.events = events.events;
    }
    if (input.description !== undefined) patch.description = input.description;
    if (input.enabled !== undefined) {
      patch.enabled = input.enabled ? 1 : 0;
      details.enabled = input.enabled;
    }
    const found = await store.updateWebhook(this.deps.db, projectId, id, {
      ...patch,
      updated_at: this.deps.clock.now(),
    });
    if (!found) return notFound;
    await this.record(projectId, 'webhook.updated', actor, details);
    const row = await store.findWebhook(this.deps.db, projectId, id);
    return row ? { ok: true, value: toWebhook(row) } : notFound;
  }

  /** Deletes the webhook and its delivery history; answers false when there was no such webhook. */
  async remove(projectId: string, id: string, actor: Actor): Promise<boolean> {
    if (!(await store.deleteWebhook(this.deps.db, projectId, id))) return false;
    await this.record(projectId, 'webhook.deleted', actor, { webhook_id: id });
    return true;
  }

  /** A new signing secret, shown once; every attempt from now on, queued ones included, is signed with it. */
  async rotateSecret(projectId: string, id: string, actor: Actor): Promise<WebhookWithSecret | null> {
    const secret = newWebhookSecret();
    const found = await store.updateWebhook(this.deps.db, projectId, id, {
      secret: seal(this.deps.sealKey, secret, id),
      updated_at: this.deps.clock.now(),
    });
    if (!found) return null;
    await this.record(projectId, 'webhook.secret_rotated', actor, { webhook_id: id });
    const row = await store.findWebhook(this.deps.db, projectId, id);
    return row ? { ...toWebhook(row), secret } : null;
  }

  async deliveries(projectId: string, id: string, query: WebhookDeliveriesQuery): Promise<DeliveryPage | null> {
    if (!(await store.findWebhook(this.deps.db, projectId, id))) return null;
    const limit = query.limit ? Number(query.limit) : DEFAULT_PAGE;
    let before: store.DeliveryFilter['before'];
    if (query.cursor) {
      const dot = query.cursor.indexOf('.');
      before = { createdAt: Number(query.cursor.slice(0, dot)), id: query.cursor.slice(dot + 1).toLowerCase() };
    }
    const rows = await store.listDeliveries(this.deps.db, {
      projectId,
      webhookId: id,
      status: query.status,
      before,
      limit,
    });
    const last = rows.length === limit ? rows[rows.length - 1] : undefined;
    return {
      deliveries: rows.map(toWebhookDelivery),
      nextCursor: last ? `${Number(last.created_at)}.${last.id}` : null,
    };
  }

  /** Queues a failed delivery again, now, with a fresh set of attempts. */
  async retry(projectId: string, id: string, deliveryId: string, actor: Actor): Promise<Outcome<WebhookDelivery>> {
    const { db, clock } = this.deps;
    const delivery = await store.findDelivery(db, projectId, id, deliveryId);
    if (!delivery) return notFound;
    if (!(await store.requeueDelivery(db, delivery.id, clock.now()))) {
      return invalid('Only a failed delivery can be retried.');
    }
    await this.record(projectId, 'webhook.delivery_retried', actor, { webhook_id: id, delivery_id: deliveryId });
    const row = await store.findDelivery(db, projectId, id, deliveryId);
    return row ? { ok: true, value: toWebhookDelivery(row) } : notFound;
  }

  /** Queues a `webhook.test` ping to this webhook alone, whatever it subscribes to. */
  async ping(projectId: string, id: string): Promise<WebhookDelivery | null> {
    const { db, clock } = this.deps;
    if (!(await store.findWebhook(db, projectId, id))) return null;
    const now = clock.now();
    const row = this.newDelivery({
      projectId,
      webhookId: id,
      eventId: randomId(),
      event: WEBHOOK_TEST_EVENT,
      createdAt: now,
      data: { webhook_id: id },
    });
    await store.insertDeliveries(db, [row]);
    return toWebhookDelivery(row as WebhookDeliveryRow);
  }

  /**
   * The audit log's append hook: queues one delivery per enabled webhook of the event's project that subscribes
   * to it, in the transaction that appends the event, so an event is never recorded without its deliveries.
   * One indexed read per event (see migration 004); no cache, so a change on one node is seen on every node.
   */
  readonly enqueue = async (trx: Transaction<Tables>, event: AuditEventRow): Promise<void> => {
    const webhooks = await store.enabledWebhooks(trx, event.project_id);
    const matching = webhooks.filter((webhook) => subscribes(webhook.events, event.event));
    if (matching.length === 0) return;
    const data = toAuditEvent(event);
    const rows = matching.map((webhook) =>
      this.newDelivery({
        projectId: event.project_id,
        webhookId: webhook.id,
        eventId: event.id,
        event: event.event,
        createdAt: Number(event.created_at),
        data,
      }),
    );
    await store.insertDeliveries(trx, rows);
  };

  private newDelivery(input: {
    projectId: string;
    webhookId: string;
    eventId: string;
    event: string;
    createdAt: number;
    data: unknown;
  }): Insertable<WebhookDeliveriesTable> & WebhookDeliveryRow {
    const id = randomId();
    return {
      id,
      project_id: input.projectId,
      webhook_id: input.webhookId,
      event_id: input.eventId,
      event: input.event,
      payload: payload(id, input.event, input.createdAt, input.data),
      status: 'pending',
      attempts: 0,
      next_attempt_at: input.createdAt,
      last_attempt_at: null,
      response_status: null,
      last_error: null,
      created_at: input.createdAt,
      delivered_at: null,
    };
  }

  private async record(
    projectId: string,
    event:
      | 'webhook.created'
      | 'webhook.updated'
      | 'webhook.deleted'
      | 'webhook.secret_rotated'
      | 'webhook.delivery_retried',
    actor: Actor,
    details: Record<string, unknown>,
  ): Promise<void> {
    await this.deps.audit.record(projectId, {
      event,
      actorId: actor.actorId,
      ip: actor.ip,
      userAgent: actor.userAgent,
      details,
    });
  }
}
