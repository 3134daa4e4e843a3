import { importPKCS8, SignJWT } from 'jose';
import * as client from 'openid-client';
import { type OAuth2Preset, PRESETS } from './drivers.js';
import { endpointsOf, type ProviderSettings } from './providers.js';

/** How long a call to a provider (discovery, token, user API) may take. */
const PROVIDER_TIMEOUT_SECONDS = 10;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * openid-client refuses plain http. Tests (and local development) run providers on 127.0.0.1, so http is allowed
 * only when every URL of the provider is on a loopback host and Gatehouse is not in production: a provider
 * reached over a network always needs https.
 */
export function allowsInsecureRequests(urls: readonly string[], production: boolean): boolean {
  if (production) return false;
  const http = urls.filter((url) => new URL(url).protocol === 'http:');
  return http.length > 0 && urls.every((url) => LOOPBACK.has(new URL(url).hostname));
}

/** Apple's client secret: a JWT signed with the team's key, valid for an hour (Apple allows up to six months). */
export const APPLE_SECRET_LIFETIME_SECONDS = 3600;
const APPLE_AUDIENCE = 'https://appleid.apple.com';

async function appleClientSecret(provider: ProviderSettings): Promise<string> {
  if (!provider.clientSecret || !provider.teamId || !provider.keyId) {
    throw new Error(`provider ${provider.name} needs TEAM_ID, KEY_ID and the key in CLIENT_SECRET`);
  }
  const key = await importPKCS8(provider.clientSecret, 'ES256');
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: provider.keyId })
    .setIssuer(provider.teamId)
    .setSubject(provider.clientId)
    .setAudience(APPLE_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${APPLE_SECRET_LIFETIME_SECONDS}s`)
    .sign(key);
}

async function clientAuth(provider: ProviderSettings): Promise<client.ClientAuth> {
  if (provider.driver === 'apple') return client.ClientSecretPost(await appleClientSecret(provider));
  return provider.clientSecret === null ? client.None() : client.ClientSecretPost(provider.clientSecret);
}

/**
 * One openid-client Configuration per provider and settings version: OpenID issuers by discovery (cached, and
 * dropped when it fails so the next sign-in tries again), OAuth 2 presets from their known endpoints.
 */
export class ProviderClients {
  private readonly cache = new Map<string, { version: string; config: Promise<client.Configuration> }>();

  constructor(private readonly options: { production: boolean }) {}

  configuration(provider: ProviderSettings): Promise<client.Configuration> {
    // Apple's signed secret expires: the client is rebuilt (and the secret signed again) well before it does.
    const version =
      provider.driver === 'apple'
        ? `${provider.version}:${Math.floor(Date.now() / ((APPLE_SECRET_LIFETIME_SECONDS * 1000) / 2))}`
        : provider.version;
    const cached = this.cache.get(provider.name);
    if (cached && cached.version === version) return cached.config;
    const config = this.build(provider);
    this.cache.set(provider.name, { version, config });
    config.catch(() => {
      if (this.cache.get(provider.name)?.config === config) this.cache.delete(provider.name);
    });
    return config;
  }

  private async build(provider: ProviderSettings): Promise<client.Configuration> {
    const preset = PRESETS[provider.driver];
    if (preset.kind === 'oidc') {
      const issuer = provider.issuer ?? preset.issuer;
      if (!issuer) throw new Error(`provider ${provider.name} has no issuer`);
      const insecure = allowsInsecureRequests([issuer], this.options.production);
      const config = await client.discovery(new URL(issuer), provider.clientId, {}, await clientAuth(provider), {
        execute: insecure ? [client.allowInsecureRequests] : [],
        timeout: PROVIDER_TIMEOUT_SECONDS,
      });
      config.timeout = PROVIDER_TIMEOUT_SECONDS;
      return config;
    }
    const endpoints = endpointsOf(provider, preset as OAuth2Preset);
    const config = new client.Configuration(
      {
        issuer: new URL(endpoints.authorizationUrl).origin,
        authorization_endpoint: endpoints.authorizationUrl,
        token_endpoint: endpoints.tokenUrl,
      },
      provider.clientId,
      {},
      await clientAuth(provider),
    );
    config.timeout = PROVIDER_TIMEOUT_SECONDS;
    if (allowsInsecureRequests(Object.values(endpoints), this.options.production)) {
      client.allowInsecureRequests(config);
    }
    return config;
  }
}
