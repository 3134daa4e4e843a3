export {
  checkTemplate,
  type EmailTemplate,
  localeChain,
  renderTemplate,
  TEMPLATE_KIND_NAMES,
  TEMPLATE_KINDS,
  type TemplateKindName,
  type TemplateVariables,
} from './email-templates.js';
export {
  MAX_ATTEMPTS,
  Mailer,
  type MailerOptions,
  type MailTransport,
  RETRY_DELAYS,
  type TextTransport,
} from './mailer.js';
export {
  assertHeaderSafe,
  MailHeaderError,
  type MailKind,
  type MessageChannel,
  type OutgoingMail,
  type OutgoingText,
} from './message.js';
export type { OutboxFilter } from './outbox-store.js';
export { createSmtpTransport, type SmtpOptions } from './smtp.js';
export { escapeHtml, oneLine, type RenderedMail } from './templates.js';
export { createWebhookTransport, type WebhookTransportOptions } from './webhook-transport.js';
