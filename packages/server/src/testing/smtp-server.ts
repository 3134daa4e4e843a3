import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  /** The SMTP envelope: who the client said the message is from and for (RCPT TO), whatever the headers say. */
  envelope: { from: string | null; to: string[] };
  parsed: ParsedMail;
}

export interface TestSmtpServer {
  /** `smtp://127.0.0.1:<port>` for GATEHOUSE_SMTP_URL. */
  url: string;
  received: ReceivedMail[];
  /** The next message not yet taken, waiting up to `timeout` ms for it to arrive. */
  next(timeout?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

export interface SmtpServerOptions {
  /** Answer the first this many messages with a temporary failure (451), to exercise retries. */
  refuseFirst?: number;
}

/**
 * A real SMTP server on 127.0.0.1 (plain text, no STARTTLS, no authentication) that parses every message it
 * accepts with mailparser, so tests check what a mail client would see.
 */
export async function startSmtpServer(options: SmtpServerOptions = {}): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  const waiters = new Set<() => void>();
  let refusals = options.refuseFirst ?? 0;
  let taken = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          if (refusals > 0) {
            refusals--;
            return callback(Object.assign(new Error('Try again later'), { responseCode: 451 }));
          }
          received.push({
            envelope: {
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
              to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
            },
            parsed,
          });
          for (const wake of waiters) wake();
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    async next(timeout = 5000) {
      const deadline = Date.now() + timeout;
      while (received[taken] === undefined) {
        if (Date.now() >= deadline) throw new Error('no mail arrived');
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            waiters.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, deadline - Date.now());
          waiters.add(wake);
        });
      }
      return received[taken++] as ReceivedMail;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
