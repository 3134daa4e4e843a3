import type { ReceivedMail, TestSmtpServer } from './smtp-server.js';
import type { TestServer } from './test-server.js';

/**
 * What a test's real SMTP server has received, by recipient: `settle` waits until the server's background work
 * (account mail, notices) and every delivery it started are done, so "no mail" is a real answer.
 */
export class Mailbox {
  constructor(
    private readonly server: () => TestServer,
    private readonly smtp: TestSmtpServer,
  ) {}

  async settle(): Promise<void> {
    await this.server().lifecycle.settled();
    await this.server().mailer.settled();
  }

  /** Every message delivered to `to` so far, oldest first, optionally only those whose subject matches. */
  async to(to: string, subject?: RegExp): Promise<ReceivedMail[]> {
    await this.settle();
    return this.smtp.received.filter(
      (mail) => mail.envelope.to.includes(to) && (subject === undefined || subject.test(mail.parsed.subject ?? '')),
    );
  }

  /** The link of the newest message to `to` (matching `subject`), and its token. */
  async link(to: string, subject: RegExp): Promise<{ link: URL; token: string; mail: ReceivedMail }> {
    const mail = (await this.to(to, subject)).at(-1);
    if (!mail) throw new Error(`no mail matching ${subject} to ${to}`);
    const match = /(https?:\/\/\S+[?&]token=[A-Za-z0-9_-]+)/.exec(mail.parsed.text ?? '');
    if (!match?.[1]) throw new Error(`no link in ${mail.parsed.text}`);
    const link = new URL(match[1]);
    return { link, token: link.searchParams.get('token') ?? '', mail };
  }
}

/** Every row of the tables a secret could leak into, as one string to search. */
export async function dumpTables(server: TestServer): Promise<string> {
  const { db } = server.database;
  return JSON.stringify({
    one_time_tokens: await db.selectFrom('one_time_tokens').selectAll().execute(),
    outbox: await db.selectFrom('outbox').selectAll().execute(),
    users: await db.selectFrom('users').selectAll().execute(),
    sessions: await db.selectFrom('sessions').selectAll().execute(),
    audit_events: await db.selectFrom('audit_events').selectAll().execute(),
    webhook_deliveries: await db.selectFrom('webhook_deliveries').selectAll().execute(),
  });
}
