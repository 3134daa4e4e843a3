/**
 * What the mailer sends. Kinds name the flow a message belongs to (`invitation` now; verification, reset, magic
 * link and codes later), so the outbox can be filtered and templates chosen per kind.
 */
export type MailKind =
  | 'invitation'
  | 'magic_link'
  | 'code'
  | 'mfa_code'
  | 'recovery_code_used'
  | 'verify_email'
  | 'reset_password'
  | 'password_changed'
  | 'new_sign_in'
  | 'account_deleted';

/** How a message travels: e-mail through SMTP, or a text message posted to the SMS or push webhook gateway. */
export type MessageChannel = 'email' | 'sms' | 'push';

/**
 * A text message for the SMS or push gateway: `to` is an E.164 phone number (sms) or a user id (push); `text` is
 * the text part of the rendered template; `purpose` tells the gateway what it is for (`login`, `activate`, ...).
 */
export interface OutgoingText {
  projectId: string;
  kind: MailKind;
  channel: 'sms' | 'push';
  to: string;
  purpose: string;
  subject: string;
  text: string;
}

export interface OutgoingMail {
  projectId: string;
  kind: MailKind;
  /** One bare address (`ada@example.com`): a display name or a list is refused. */
  to: string;
  subject: string;
  text: string;
  html: string;
}

/** Thrown by the mailer for a message that would break out of its header (a programming error, not input). */
export class MailHeaderError extends Error {
  constructor(readonly field: string) {
    super(`mail ${field} must be one line without control characters`);
    this.name = 'MailHeaderError';
  }
}

/** C0 controls (CR and LF among them), DEL, and the Unicode line and paragraph separators. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f\u2028\u2029]/g;
const BARE_ADDRESS = /^[^\s<>(),;:"\\@[\]]+@[^\s<>(),;:"\\@[\]]+$/;

function hasControl(value: string): boolean {
  return value.search(CONTROL_CHARACTERS) !== -1;
}

/**
 * Refuses a header value that carries a line break or another control character. nodemailer encodes header
 * values itself; this check is the second wall, so a template that forgets to flatten a value fails loudly
 * instead of relying on an encoder to neutralize `\r\nBcc: ...`.
 */
export function assertHeaderSafe(mail: Pick<OutgoingMail, 'to' | 'subject'>): void {
  if (hasControl(mail.subject)) throw new MailHeaderError('subject');
  if (hasControl(mail.to) || !BARE_ADDRESS.test(mail.to)) throw new MailHeaderError('to');
}
