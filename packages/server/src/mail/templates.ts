import { CONTROL_CHARACTERS } from './message.js';

/**
 * The built-in English templates. Each answers subject, text and HTML; every variable is flattened to one line
 * where it can reach a header, and HTML-escaped in the HTML part. Templates per project will replace these.
 */
export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);
}

/** A value that may reach a header: control characters and line breaks become spaces, at most `max` long. */
export function oneLine(value: string, max = 100): string {
  return value.replace(CONTROL_CHARACTERS, ' ').replace(/\s+/g, ' ').trim().slice(0, max);
}

function layout(title: string, paragraphs: string[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>
<body style="font-family: system-ui, sans-serif; line-height: 1.5; color: #1a1a1a; max-width: 36rem;">
${paragraphs.map((paragraph) => `<p>${paragraph}</p>`).join('\n')}
</body></html>
`;
}

export interface InvitationVariables {
  /** The accept link, token included. */
  link: string;
  /** Where the account lives, e.g. the host of the public URL. */
  site: string;
  /** The inviting admin's name, or null to leave them out. */
  inviter: string | null;
  expiresAt: number;
}

export function invitationMail(vars: InvitationVariables): RenderedMail {
  const site = oneLine(vars.site);
  const inviter = vars.inviter === null ? '' : oneLine(vars.inviter);
  const expires = new Date(vars.expiresAt).toUTCString();
  const subject = inviter ? `${inviter} invited you to ${site}` : `You are invited to ${site}`;
  const opening = inviter
    ? `${inviter} has invited you to create an account at ${site}.`
    : `You have been invited to create an account at ${site}.`;
  const text = `Hello,

${opening}

Accept the invitation and choose your password here:
${vars.link}

The link works once and expires ${expires}. If you did not expect this invitation, you can ignore this message.
`;
  const html = layout(escapeHtml(subject), [
    'Hello,',
    escapeHtml(opening),
    `<a href="${escapeHtml(vars.link)}">Accept the invitation and choose your password</a>`,
    `The link works once and expires ${escapeHtml(expires)}. If you did not expect this invitation, you can ignore this message.`,
  ]);
  return { subject, text, html };
}
