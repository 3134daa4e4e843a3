import type { Passkey } from '@gatehouse/protocol';
import {
  type AuthenticationResponseJSON,
  browserSupportsWebAuthn,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  startAuthentication,
  startRegistration,
} from '@simplewebauthn/browser';
import type { AuthResult, GatehouseClient } from '../client.js';

/**
 * Passkey sign-in and registration through `@simplewebauthn/browser`. A separate entry point
 * (`@gatehouse/sdk/passkeys`) so apps without passkeys do not ship the WebAuthn helpers.
 */
export type { Passkey };
export { browserSupportsWebAuthn };

/**
 * The WebAuthn ceremonies: `@simplewebauthn/browser`'s by default. Another implementation (a native bridge, or a
 * software authenticator in tests) can stand in.
 */
export interface WebAuthnCeremonies {
  startRegistration(options: {
    optionsJSON: PublicKeyCredentialCreationOptionsJSON;
  }): Promise<RegistrationResponseJSON>;
  startAuthentication(options: {
    optionsJSON: PublicKeyCredentialRequestOptionsJSON;
    useBrowserAutofill?: boolean;
  }): Promise<AuthenticationResponseJSON>;
}

const browserCeremonies: WebAuthnCeremonies = { startRegistration, startAuthentication };

/** Signs in with a passkey; without `email` the browser offers every passkey for the site (usernameless). */
export async function signInWithPasskey(
  client: GatehouseClient,
  options: { email?: string; useBrowserAutofill?: boolean; webauthn?: WebAuthnCeremonies } = {},
): Promise<AuthResult> {
  const optionsJSON = await client.request<PublicKeyCredentialRequestOptionsJSON>('/auth/passkey/login/options', {
    method: 'POST',
    body: options.email ? { email: options.email } : {},
    auth: 'none',
  });
  const credential = await (options.webauthn ?? browserCeremonies).startAuthentication({
    optionsJSON,
    useBrowserAutofill: options.useBrowserAutofill ?? false,
  });
  const result = await client.request<AuthResult>('/auth/passkey/login/verify', {
    method: 'POST',
    body: { credential, mode: client.mode },
    auth: 'none',
  });
  await client.setSession(result);
  return result;
}

/** Registers a passkey for the signed-in user; without `name` the server suggests one from the authenticator. */
export async function registerPasskey(
  client: GatehouseClient,
  options: { name?: string; webauthn?: WebAuthnCeremonies } = {},
): Promise<Passkey> {
  const optionsJSON = await client.request<PublicKeyCredentialCreationOptionsJSON>('/users/me/passkeys/options', {
    method: 'POST',
    body: {},
  });
  const credential = await (options.webauthn ?? browserCeremonies).startRegistration({ optionsJSON });
  return client.request<Passkey>('/users/me/passkeys', {
    method: 'POST',
    body: options.name ? { credential, name: options.name } : { credential },
  });
}

/** The signed-in user's passkeys. */
export function listPasskeys(client: GatehouseClient): Promise<Passkey[]> {
  return client.request<Passkey[]>('/users/me/passkeys');
}

/** Renames one of the signed-in user's passkeys. */
export function renamePasskey(client: GatehouseClient, id: string, name: string): Promise<Passkey> {
  return client.request<Passkey>(`/users/me/passkeys/${encodeURIComponent(id)}`, { method: 'PATCH', body: { name } });
}

/** Removes one of the signed-in user's passkeys. */
export async function deletePasskey(client: GatehouseClient, id: string): Promise<void> {
  await client.request(`/users/me/passkeys/${encodeURIComponent(id)}`, { method: 'DELETE' });
}
