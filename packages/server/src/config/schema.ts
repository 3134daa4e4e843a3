import { parseDuration } from './duration.js';
import type { EnvOAuthProvider } from './oauth-providers.js';

/**
 * Every setting Gatehouse reads, with its environment variable, default and description. This table is the
 * single source for loading, validation and docs/configuration.md.
 */
export interface FieldSpec<T> {
  env: string;
  description: string;
  /** The default as written in the docs; `undefined` means unset. */
  default: string | undefined;
  parse(raw: string): T | { error: string };
}

function text(): FieldSpec<string>['parse'] {
  return (raw) => raw;
}

function integer(min: number, max: number): FieldSpec<number>['parse'] {
  return (raw) => {
    const value = Number(raw);
    return Number.isInteger(value) && value >= min && value <= max
      ? value
      : { error: `must be a whole number from ${min} to ${max}` };
  };
}

function duration(minMs: number): FieldSpec<number>['parse'] {
  return (raw) => {
    const value = parseDuration(raw);
    if (value === null) return { error: 'must be a duration such as 500ms, 10s, 15m, 12h or 7d' };
    return value >= minMs ? value : { error: `must be at least ${minMs} ms` };
  };
}

function list(): FieldSpec<string[]>['parse'] {
  return (raw) =>
    raw
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0);
}

/** One line of text for a mail header: no CR, LF or other control characters. */
function headerText(): FieldSpec<string>['parse'] {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  return (raw) => (/[\u0000-\u001f\u007f]/.test(raw) ? { error: 'must be one line without control characters' } : raw);
}

/** A comma-separated list of absolute http(s) URLs. */
function urlList(): FieldSpec<string[]>['parse'] {
  return (raw) => {
    const items = list()(raw) as string[];
    const wrong = items.find((item) => {
      try {
        return !['http:', 'https:'].includes(new URL(item).protocol);
      } catch {
        return true;
      }
    });
    return wrong === undefined ? items : { error: `must list http or https URLs (not ${JSON.stringify(wrong)})` };
  };
}

/** A comma-separated list of http(s) origins (scheme, host and port; no path), normalized. */
function originList(): FieldSpec<string[]>['parse'] {
  return (raw) => {
    const origins: string[] = [];
    for (const item of list()(raw) as string[]) {
      let parsed: URL | null = null;
      try {
        parsed = new URL(item);
      } catch {}
      const bare = parsed && parsed.pathname === '/' && parsed.search === '' && parsed.hash === '';
      if (!parsed || !bare || !['http:', 'https:'].includes(parsed.protocol)) {
        return { error: `must list http or https origins without a path (not ${JSON.stringify(item)})` };
      }
      origins.push(parsed.origin);
    }
    return origins;
  };
}

function url(protocols: string[]): FieldSpec<string>['parse'] {
  return (raw) => {
    try {
      const parsed = new URL(raw);
      return protocols.includes(parsed.protocol) ? raw : { error: `must be a ${protocols.join(' or ')} URL` };
    } catch {
      return { error: 'must be a URL' };
    }
  };
}

/** A rate as `<count>/<duration>` (e.g. `10/15m`), or `off`. */
export interface Rate {
  max: number;
  /** Milliseconds. */
  window: number;
}

function rate(): FieldSpec<Rate | null>['parse'] {
  return (raw) => {
    if (raw === 'off') return null;
    const match = /^(\d+)\/(.+)$/.exec(raw);
    const max = Number(match?.[1]);
    const window = match?.[2] ? parseDuration(match[2]) : null;
    if (!match || !Number.isInteger(max) || max < 1 || window === null || window < 1000) {
      return { error: 'must be `off` or `<count>/<duration>` such as 10/15m (a window of at least 1s)' };
    }
    return { max, window };
  };
}

function oneOf<T extends string>(values: readonly T[]): FieldSpec<T>['parse'] {
  return (raw) =>
    (values as readonly string[]).includes(raw) ? (raw as T) : { error: `must be one of ${values.join(', ')}` };
}

