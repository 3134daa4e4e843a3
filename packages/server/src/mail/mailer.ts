import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import { randomId } from '../crypto/random.js';
import type { OutboxRow, Tables } from '../db/types.js';
import { assertHeaderSafe, type OutgoingMail } from './message.js';
import * as store from './outbox-store.js';

/** Where messages go when an SMTP server is configured; `createSmtpTransport` is the real one. */
export interface MailTransport {
  send(message: { from: string; to: string; subject: string; text: string; html: string }): Promise<void>;
  close(): void;
}

export interface MailerOptions {
  db: Kysely<Tables>;
  clock: Clock;
  /** Null: no SMTP server, every message stays in the outbox (development). */
  transport: MailTransport | null;
  from: string;
  log: Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>;
}

/** After the 1st, 2nd, 3rd and 4th failed attempt; the 5th failure is final. */
export const RETRY_DELAYS: readonly number[] = [60_000, 5 * 60_000, 30 * 60_000, 2 * 60 * 60_000];
export const MAX_ATTEMPTS = RETRY_DELAYS.length + 1;
/** How long an attempt owns its message; far above an attempt's bound (three SMTP timeouts). */
const ATTEMPT_LEASE = 5 * 60_000;
const RETRY_BATCH = 20;
const MAX_ERROR_LENGTH = 300;

/**
 * Stores every message in the outbox table, then delivers it. Without SMTP the message stays there (status
 * `held`) for `GET /outbox`, and one log line points at it; the link itself is never logged. With SMTP, `send`
 * answers once the row is stored and delivery runs in the background, so no request waits on a mail server;
 * a failed attempt is recorded on the row and retried with backoff by `retryDue` (the worker), never lost.
 * Once the server has the message (or Gatehouse gives up) its body is cleared, so live links do not stay
 * in the database.
 */
export class Mailer {
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private tick: Promise<unknown> | null = null;

  constructor(private readonly options: MailerOptions) {}

  /** True when messages leave through SMTP; false when they stay in the development outbox. */
  get delivers(): boolean {
    return this.options.transport !== null;
  }

  /** Stores the message and starts its delivery; answers its outbox id. Throws MailHeaderError for a bad header. */
  async send(mail: OutgoingMail): Promise<string> {
    assertHeaderSafe(mail);
    const { db, clock, transport, log } = this.options;
    const now = clock.now();
    const row: OutboxRow = {
      id: randomId(),
      project_id: mail.projectId,
      kind: mail.kind,
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      status: transport ? 'pending' : 'held',
      attempts: 0,
      // Should this process die mid-attempt, the worker takes the message up once the lease ends.
      next_attempt_at: transport ? now + ATTEMPT_LEASE : null,
      last_error: null,
      created_at: now,
      sent_at: null,
    };
    await store.insertMessage(db, row);
    if (!transport) {
      log.info(
        { outboxId: row.id, kind: mail.kind, to: mail.to },
        `mail "${mail.kind}" to ${mail.to} is in the outbox (no SMTP server configured): open GET /outbox`,
      );
      return row.id;
    }
    this.track(this.attempt(row));
    return row.id;
  }

  /**
   * Retries every message whose next attempt is due, one at a time; answers how many it attempted. The timer
   * started by `start` calls it; tests call it directly after moving the fake clock.
   */
  async retryDue(): Promise<number> {
    const { db, clock, transport } = this.options;
    if (!transport) return 0;
    const due = await store.findDue(db, clock.now(), RETRY_BATCH);
    let attempted = 0;
    for (const row of due) {
      if (!(await store.claim(db, row, clock.now() + ATTEMPT_LEASE))) continue;
      await this.attempt(row);
      attempted++;
    }
    return attempted;
  }

  /** Polls for due retries every `interval` ms; a tick still running makes the next one skip. */
  start(interval: number): void {
    if (this.timer || !this.options.transport) return;
    this.timer = setInterval(() => {
      if (this.tick) return;
      this.tick = this.retryDue()
        .catch((error: unknown) => this.options.log.error({ err: error }, 'mail retry failed'))
        .finally(() => {
          this.tick = null;
        });
    }, interval);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Waits for every delivery started so far (each is bounded by the SMTP timeouts). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0 || this.tick) {
      await Promise.allSettled([...this.inFlight, this.tick]);
    }
  }

  async close(): Promise<void> {
    this.stop();
    await this.settled();
    this.options.transport?.close();
  }

  list(filter: store.OutboxFilter): Promise<OutboxRow[]> {
    return store.listMessages(this.options.db, filter);
  }

  private track(delivery: Promise<void>): void {
    this.inFlight.add(delivery);
    void delivery.finally(() => this.inFlight.delete(delivery));
  }

  /** One delivery attempt; records its outcome on the row and never rejects. */
  private async attempt(row: OutboxRow): Promise<void> {
    const { db, clock, transport, from, log } = this.options;
    if (!transport || row.text === null || row.html === null) return;
    const context = { outboxId: row.id, kind: row.kind };
    try {
      try {
        await transport.send({ from, to: row.to, subject: row.subject, text: row.text, html: row.html });
      } catch (error) {
        const attempts = row.attempts + 1;
        const delay = RETRY_DELAYS[attempts - 1];
        const nextAttemptAt = delay === undefined ? null : clock.now() + delay;
        const lastError = describe(error);
        await store.markFailed(db, row.id, { attempts, lastError, nextAttemptAt });
        log.warn(
          { ...context, attempts, error: lastError },
          nextAttemptAt === null ? 'mail delivery failed; given up' : 'mail delivery failed; will retry',
        );
        return;
      }
      await store.markSent(db, row.id, clock.now(), { keepBody: false });
      log.info(context, 'mail sent');
    } catch (error) {
      log.error({ ...context, err: error }, 'recording a mail attempt failed');
    }
  }
}

/**
 * A short reason for the row and the log: the error's code and first line only. nodemailer errors also carry
 * the SMTP conversation (`command`, `response`), which is left out on purpose.
 */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown error';
  const code = (error as { code?: unknown }).code;
  const firstLine = error.message.split('\n', 1)[0] ?? '';
  return `${typeof code === 'string' ? `${code}: ` : ''}${firstLine}`.slice(0, MAX_ERROR_LENGTH);
}
