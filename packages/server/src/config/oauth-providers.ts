import { OAUTH_DRIVERS, type OAuthDriver } from '@gatehouse/protocol';

/** A sign-in provider configured by `GATEHOUSE_OAUTH_<NAME>_*` variables. */
export interface EnvOAuthProvider {
  /** `<NAME>` lower-cased: the provider's name in URLs (`/auth/login/google`). */
  name: string;
  driver: OAuthDriver;
  clientId: string;
  clientSecret: string | null;
  issuer: string | null;
  /** Empty means the driver's default scopes. */
  scopes: string[];
  label: string | null;
  icon: string | null;
  mode: 'json' | 'cookie' | 'session';
  enabled: boolean;
  authorizationUrl: string | null;
  tokenUrl: string | null;
  userinfoUrl: string | null;
  /** Apple: the team and key ids that sign the client secret (CLIENT_SECRET then holds the .p8 private key). */
  teamId: string | null;
  keyId: string | null;
}

/** The per-provider variables, `GATEHOUSE_OAUTH_<NAME>_<SUFFIX>`, for loading and for docs/configuration.md. */
export const OAUTH_PROVIDER_FIELDS = {
  DRIVER: `Declares provider \`<name>\`: ${OAUTH_DRIVERS.join(', ')}. \`oidc\` takes any issuer by discovery; the others are presets.`,
  CLIENT_ID: 'Client id registered at the provider (required).',
  CLIENT_SECRET: 'Client secret (Apple: the .p8 private key that signs the client secret, PEM, `\\n` for newlines).',
  ISSUER: 'Issuer URL for discovery (required for `oidc`; presets know theirs, e.g. a GitLab or Microsoft tenant).',
  SCOPES: "Scopes, comma- or space-separated (default: the driver's, e.g. `openid email profile`).",
  LABEL: 'Name shown on the sign-in button (default: the preset name or `<name>`).',
  ICON: 'Icon name for the sign-in button (default: the driver).',
  MODE: 'How a sign-in answers: `json`, `cookie` (default) or `session`; see docs/oauth.md.',
  ENABLED: '`false` hides the provider and refuses its sign-ins (default `true`).',
  AUTHORIZATION_URL: 'OAuth 2 presets: authorization endpoint (e.g. GitHub Enterprise).',
  TOKEN_URL: 'OAuth 2 presets: token endpoint.',
  USERINFO_URL: 'OAuth 2 presets: user API base (GitHub: the API root, `/user` and `/user/emails` are read).',
  TEAM_ID: 'Apple: the developer team id.',
  KEY_ID: 'Apple: the id of the key in CLIENT_SECRET.',
} as const;

const PREFIX = 'GATEHOUSE_OAUTH_';
const MODES = ['json', 'cookie', 'session'] as const;

function isHttpUrl(raw: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(raw).protocol);
  } catch {
    return false;
  }
}

/**
 * Reads every `GATEHOUSE_OAUTH_<NAME>_DRIVER` and the variables of the same `<NAME>`. `<NAME>` is letters and
 * digits only, so the suffix after it is never ambiguous. Problems are pushed with the variable they concern.
 */
export function loadOAuthProviders(
  env: Readonly<Record<string, string | undefined>>,
  problems: string[],
): EnvOAuthProvider[] {
  const providers: EnvOAuthProvider[] = [];
  for (const key of Object.keys(env).sort()) {
    if (!key.startsWith(PREFIX) || !key.endsWith('_DRIVER')) continue;
    const match = /^GATEHOUSE_OAUTH_([A-Z0-9]+)_DRIVER$/.exec(key);
    if (!match) {
      problems.push(`${key}: a provider <NAME> is upper-case letters and digits only (no _ or -)`);
      continue;
    }
    const upper = match[1] as string;
    const read = (suffix: keyof typeof OAUTH_PROVIDER_FIELDS): string | null => {
      const value = env[`${PREFIX}${upper}_${suffix}`]?.trim();
      return value === undefined || value === '' ? null : value;
    };
    const variable = (suffix: string) => `${PREFIX}${upper}_${suffix}`;
    const driver = read('DRIVER');
    if (!(OAUTH_DRIVERS as readonly string[]).includes(driver ?? '')) {
      problems.push(`${variable('DRIVER')} must be one of ${OAUTH_DRIVERS.join(', ')}`);
      continue;
    }
    const clientId = read('CLIENT_ID');
    if (!clientId) problems.push(`${variable('CLIENT_ID')} is required with ${variable('DRIVER')}`);
    const issuer = read('ISSUER');
    if (driver === 'oidc' && !issuer) problems.push(`${variable('ISSUER')} is required for the oidc driver`);
    for (const suffix of ['ISSUER', 'AUTHORIZATION_URL', 'TOKEN_URL', 'USERINFO_URL'] as const) {
      const value = read(suffix);
      if (value !== null && !isHttpUrl(value)) problems.push(`${variable(suffix)} must be an http or https URL`);
    }
    const mode = read('MODE') ?? 'cookie';
    if (!(MODES as readonly string[]).includes(mode))
      problems.push(`${variable('MODE')} must be json, cookie or session`);
    const enabled = read('ENABLED') ?? 'true';
    if (enabled !== 'true' && enabled !== 'false') problems.push(`${variable('ENABLED')} must be true or false`);
    if (driver === 'apple' && (!read('TEAM_ID') || !read('KEY_ID') || !read('CLIENT_SECRET'))) {
      problems.push(
        `${variable('TEAM_ID')}, ${variable('KEY_ID')} and ${variable('CLIENT_SECRET')} are required for apple`,
      );
    }
    providers.push({
      name: upper.toLowerCase(),
      driver: driver as OAuthDriver,
      clientId: clientId ?? '',
      clientSecret: read('CLIENT_SECRET')?.replaceAll('\\n', '\n') ?? null,
      issuer,
      scopes: (read('SCOPES') ?? '').split(/[\s,]+/).filter((scope) => scope.length > 0),
      label: read('LABEL'),
      icon: read('ICON'),
      mode: mode as EnvOAuthProvider['mode'],
      enabled: enabled !== 'false',
      authorizationUrl: read('AUTHORIZATION_URL'),
      tokenUrl: read('TOKEN_URL'),
      userinfoUrl: read('USERINFO_URL'),
      teamId: read('TEAM_ID'),
      keyId: read('KEY_ID'),
    });
  }
  return providers;
}