export const JWT_ALGORITHMS = ['ES256', 'EdDSA', 'RS256'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const CONFIG_SCHEMA = {
  port: { env: 'GATEHOUSE_PORT', default: '4000', description: 'TCP port to listen on.', parse: integer(0, 65535) },
  host: { env: 'GATEHOUSE_HOST', default: '127.0.0.1', description: 'Interface to bind.', parse: text() },
  publicUrl: {
    env: 'GATEHOUSE_PUBLIC_URL',
    default: 'http://localhost:4000',
    description: 'The URL users reach Gatehouse at: token issuer, links in e-mails, WebAuthn origin, trusted Origin.',
    // Without a trailing slash, so the issuer is one string and every `${publicUrl}/path` built from it is right.
    parse: (raw: string) => {
      const parsed = url(['http:', 'https:'])(raw);
      return typeof parsed === 'string' ? parsed.replace(/\/+$/, '') : parsed;
    },
  },
  dataDir: {
    env: 'GATEHOUSE_DATA_DIR',
    default: './data',
    description: 'Folder for the embedded database, the generated development secret and uploads.',
    parse: text(),
  },
  databaseUrl: {
    env: 'GATEHOUSE_DATABASE_URL',
    default: 'sqlite:<data dir>/gatehouse.db',
    description: '`sqlite:<path>` (or `sqlite::memory:`) for the embedded database, `postgres://...` for PostgreSQL.',
    parse: text(),
  },
  secret: {
    env: 'GATEHOUSE_SECRET',
    default: undefined,
    description:
      'Master secret (32+ characters) that encrypts signing keys and other secrets at rest. Generated into the data folder on first start outside production; required in production.',
    parse: (raw: string) => (raw.length >= 32 ? raw : { error: 'must be at least 32 characters' }),
  },
  redisUrl: {
    env: 'GATEHOUSE_REDIS_URL',
    default: undefined,
    description: 'Redis for shared counters and revocation broadcast across nodes (optional).',
    parse: url(['redis:', 'rediss:']),
  },
  smtpUrl: {
    env: 'GATEHOUSE_SMTP_URL',
    default: undefined,
    description:
      'SMTP server for outgoing mail, `smtp://user:pass@host:587` or `smtps://...`; unset keeps mail in the outbox table (read it at `GET /outbox`).',
    parse: url(['smtp:', 'smtps:']),
  },
  smtpTimeout: {
    env: 'GATEHOUSE_SMTP_TIMEOUT',
    default: '10s',
    description:
      'Longest wait for the SMTP server to accept a connection, greet, or answer a command; a slower server fails the attempt, which is retried later.',
    parse: duration(100),
  },
  mailFrom: {
    env: 'GATEHOUSE_MAIL_FROM',
    default: 'Gatehouse <no-reply@localhost>',
    description: 'Sender of outgoing mail, an address with an optional display name: `Name <address>`.',
    parse: headerText(),
  },
  accessTokenTtl: {
    env: 'GATEHOUSE_ACCESS_TOKEN_TTL',
    default: '15m',
    description: 'Lifetime of access tokens.',
    parse: duration(1000),
  },
  refreshTokenTtl: {
    env: 'GATEHOUSE_REFRESH_TOKEN_TTL',
    default: '7d',
    description:
      'Lifetime of a refresh token; every refresh extends the session by this much, up to the absolute lifetime.',
    parse: duration(1000),
  },
  sessionCookieTtl: {
    env: 'GATEHOUSE_SESSION_COOKIE_TTL',
    default: '1d',
    description: 'Lifetime of the session token cookie in `session` mode.',
    parse: duration(1000),
  },
  sessionAbsoluteTtl: {
    env: 'GATEHOUSE_SESSION_ABSOLUTE_TTL',
    default: '30d',
    description: 'Absolute lifetime of a session, however often it is refreshed.',
    parse: duration(1000),
  },
  refreshReuseGrace: {
    env: 'GATEHOUSE_REFRESH_REUSE_GRACE',
    default: '10s',
    description:
      'How long an already rotated refresh token still answers with the same successor (concurrent tabs); reuse after it revokes the session.',
    parse: duration(0),
  },
  revocationPollInterval: {
    env: 'GATEHOUSE_REVOCATION_POLL_INTERVAL',
    default: '1s',
    description:
      'How often a node picks up sessions revoked on other nodes, and how long it uses an account read from the database (changes made on other nodes show up within it).',
    parse: duration(50),
  },
  jwtAlgorithm: {
    env: 'GATEHOUSE_JWT_ALGORITHM',
    default: 'ES256',
    description: 'Signing algorithm of new signing keys: ES256, EdDSA or RS256.',
    parse: oneOf(JWT_ALGORITHMS),
  },
  jwtAudience: {
    env: 'GATEHOUSE_JWT_AUDIENCE',
    default: 'gatehouse',
    description: 'The `aud` claim of access tokens; resource servers check it.',
    parse: text(),
  },
  trustedOrigins: {
    env: 'GATEHOUSE_TRUSTED_ORIGINS',
    default: '',
    description:
      'Comma-separated origins, besides the public URL, allowed to make cookie-authenticated writes (CSRF check).',
    parse: list(),
  },
  passwordResetUrlAllowList: {
    env: 'GATEHOUSE_PASSWORD_RESET_URL_ALLOW_LIST',
    default: '',
    description:
      'Comma-separated URL prefixes a password reset link (`reset_url`) may point to; links under the public URL are always allowed.',
    parse: urlList(),
  },
  inviteUrlAllowList: {
    env: 'GATEHOUSE_INVITE_URL_ALLOW_LIST',
    default: '',
    description:
      'Comma-separated URL prefixes an invitation link (`invite_url`) may point to; links under the public URL are always allowed.',
    parse: urlList(),
  },
  invitationTtl: {
    env: 'GATEHOUSE_INVITATION_TTL',
    default: '7d',
    description: 'How long an invitation link can be accepted.',
    parse: duration(60_000),
  },
  redirectAllowList: {
    env: 'GATEHOUSE_REDIRECT_ALLOW_LIST',
    default: '',
    description: 'Comma-separated URLs OAuth and magic-link flows may redirect to.',
    parse: list(),
  },
  adminEmail: {
    env: 'GATEHOUSE_ADMIN_EMAIL',
    default: undefined,
    description: 'With GATEHOUSE_ADMIN_PASSWORD: creates the first admin on first start.',
    parse: text(),
  },
  adminPassword: {
    env: 'GATEHOUSE_ADMIN_PASSWORD',
    default: undefined,
    description: 'Password of the first admin (8 to 256 characters).',
    parse: (raw: string) => (raw.length >= 8 && raw.length <= 256 ? raw : { error: 'must be 8 to 256 characters' }),
  },
  argon2MemoryCost: {
    env: 'GATEHOUSE_ARGON2_MEMORY_COST',
    default: '19456',
    description: 'argon2id memory in KiB (OWASP: 19456). Stored hashes with other parameters are rehashed at login.',
    parse: integer(1024, 4_194_304),
  },
  argon2TimeCost: {
    env: 'GATEHOUSE_ARGON2_TIME_COST',
    default: '2',
    description: 'argon2id iterations (OWASP: 2).',
    parse: integer(1, 100),
  },
  argon2Parallelism: {
    env: 'GATEHOUSE_ARGON2_PARALLELISM',
    default: '1',
    description: 'argon2id lanes (OWASP: 1).',
    parse: integer(1, 16),
  },
  trustProxy: {
    env: 'GATEHOUSE_TRUST_PROXY',
    default: '',
    description:
      'Proxies whose X-Forwarded-For is believed, for the client IP recorded with sessions: comma-separated addresses or CIDRs, or `true` for any (only behind a proxy that overwrites the header).',
    parse: (raw: string): string | boolean => {
      if (raw === '' || raw === 'false') return false;
      return raw === 'true' ? true : raw;
    },
  },
  rateLimitIp: {
    env: 'GATEHOUSE_RATE_LIMIT_IP',
    default: '60/1m',
    description:
      'Requests per client IP (IPv6 by /64) to the public `POST /auth/*` routes (sign-in, sign-up, refresh, links and codes) and to provider sign-in starts, or `off`. Beyond it: 429 REQUESTS_EXCEEDED with Retry-After. Counted in Redis when GATEHOUSE_REDIS_URL is set, else per process.',
    parse: rate(),
  },
  rateLimitLogin: {
    env: 'GATEHOUSE_RATE_LIMIT_LOGIN',
    default: '20/15m',
    description:
      'Password sign-in attempts per account (by e-mail, from any IP, counted before the password is checked), or `off`. Beyond it, password sign-in for that e-mail answers 429 REQUESTS_EXCEEDED until the window ends, so guessing spread over many IPs is slowed too.',
    parse: rate(),
  },
  bodyLimit: {
    env: 'GATEHOUSE_BODY_LIMIT',
    default: '65536',
    description: 'Largest accepted request body in bytes.',
    parse: integer(1024, 50 * 1024 * 1024),
  },
  logLevel: {
    env: 'GATEHOUSE_LOG_LEVEL',
    default: 'info',
    description: 'fatal, error, warn, info, debug, trace or silent.',
    parse: oneOf(LOG_LEVELS),
  },
  passwordResetTtl: {
    env: 'GATEHOUSE_PASSWORD_RESET_TTL',
    default: '1h',
    description: 'How long a password reset link works (once).',
    parse: duration(60_000),
  },
  emailVerificationTtl: {
    env: 'GATEHOUSE_EMAIL_VERIFICATION_TTL',
    default: '24h',
    description: 'How long an e-mail verification link works (once).',
    parse: duration(60_000),
  },
  emailVerificationUrlAllowList: {
    env: 'GATEHOUSE_EMAIL_VERIFICATION_URL_ALLOW_LIST',
    default: '',
    description:
      'Comma-separated URL prefixes a verification link (`verification_url`) may point to; links under the public URL are always allowed.',
    parse: urlList(),
  },
  newSignInLookback: {
    env: 'GATEHOUSE_NEW_SIGN_IN_LOOKBACK',
    default: '30d',
    description:
      "A password sign-in from a user agent not seen in any of the account's sessions for this long mails a new sign-in notice (project setting `new_sign_in_notice`).",
    parse: duration(60_000),
  },
  nodeEnv: {
    env: 'NODE_ENV',
    default: 'development',
    description: '`production` refuses a missing secret, an http public URL and insecure cookies.',
    parse: text(),
  },
  smsWebhookUrl: {
    env: 'GATEHOUSE_SMS_WEBHOOK_URL',
    default: undefined,
    description:
      'SMS gateway: each text message is POSTed there as JSON `{to, text, purpose}` (`to` in E.164); unset keeps SMS in the outbox (`GET /outbox`). Must be https in production.',
    parse: url(['http:', 'https:']),
  },
  pushWebhookUrl: {
    env: 'GATEHOUSE_PUSH_WEBHOOK_URL',
    default: undefined,
    description:
      'Push gateway: each push message is POSTed there as JSON `{to, text, purpose}` (`to` is the user id); unset keeps push messages in the outbox. Must be https in production.',
    parse: url(['http:', 'https:']),
  },
  messageWebhookSecret: {
    env: 'GATEHOUSE_MESSAGE_WEBHOOK_SECRET',
    default: undefined,
    description:
      'Signs SMS and push gateway requests (`Gatehouse-Webhook-Id`, `-Timestamp`, `-Signature: v1=<HMAC-SHA256>` of `<timestamp>.<body>`, as event webhooks), so the gateway can tell Gatehouse sent them; 24+ characters. Unset sends unsigned requests.',
    parse: (raw: string) => (raw.length >= 24 ? raw : { error: 'must be at least 24 characters' }),
  },
  messageWebhookTimeout: {
    env: 'GATEHOUSE_MESSAGE_WEBHOOK_TIMEOUT',
    default: '10s',
    description:
      'Longest wait for the SMS or push gateway to answer; a slower gateway fails the attempt, which is retried later like mail.',
    parse: duration(100),
  },
  magicLinkTtl: {
    env: 'GATEHOUSE_MAGIC_LINK_TTL',
    default: '15m',
    description: 'How long a magic sign-in link works (once).',
    parse: duration(60_000),
  },
  codeTtl: {
    env: 'GATEHOUSE_CODE_TTL',
    default: '10m',
    description: 'How long a 6-digit activation or sign-in code works (once, at most 5 tries).',
    parse: duration(60_000),
  },
  codeResendInterval: {
    env: 'GATEHOUSE_CODE_RESEND_INTERVAL',
    default: '60s',
    description:
      'Cool-down per purpose and address: a magic link or code requested again sooner answers 204 as usual but sends nothing.',
    parse: duration(0),
  },
  webauthnOrigins: {
    env: 'GATEHOUSE_WEBAUTHN_ORIGINS',
    default: '',
    description:
      'Comma-separated origins, besides the public URL, whose passkey ceremonies are accepted: pages under the relying party id (the host of GATEHOUSE_PUBLIC_URL), or other sites, which browsers allow when `GET /.well-known/webauthn` lists them (it lists these).',
    parse: originList(),
  },
  webauthnUserVerification: {
    env: 'GATEHOUSE_WEBAUTHN_USER_VERIFICATION',
    default: 'preferred',
    description:
      'Whether passkey ceremonies ask the authenticator to verify the user (PIN, biometrics): required (refused without), preferred or discouraged.',
    parse: oneOf(['required', 'preferred', 'discouraged'] as const),
  },
  webauthnRpName: {
    env: 'GATEHOUSE_WEBAUTHN_RP_NAME',
    default: 'Gatehouse',
    description: 'Relying party name that browsers show when a passkey is created.',
    parse: headerText(),
  },
  apiKeyDefaultTtl: {
    env: 'GATEHOUSE_API_KEY_DEFAULT_TTL',
    default: '30d',
    description: 'Lifetime of a personal API key created without `expires_at`.',
    parse: duration(60_000),
  },
  apiKeyMaxTtl: {
    env: 'GATEHOUSE_API_KEY_MAX_TTL',
    default: '365d',
    description: 'Longest lifetime a personal API key may be given; a later `expires_at` is refused.',
    parse: duration(60_000),
  },
  oauthLinkByEmail: {
    env: 'GATEHOUSE_OAUTH_LINK_BY_EMAIL',
    default: 'false',
    description:
      '`true` links a provider account to an existing account with the same e-mail at sign-in, when both the provider and the account have it verified; otherwise such a sign-in is refused and the user links the provider after signing in.',
    parse: (raw: string) => (raw === 'true' ? true : raw === 'false' ? false : { error: 'must be true or false' }),
  },
} as const satisfies Record<string, FieldSpec<unknown>>;

type ParsedValue<S> = S extends FieldSpec<infer T> ? T : never;
type Fields = typeof CONFIG_SCHEMA;
type Required<K extends keyof Fields> = Fields[K]['default'] extends string
  ? ParsedValue<Fields[K]>
  : ParsedValue<Fields[K]> | undefined;

export type Config = Readonly<{ [K in keyof Fields]: Required<K> }> & {
  readonly secret: string;
  readonly production: boolean;
  /** Cookies get `Secure` when the public URL is https. */
  readonly secureCookies: boolean;
  /** Sign-in providers from `GATEHOUSE_OAUTH_<NAME>_*` (see oauth-providers.ts). */
  readonly oauthProviders: readonly EnvOAuthProvider[];
};
