import type { AuthMode, OAuthDriver, ProviderConfig } from '@gatehouse/protocol';
import type { Kysely } from 'kysely';
import type { EnvOAuthProvider } from '../../config/index.js';
import { open } from '../../crypto/secret-box.js';
import type { ProviderRow, Tables } from '../../db/types.js';
import { iso } from '../users/index.js';
import { type OAuth2Preset, PRESETS } from './drivers.js';

/** A provider as the flows use it: from the environment or the admin API, with its secret opened. */
export interface ProviderSettings {
  name: string;
  label: string;
  driver: OAuthDriver;
  icon: string | null;
  clientId: string;
  clientSecret: string | null;
  issuer: string | null;
  scopes: string[];
  mode: AuthMode;
  enabled: boolean;
  authorizationUrl: string | null;
  tokenUrl: string | null;
  userinfoUrl: string | null;
  teamId: string | null;
  keyId: string | null;
  source: 'env' | 'api';
  /** Changes whenever the settings change, so a cached client is rebuilt. */
  version: string;
  createdAt: number | null;
  updatedAt: number | null;
}

export function fromEnv(provider: EnvOAuthProvider): ProviderSettings {
  return {
    ...provider,
    label: provider.label ?? (provider.driver === 'oidc' ? provider.name : PRESETS[provider.driver].label),
    icon: provider.icon ?? provider.driver,
    source: 'env',
    version: 'env',
    createdAt: null,
    updatedAt: null,
  };
}

export function fromRow(row: ProviderRow, sealKey: Uint8Array): ProviderSettings {
  return {
    name: row.name,
    label: row.label,
    driver: row.driver as OAuthDriver,
    icon: row.icon,
    clientId: row.client_id,
    clientSecret: row.client_secret === null ? null : open(sealKey, row.client_secret, row.id),
    issuer: row.issuer,
    scopes: JSON.parse(row.scopes) as string[],
    mode: row.mode,
    enabled: Number(row.enabled) === 1,
    authorizationUrl: row.authorization_url,
    tokenUrl: row.token_url,
    userinfoUrl: row.userinfo_url,
    teamId: null,
    keyId: null,
    source: 'api',
    version: `${row.id}:${Number(row.updated_at)}`,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** What admins see: never the secret, only whether there is one. */
export function toProviderConfig(provider: ProviderSettings): ProviderConfig {
  return {
    name: provider.name,
    label: provider.label,
    driver: provider.driver,
    icon: provider.icon,
    client_id: provider.clientId,
    has_client_secret: provider.clientSecret !== null,
    issuer: provider.issuer,
    scopes: provider.scopes,
    mode: provider.mode,
    enabled: provider.enabled,
    authorization_url: provider.authorizationUrl,
    token_url: provider.tokenUrl,
    userinfo_url: provider.userinfoUrl,
    source: provider.source,
    created_at: provider.createdAt === null ? null : iso(provider.createdAt),
    updated_at: provider.updatedAt === null ? null : iso(provider.updatedAt),
  };
}

/** The scopes a flow asks for: the configured ones, or the driver's. */
export function scopesOf(provider: ProviderSettings): string[] {
  return provider.scopes.length > 0 ? provider.scopes : PRESETS[provider.driver].scopes;
}

/** The endpoints of an OAuth 2 preset, with the configured overrides. */
export function endpointsOf(provider: ProviderSettings, preset: OAuth2Preset) {
  return {
    authorizationUrl: provider.authorizationUrl ?? preset.authorizationUrl,
    tokenUrl: provider.tokenUrl ?? preset.tokenUrl,
    userinfoUrl: provider.userinfoUrl ?? preset.userinfoUrl,
  };
}

/** The project's providers: the environment's first, then the API's (an API provider never shadows an env one). */
export async function listProviders(
  db: Kysely<Tables>,
  projectId: string,
  env: readonly EnvOAuthProvider[],
  sealKey: Uint8Array,
): Promise<ProviderSettings[]> {
  const fromEnvironment = env.map(fromEnv);
  const names = new Set(fromEnvironment.map((provider) => provider.name));
  const rows = await db
    .selectFrom('providers')
    .selectAll()
    .where('project_id', '=', projectId)
    .orderBy('created_at')
    .orderBy('name')
    .execute();
  return [...fromEnvironment, ...rows.filter((row) => !names.has(row.name)).map((row) => fromRow(row, sealKey))];
}
