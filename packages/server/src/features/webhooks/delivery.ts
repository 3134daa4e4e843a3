import type { Kysely } from 'kysely';
import type { Clock } from '../../clock.js';
import { open } from '../../crypto/secret-box.js';
import type { Tables, WebhookDeliveriesTable } from '../../db/types.js';
import { signWebhook, WEBHOOK_ID_HEADER, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER } from './signature.js';
import * as store from './store.js';

/**
 * Delay after the Nth failed attempt (index N-1). Eight attempts in all, spread over about 44 hours, so a receiver
 * that is down for a deploy, a night or a day still gets every event.
 */
export const RETRY_DELAYS: readonly number[] = [
  30_000, // 30 s
  2 * 60_000, // 2 min
  10 * 60_000, // 10 min
  60 * 60_000, // 1 h
  6 * 60 * 60_000, // 6 h
  12 * 60 * 60_000, // 12 h
  24 * 60 * 60_000, // 24 h
];
export const MAX_ATTEMPTS = RETRY_DELAYS.length + 1;
/** Each delay is stretched by up to this fraction at random, so retries of a burst do not arrive in step. */
export const RETRY_JITTER = 0.1;

const MAX_ERROR_LENGTH = 300;
const BATCH = 20;
const MAX_BATCHES = 10;

export interface WorkerLog {
  info(object: object, message: string): void;
  error(object: object, message: string): void;
}

export interface DeliveryWorkerOptions {
  db: Kysely<Tables>;
  clock: Clock;
  /** Opens the sealed signing secrets (same key as the service seals with). */
  sealKey: Uint8Array;
  log: WorkerLog;
  /** Per attempt, including reading the answer's status. */
  timeout?: number;
  /** How often the timer looks for due deliveries. */
  interval?: number;
  userAgent?: string;
}

/** The delay before the attempt after `attempts` failed ones, or null when none is left. */
export function retryDelay(attempts: number, random: () => number = Math.random): number | null {
  const base = RETRY_DELAYS[attempts - 1];
  if (base === undefined) return null;
  return Math.round(base * (1 + RETRY_JITTER * random()));
}

type AttemptResult = { ok: true; status: number } | { ok: false; status: number | null; error: string };

/**
 * Sends queued deliveries. Any number of nodes may run one: each attempt is claimed with a conditional update
 * (store.claimDelivery) that also leases the row for longer than an attempt can take, so a delivery is sent by
 * one node at a time and never twice for one attempt. Errors are logged, never thrown out of the timer; nothing
 * logged carries the secret, the signature or the target URL (which may hold a token of the receiver's).
 */
export class WebhookDeliveryWorker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private readonly timeout: number;
  private readonly lease: number;

  constructor(private readonly options: DeliveryWorkerOptions) {
    this.timeout = options.timeout ?? 10_000;
    // Long enough that a live attempt always finishes (or times out) before another node may take the row.
    this.lease = this.timeout * 6;
  }

  /** Sends every delivery that is due now (up to a bound per call); answers how many attempts were made. */
  async deliverDue(): Promise<number> {
    let attempted = 0;
    for (let batch = 0; batch < MAX_BATCHES; batch++) {
      const now = this.options.clock.now();
      const due = await store.dueDeliveries(this.options.db, now, BATCH);
      const results = await Promise.all(due.map((delivery) => this.attempt(delivery, now)));
      attempted += results.filter(Boolean).length;
      if (due.length < BATCH) break;
    }
    return attempted;
  }

  /** Runs deliverDue every `interval` (1 s) until stop(); a run still going when the next is due is not doubled. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.deliverDue()
        .catch((error: unknown) => this.options.log.error({ err: error }, 'webhook delivery run failed'))
        .finally(() => {
          this.running = null;
        });
    }, this.options.interval ?? 1000);
    this.timer.unref();
  }

  /** Stops the timer and waits for a run in progress, so the database can be closed after it. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  private async attempt(delivery: store.DueDelivery, now: number): Promise<boolean> {
    const { db, log } = this.options;
    const leaseUntil = now + this.lease;
    if (!(await store.claimDelivery(db, delivery, now, leaseUntil))) return false;
    const attempts = delivery.attempts + 1;
    const secret = open(this.options.sealKey, delivery.secret, delivery.webhook_id);
    const result: AttemptResult =
      secret === null
        ? { ok: false, status: null, error: 'signing secret unreadable (was GATEHOUSE_SECRET changed?)' }
        : await this.send(delivery, secret);
    const finishedAt = this.options.clock.now();
    let outcome: Partial<WebhookDeliveriesTable>;
    if (result.ok) {
      outcome = {
        status: 'succeeded',
        response_status: result.status,
        last_error: null,
        next_attempt_at: null,
        delivered_at: finishedAt,
      };
    } else {
      const delay = retryDelay(attempts);
      outcome = {
        status: delay === null ? 'failed' : 'pending',
        response_status: result.status,
        last_error: result.error.slice(0, MAX_ERROR_LENGTH),
        next_attempt_at: delay === null ? null : finishedAt + delay,
      };
      log.info(
        {
          delivery_id: delivery.id,
          webhook_id: delivery.webhook_id,
          attempt: attempts,
          status: result.status,
          error: outcome.last_error,
          gave_up: delay === null,
        },
        'webhook delivery attempt failed',
      );
    }
    await store.finishAttempt(db, delivery.id, leaseUntil, outcome);
    return true;
  }

  private async send(delivery: store.DueDelivery, secret: string): Promise<AttemptResult> {
    const timestamp = Math.floor(this.options.clock.now() / 1000);
    try {
      const response = await fetch(delivery.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': this.options.userAgent ?? 'Gatehouse-Webhooks',
          [WEBHOOK_ID_HEADER]: delivery.id,
          [WEBHOOK_TIMESTAMP_HEADER]: String(timestamp),
          [WEBHOOK_SIGNATURE_HEADER]: signWebhook(secret, timestamp, delivery.payload),
        },
        body: delivery.payload,
        // A redirect could lead anywhere (an internal host, say); the receiver must answer at the URL it gave.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeout),
      });
      // Only the status matters; the body is dropped unread so the connection is freed.
      await response.body?.cancel().catch(() => undefined);
      if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
      const redirect = response.status >= 300 && response.status < 400 ? ' (redirects are not followed)' : '';
      return { ok: false, status: response.status, error: `HTTP ${response.status}${redirect}` };
    } catch (error) {
      return { ok: false, status: null, error: describe(error, this.timeout) };
    }
  }
}

/** A short reason for a failed request: the network error code or message, never the request itself. */
function describe(error: unknown, timeout: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `no answer within ${timeout / 1000} s`;
  }
  const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === 'string') return `request failed: ${cause.code}`;
  if (cause && typeof cause.message === 'string') return `request failed: ${cause.message}`;
  // The top-level message of a fetch error can quote the URL, which may hold a token of the receiver's.
  return 'request failed';
}
