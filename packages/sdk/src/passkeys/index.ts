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
 *
 * The server may answer the options either bare or as `{ options, ...context }` (e.g. a challenge id); the context
 * is sent back with the authenticator's response.
 */
type OptionsAnswer<T> = T | ({ options: T } & Record<string, unknown>);

function split<T extends object>(answer: OptionsAnswer<T>): { options: T; context: Record<string, unknown> } {
  if ('options' in answer && typeof answer.options === 'object' && answer.options !== null) {
    const { options, ...context } = answer as { options: T } & Record<string, unknown>;
    return { options, context };
  }
  return { options: answer as T, context: {} };
}

export { browserSupportsWebAuthn };

/** Signs in with a passkey; without `email` the browser offers every passkey for the site (usernameless). */
export async function signInWithPasskey(
  client: GatehouseClient,
  options: { email?: string; useBrowserAutofill?: boolean } = {},
): Promise<AuthResult> {
  const answer = await client.request<OptionsAnswer<PublicKeyCredentialRequestOptionsJSON>>(
    '/auth/passkey/login/options',
    { method: 'POST', body: options.email ? { email: options.email } : {}, auth: 'none' },
  );
  const { options: optionsJSON, context } = split(answer);
  const response: AuthenticationResponseJSON = await startAuthentication({
    optionsJSON,
    useBrowserAutofill: options.useBrowserAutofill ?? false,
  });
  const result = await client.request<AuthResult>('/auth/passkey/login/verify', {
    method: 'POST',
    body: { ...context, response, mode: client.mode },
    auth: 'none',
  });
  await client.setSession(result);
  return result;
}

/** Registers a passkey for the signed-in user. */
export async function registerPasskey<T = unknown>(
  client: GatehouseClient,
  options: { name?: string } = {},
): Promise<T> {
  const answer = await client.request<OptionsAnswer<PublicKeyCredentialCreationOptionsJSON>>(
    '/users/me/passkeys/options',
    { method: 'POST', body: {} },
  );
  const { options: optionsJSON, context } = split(answer);
  const response: RegistrationResponseJSON = await startRegistration({ optionsJSON });
  return client.request<T>('/users/me/passkeys', {
    method: 'POST',
    body: { ...context, response, name: options.name },
  });
}

/** The signed-in user's passkeys. */
export function listPasskeys<T = unknown[]>(client: GatehouseClient): Promise<T> {
  return client.request<T>('/users/me/passkeys');
}

/** Removes one of the signed-in user's passkeys. */
export async function deletePasskey(client: GatehouseClient, id: string): Promise<void> {
  await client.request(`/users/me/passkeys/${encodeURIComponent(id)}`, { method: 'DELETE' });
}
