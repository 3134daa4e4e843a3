import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import { randomId } from '../crypto/random.js';
import type { OutboxRow, Tables } from '../db/types.js';
import {
  assertHeaderSafe,
  MailHeaderError,
  type MessageChannel,
  type OutgoingMail,
  type OutgoingText,
} from './message.js';
import * as store from './outbox-store.js';

/** Where messages go when an SMTP server is configured; `createSmtpTransport` is the real one. */
export interface MailTransport {
  send(message: { from: string; to: string; subject: string; text: string; html: string }): Promise<void>;
  close(): void;
}

/** Where SMS and push messages go: `createWebhookTransport` posts them to the configured gateway. */
export interface TextTransport {
  send(message: { id: string; to: string; text: string; purpose: string }): Promise<void>;
  close(): void;
}

export interface MailerOptions {
  db: Kysely<Tables>;
  clock: Clock;
  /** Null: no SMTP server, every message stays in the outbox (development). */
  transport: MailTransport | null;
  from: string;
  log: Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>;
  /** SMS and push gateways; a channel without one keeps its messages in the outbox like mail without SMTP. */
  textTransports?: { sms?: TextTransport | null; push?: TextTransport | null };
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

  /** True when messages of `channel` leave Gatehouse; false when they stay in the development outbox. */
  deliversVia(channel: MessageChannel): boolean {
    return this.transportOf(channel) !== null;
  }

  /** Stores the message and starts its delivery; answers its outbox id. Throws MailHeaderError for a bad header. */
  async send(mail: OutgoingMail): Promise<string> {
    assertHeaderSafe(mail);
    return this.store({ ...mail, channel: 'email', purpose: null });
  }

  /**
   * Stores an SMS or push message and starts its delivery through that channel's gateway, exactly as `send` does
   * for mail: held in the outbox without a gateway, retried with backoff when the gateway fails.
   */
  async sendText(message: OutgoingText): Promise<string> {
    if (/[\r\n]/.test(message.to) || message.to.length === 0) throw new MailHeaderError('to');
    return this.store({ ...message, html: '' });
  }

  private async store(
    mail: Omit<OutgoingMail, 'kind'> & { kind: string; channel: MessageChannel; purpose: string | null },
  ): Promise<string> {
    const { db, clock, log } = this.options;
    const transport = this.transportOf(mail.channel);
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
      channel: mail.channel,
      purpose: mail.purpose,
    };
    await store.insertMessage(db, row);
    if (!transport) {
      const what = mail.channel === 'email' ? 'mail' : `${mail.channel} message`;
      const how = mail.channel === 'email' ? 'no SMTP server' : `no ${mail.channel} webhook`;
      log.info(
        { outboxId: row.id, kind: mail.kind, channel: mail.channel, to: mail.to },
        `${what} "${mail.kind}" to ${mail.to} is in the outbox (${how} configured): open GET /outbox`,
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
    const { db, clock } = this.options;
    if (!this.anyTransport()) return 0;
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
    if (this.timer || !this.anyTransport()) return;
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
    this.options.textTransports?.sms?.close();
    this.options.textTransports?.push?.close();
  }

  list(filter: store.OutboxFilter): Promise<OutboxRow[]> {
    return store.listMessages(this.options.db, filter);
  }

  private transportOf(channel: MessageChannel): MailTransport | TextTransport | null {
    if (channel === 'email') return this.options.transport;
    return this.options.textTransports?.[channel] ?? null;
  }

  private anyTransport(): boolean {
    return this.deliversVia('email') || this.deliversVia('sms') || this.deliversVia('push');
  }

  private track(delivery: Promise<void>): void {
    this.inFlight.add(delivery);
    void delivery.finally(() => this.inFlight.delete(delivery));
  }

  /** One delivery attempt; records its outcome on the row and never rejects. */
  private async attempt(row: OutboxRow): Promise<void> {
    const { db, clock, transport, from, log } = this.options;
    const channel = row.channel ?? 'email';
    const text = channel === 'email' ? null : this.options.textTransports?.[channel];
    if ((channel === 'email' ? !transport : !text) || row.text === null || row.html === null) return;
    const context = { outboxId: row.id, kind: row.kind, channel };
    try {
      try {
        if (text) {
          await text.send({ id: row.id, to: row.to, text: row.text, purpose: row.purpose ?? row.kind });
        } else {
          await transport?.send({ from, to: row.to, subject: row.subject, text: row.text, html: row.html });
        }
      } catch (error) {
        const attempts = row.attempts + 1;
        const delay = RETRY_DELAYS[attempts - 1];
        const nextAttemptAt = delay === undefined ? null : clock.now() + delay;
        const lastError = describe(error);
        await store.markFailed(db, row.id, { attempts, lastError, nextAttemptAt });
        const what = channel === 'email' ? 'mail' : `${channel} message`;
        log.warn(
          { ...context, attempts, error: lastError },
          nextAttemptAt === null ? `${what} delivery failed; given up` : `${what} delivery failed; will retry`,
        );
        return;
      }
      await store.markSent(db, row.id, clock.now(), { keepBody: false });
      log.info(context, channel === 'email' ? 'mail sent' : `${channel} message sent`);
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
