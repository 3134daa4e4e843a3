import type { MailTransport } from './mailer.js';

export interface SmtpOptions {
  /** `smtp://user:pass@host:port` or `smtps://...`. */
  url: string;
  /** Bound on connecting, the greeting, and each command, in milliseconds. */
  timeout: number;
}

/**
 * Real mail through nodemailer, loaded only when an SMTP server is configured. Every wait is bounded by
 * `timeout`, so an SMTP server that stops answering fails the attempt instead of holding it open for minutes
 * (nodemailer's defaults are 2 minutes to connect and 10 minutes of socket idle).
 */
export async function createSmtpTransport(options: SmtpOptions): Promise<MailTransport> {
  const nodemailer = await import('nodemailer');
  const transporter = nodemailer.createTransport({
    url: options.url,
    connectionTimeout: options.timeout,
    greetingTimeout: options.timeout,
    socketTimeout: options.timeout,
    dnsTimeout: options.timeout,
  });
  return {
    async send(message) {
      await transporter.sendMail({
        from: message.from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        html: message.html,
        // Templates never attach files or fetch URLs; refuse both so no value can make nodemailer do it.
        disableFileAccess: true,
        disableUrlAccess: true,
      });
    },
    close() {
      transporter.close();
    },
  };
}
