import Mustache from 'mustache';
import { CONTROL_CHARACTERS } from './message.js';
import { escapeHtml, oneLine, type RenderedMail } from './templates.js';

/**
 * E-mail templates are Mustache: logic-less, so an admin-edited template can show values and choose between
 * sections but never run code. `{{name}}` is HTML-escaped in the HTML part; the subject and the text part
 * are plain text. Triple mustaches and partials (`{{{x}}}`, `{{&x}}`, `{{>x}}`) are refused, so a value a
 * user controls (a name) can never become markup.
 */
export interface EmailTemplate {
  subject: string;
  text: string;
  html: string;
}

export interface TemplateKind {
  description: string;
  /** The variables a template of this kind may use, with what each holds. */
  variables: Record<string, string>;
  /** Values used to check that a template renders. */
  sample: Record<string, string | null>;
  /** The built-in English template. */
  default: EmailTemplate;
}

function page(paragraphs: string[]): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>{{subject}}</title></head>
<body style="font-family: system-ui, sans-serif; line-height: 1.5; color: #1a1a1a; max-width: 36rem;">
${paragraphs.map((paragraph) => `<p>${paragraph}</p>`).join('\n')}
</body></html>
`;
}

export const TEMPLATE_KINDS = {
  invitation: {
    description: 'An admin invited someone to create an account.',
    variables: {
      link: 'the accept link, token included',
      site: 'the host of the public URL',
      inviter: "the inviting admin's name (empty when unknown)",
      expires_at: 'when the link stops working (UTC)',
    },
    sample: {
      link: 'https://auth.example.com/ui/accept-invite?token=sample',
      site: 'auth.example.com',
      inviter: 'Ada Lovelace',
      expires_at: 'Tue, 01 Dec 2026 12:00:00 GMT',
    },
    default: {
      subject:
        '{{#inviter}}{{inviter}} invited you to {{site}}{{/inviter}}{{^inviter}}You are invited to {{site}}{{/inviter}}',
      text: `Hello,

