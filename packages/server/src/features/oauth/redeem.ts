import * as client from 'openid-client';
import type { ProviderClients } from './client.js';
import { type OAuth2Preset, PRESETS, type ProviderProfile, profileFromClaims } from './drivers.js';
import type { FlowState } from './flow-cookie.js';
import { endpointsOf, type ProviderSettings } from './providers.js';

export type Redeemed =
  | { ok: true; profile: ProviderProfile }
  | { ok: false; reason: string; error: string; claim: string | null };

/**
 * Redeems the code at the provider and reads who the user is there: the ID token's claims (with userinfo when they
 * lack the e-mail), or the OAuth 2 preset's user API. Every protocol check is openid-client's; a failure comes back
 * as a value with a short reason, the failed claim's name and the client's messages, for the audit trail.
 */
export async function redeem(
  clients: ProviderClients,
  provider: ProviderSettings,
  flow: FlowState,
  callback: URL | Request,
): Promise<Redeemed> {
  const preset = PRESETS[provider.driver];
  try {
    const config = await clients.configuration(provider);
    const tokens = await client.authorizationCodeGrant(config, callback, {
      expectedState: flow.state,
      pkceCodeVerifier: flow.verifier,
      ...(flow.nonce !== null ? { expectedNonce: flow.nonce } : {}),
    });
    if (preset.kind === 'oidc') {
      const claims = tokens.claims();
      if (!claims) return { ok: false, reason: 'no_id_token', error: 'no ID token', claim: null };
      let merged: Record<string, unknown> = { ...claims };
      if (
        config.serverMetadata().userinfo_endpoint &&
        (claims.email === undefined || claims.email_verified === undefined)
      ) {
        const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
        merged = { ...userinfo, ...claims };
      }
      const profile = profileFromClaims(merged);
      return profile ? { ok: true, profile } : { ok: false, reason: 'no_subject', error: 'no subject', claim: null };
    }
    const oauth2 = preset as OAuth2Preset;
    const { userinfoUrl } = endpointsOf(provider, oauth2);
    const fetchJson = async (url: string): Promise<unknown> => {
      const response = await client.fetchProtectedResource(
        config,
        tokens.access_token,
        new URL(url),
        'GET',
        undefined,
        new Headers({ accept: 'application/json', 'user-agent': 'Gatehouse' }),
      );
      if (!response.ok) throw new Error(`the user API answered ${response.status}`);
      return response.json();
    };
    return { ok: true, profile: await oauth2.profile(fetchJson, userinfoUrl) };
  } catch (error) {
    return { ok: false, reason: reasonOf(error), error: describeError(error), claim: claimOf(error) };
  }
}

/** A short reason for the audit trail from openid-client's error (its codes name the failed check). */
function reasonOf(error: unknown): string {
  if (error instanceof client.AuthorizationResponseError) return 'provider_refused';
  if (error instanceof client.ResponseBodyError) return 'token_request_refused';
  if (error instanceof client.ClientError) return 'response_rejected';
  return 'provider_error';
}

/** The error and the errors it wraps (openid-client wraps oauth4webapi's, which names the failed check). */
function chain(error: unknown): Error[] {
  const errors: Error[] = [];
  let current: unknown = error;
  while (current instanceof Error && errors.length < 4) {
    errors.push(current);
    current = current.cause;
  }
  return errors;
}

/** The ID token claim a failed check was about (`iss`, `aud`, `nonce`, ...): a name, never its value. */
function claimOf(error: unknown): string | null {
  for (const item of chain(error)) {
    const claim = (item.cause as { claim?: unknown } | undefined)?.claim;
    if (typeof claim === 'string' && /^[a-z_]{1,32}$/.test(claim)) return claim;
  }
  return null;
}

/** The codes and messages of the error chain, never a `cause` that is data (it may hold the provider's answer). */
export function describeError(error: unknown): string {
  const parts = chain(error).map((item) => {
    const code = (item as { code?: unknown }).code;
    return `${typeof code === 'string' ? `${code}: ` : ''}${item.message}`;
  });
  return parts.length === 0 ? 'unknown error' : parts.join(' / ').slice(0, 300);
}