{{#inviter}}{{inviter}} has invited you{{/inviter}}{{^inviter}}You have been invited{{/inviter}} to create an account at {{site}}.

Accept the invitation and choose your password here:
{{link}}

The link works once and expires {{expires_at}}. If you did not expect this invitation, you can ignore this message.
`,
      html: page([
        'Hello,',
        '{{#inviter}}{{inviter}} has invited you{{/inviter}}{{^inviter}}You have been invited{{/inviter}} to create an account at {{site}}.',
        '<a href="{{link}}">Accept the invitation and choose your password</a>',
        'The link works once and expires {{expires_at}}. If you did not expect this invitation, you can ignore this message.',
      ]),
    },
  },
  magic_link: {
    description: 'Someone asked to sign in by e-mail link (POST /auth/magic-link).',
    variables: {
      link: 'the sign-in link, token included',
      site: 'the host of the public URL',
      expires_at: 'when the link stops working (UTC)',
    },
    sample: {
      link: 'https://auth.example.com/ui/magic-link?token=sample',
      site: 'auth.example.com',
      expires_at: 'Tue, 01 Dec 2026 12:00:00 GMT',
    },
    default: {
      subject: 'Your sign-in link for {{site}}',
      text: `Hello,

Use this link to sign in to {{site}}:

{{link}}

The link works once and expires {{expires_at}}. If you did not ask to sign in, you can ignore this message.
`,
      html: page([
        'Hello,',
        '<a href="{{link}}">Sign in to {{site}}</a>',
        'The link works once and expires {{expires_at}}. If you did not ask to sign in, you can ignore this message.',
      ]),
    },
  },
  code: {
    description:
      'A one-time code (POST /auth/code/generate, POST /users/me/phone). SMS and push messages send only the text part.',
    variables: {
      code: 'the 6-digit code',
      site: 'the host of the public URL',
      action: 'what the code does: "sign in", "activate your account" or "confirm your phone number"',
      minutes: 'how many minutes the code works',
    },
    sample: { code: '123456', site: 'auth.example.com', action: 'sign in', minutes: '10' },
    default: {
      subject: 'Your code for {{site}}',
      text: `{{code}} is your {{site}} code to {{action}}. It works once, for {{minutes}} minutes. If you did not ask for it, ignore this message.
`,
      html: page([
        '<strong style="font-size: 1.5rem; letter-spacing: 0.2rem;">{{code}}</strong>',
        'is your {{site}} code to {{action}}. It works once, for {{minutes}} minutes.',
        'If you did not ask for it, you can ignore this message.',
      ]),
    },
  },
  mfa_code: {
    description: 'A sign-in code for e-mail two-factor authentication (at sign-in, or to confirm the e-mail factor).',
    variables: {
      code: 'the 6-digit code',
      site: 'the host of the public URL',
      minutes: 'how many minutes the code stays valid',
    },
    sample: { code: '123456', site: 'auth.example.com', minutes: '5' },
    default: {
      subject: 'Your {{site}} sign-in code',
      text: `Hello,

Your sign-in code for {{site}} is:

{{code}}

It is valid for {{minutes}} minutes and works once. If you did not try to sign in, someone knows your password: change it.
`,
      html: page([
        'Hello,',
        'Your sign-in code for {{site}} is:',
        '<strong style="font-size: 1.5rem; letter-spacing: 0.2em;">{{code}}</strong>',
        'It is valid for {{minutes}} minutes and works once. If you did not try to sign in, someone knows your password: change it.',
      ]),
    },
  },
  recovery_code_used: {
    description: 'A recovery code of the account was used; sent to the account owner as a warning.',
    variables: {
      site: 'the host of the public URL',
      remaining: 'how many unused recovery codes are left',
      time: 'when the code was used (UTC)',
    },
    sample: { site: 'auth.example.com', remaining: '9', time: 'Tue, 01 Dec 2026 12:00:00 GMT' },
    default: {
      subject: 'A recovery code was used for your {{site}} account',
      text: `Hello,

A recovery code was used to sign in to your {{site}} account on {{time}}. {{remaining}} unused recovery codes are left.

If this was not you, sign in, change your password and generate new recovery codes.
`,
      html: page([
        'Hello,',
        'A recovery code was used to sign in to your {{site}} account on {{time}}. {{remaining}} unused recovery codes are left.',
        'If this was not you, sign in, change your password and generate new recovery codes.',
      ]),
    },
  },
  verify_email: {
    description: 'Confirms that an address belongs to the account (sent at sign-up and on request).',
    variables: {
      link: 'the verification link, token included',
      site: 'the host of the public URL',
      expires_at: 'when the link stops working (UTC)',
    },
    sample: {
      link: 'https://auth.example.com/ui/verify-email?token=sample',
      site: 'auth.example.com',
      expires_at: 'Tue, 01 Dec 2026 12:00:00 GMT',
    },
    default: {
      subject: 'Confirm your e-mail address for {{site}}',
      text: `Hello,

Please confirm that this address belongs to your account at {{site}}:
{{link}}

The link works once and expires {{expires_at}}. If you did not create an account, you can ignore this message.
`,
      html: page([
        'Hello,',
        'Please confirm that this address belongs to your account at {{site}}.',
        '<a href="{{link}}">Confirm my e-mail address</a>',
        'The link works once and expires {{expires_at}}. If you did not create an account, you can ignore this message.',
      ]),
    },
  },
  reset_password: {
    description: 'A link to choose a new password, sent on request.',
    variables: {
      link: 'the reset link, token included',
      site: 'the host of the public URL',
      expires_at: 'when the link stops working (UTC)',
    },
    sample: {
      link: 'https://auth.example.com/ui/reset-password?token=sample',
      site: 'auth.example.com',
      expires_at: 'Tue, 01 Dec 2026 12:00:00 GMT',
    },
    default: {
      subject: 'Reset your password for {{site}}',
      text: `Hello,

Someone (hopefully you) asked to reset the password of your account at {{site}}. Choose a new password here:
{{link}}

The link works once and expires {{expires_at}}. Using it signs you out everywhere. If you did not ask for this, ignore this message: your password stays as it is.
`,
      html: page([
        'Hello,',
        'Someone (hopefully you) asked to reset the password of your account at {{site}}.',
        '<a href="{{link}}">Choose a new password</a>',
        'The link works once and expires {{expires_at}}. Using it signs you out everywhere. If you did not ask for this, ignore this message: your password stays as it is.',
      ]),
    },
  },
  password_changed: {
    description: "Tells the owner that the account's password was changed or reset.",
    variables: {
      site: 'the host of the public URL',
      time: 'when it happened (UTC)',
      via: '`reset` (by a mailed link) or `change` (signed in, with the old password)',
    },
    sample: { site: 'auth.example.com', time: 'Tue, 01 Dec 2026 12:00:00 GMT', via: 'reset' },
    default: {
      subject: 'Your password for {{site}} was changed',
      text: `Hello,

The password of your account at {{site}} was changed on {{time}}. Other sessions have been signed out.

If this was not you, reset your password right away and contact the site's administrators.
`,
      html: page([
        'Hello,',
        'The password of your account at {{site}} was changed on {{time}}. Other sessions have been signed out.',
        "If this was not you, reset your password right away and contact the site's administrators.",
      ]),
    },
  },
  new_sign_in: {
    description: 'Tells the owner about a password sign-in from a browser or app not seen on the account lately.',
    variables: {
      site: 'the host of the public URL',
      time: 'when it happened (UTC)',
      device: 'the browser and system, as far as the user agent tells (approximate)',
      ip: 'the IP address the sign-in came from',
    },
    sample: {
      site: 'auth.example.com',
      time: 'Tue, 01 Dec 2026 12:00:00 GMT',
      device: 'Firefox on Linux',
      ip: '203.0.113.7',
    },
    default: {
      subject: 'New sign-in to your account at {{site}}',
      text: `Hello,

Your account at {{site}} was just signed in to:

Time: {{time}}
Device: {{device}}
IP address: {{ip}}

If this was you, there is nothing to do. If not, change your password right away; that signs out every other session.
`,
      html: page([
        'Hello,',
        'Your account at {{site}} was just signed in to:',
        'Time: {{time}}<br>Device: {{device}}<br>IP address: {{ip}}',
        'If this was you, there is nothing to do. If not, change your password right away; that signs out every other session.',
      ]),
    },
  },
  account_deleted: {
    description: 'Confirms that the owner deleted their account.',
    variables: { site: 'the host of the public URL', time: 'when it happened (UTC)' },
    sample: { site: 'auth.example.com', time: 'Tue, 01 Dec 2026 12:00:00 GMT' },
    default: {
      subject: 'Your account at {{site}} was deleted',
      text: `Hello,

Your account at {{site}} was deleted on {{time}}, as you asked. Every session has been signed out.

If this was not you, contact the site's administrators.
`,
      html: page([
        'Hello,',
        'Your account at {{site}} was deleted on {{time}}, as you asked. Every session has been signed out.',
        "If this was not you, contact the site's administrators.",
      ]),
    },
  },
} as const satisfies Record<string, TemplateKind>;

export type TemplateKindName = keyof typeof TEMPLATE_KINDS;
export const TEMPLATE_KIND_NAMES = Object.keys(TEMPLATE_KINDS) as TemplateKindName[];

export type TemplateVariables = Record<string, string | null>;

const PLAIN = { escape: (value: unknown) => String(value) };

/** Renders a template with values that have already been chosen by the caller; never throws on a checked one. */
export function renderTemplate(template: EmailTemplate, variables: TemplateVariables): RenderedMail {
  // Values are one line everywhere: a line break in a name is never meaningful, and in a subject it would be a header.
  const view = Object.fromEntries(
    Object.entries(variables).map(([key, value]) => [
      key,
      (value ?? '').replace(CONTROL_CHARACTERS, ' ').replace(/\s{2,}/g, ' '),
    ]),
  );
  const flat = Object.fromEntries(Object.entries(view).map(([key, value]) => [key, oneLine(value, 200)]));
  const subject = oneLine(Mustache.render(template.subject, flat, {}, PLAIN), 200);
  return {
    subject,
    text: Mustache.render(template.text, view, {}, PLAIN),
    // Values sit in element text or double-quoted attributes; escaping & < > " ' covers both.
    html: Mustache.render(
      template.html,
      { ...view, subject },
      {},
      { escape: (value: unknown) => escapeHtml(String(value)) },
    ),
  };
}

/** Answers why a template cannot be used for `kind`, or null when it can. */
export function checkTemplate(kind: TemplateKindName, template: EmailTemplate): string | null {
  const allowed = new Set([...Object.keys(TEMPLATE_KINDS[kind].variables), 'subject']);
  for (const part of ['subject', 'text', 'html'] as const) {
    let tokens: Mustache.TemplateSpans;
    try {
      tokens = Mustache.parse(template[part]);
    } catch (error) {
      return `The ${part} does not parse: ${(error as Error).message}`;
    }
    const problem = checkTokens(tokens, allowed, part);
    if (problem) return problem;
  }
  try {
    const rendered = renderTemplate(template, TEMPLATE_KINDS[kind].sample);
    if (rendered.subject.length === 0) return 'The subject renders empty.';
  } catch (error) {
    return `The template does not render: ${(error as Error).message}`;
  }
  return null;
}

/** Variables that hold a live secret: allowed in the body only. */
const SECRET_VARIABLES = new Set(['link', 'code']);

function checkTokens(tokens: Mustache.TemplateSpans, allowed: Set<string>, part: string): string | null {
  for (const token of tokens) {
    const [type, value] = token as unknown as [string, string, number, number, Mustache.TemplateSpans?];
    if (type === '&' || type === '{')
      return `The ${part} may not use unescaped output ({{{${value}}}} or {{&${value}}}).`;
    if (type === '>') return `The ${part} may not use partials ({{>${value}}}).`;
    if (type === 'name' || type === '#' || type === '^') {
      if (!allowed.has(value)) return `The ${part} uses an unknown variable: ${value}.`;
      if (part === 'subject' && value === 'subject') return 'The subject cannot contain itself.';
      // The subject outlives the message in the outbox (only the body is cleared once sent): no secret there.
      if (part === 'subject' && SECRET_VARIABLES.has(value)) {
        return `The subject may not contain the ${value}: it stays in the outbox after the message is sent.`;
      }
    }
    const children = (token as unknown as unknown[])[4];
    if (Array.isArray(children)) {
      const problem = checkTokens(children as Mustache.TemplateSpans, allowed, part);
      if (problem) return problem;
    }
  }
  return null;
}

/** `pt-BR` → `['pt-br', 'pt', 'en']`: the locales tried in turn. */
export function localeChain(locale: string | null | undefined): string[] {
  const chain: string[] = [];
  const parts = (locale ?? '').toLowerCase().split(/[-_]/).filter(Boolean);
  for (let i = parts.length; i > 0; i--) chain.push(parts.slice(0, i).join('-'));
  if (!chain.includes('en')) chain.push('en');
  return chain;
}
