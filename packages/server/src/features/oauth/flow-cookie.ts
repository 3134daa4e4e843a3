import { open, seal } from '../../crypto/secret-box.js';

export const FLOW_COOKIE = 'gatehouse_oauth_flow';

/**
 * What the browser carries between the start of a provider flow and its callback. The values that prove the
 * callback belongs to this browser and this start (state, nonce, PKCE verifier) never touch the database; the
 * cookie is sealed (AES-256-GCM) so it can be neither read nor forged, and bound to its provider.
 */
export interface FlowState {
  /** The `oauth_flows` row that makes the callback single-use. */
  id: string;
  provider: string;
  state: string;
  /** Null for OAuth 2 providers without ID tokens. */
  nonce: string | null;
  verifier: string;
  /** Absolute, already checked against the allow-list at the start. */
  redirect: string | null;
  expiresAt: number;
}

const aad = (provider: string) => `oauth-flow:${provider}`;

export function sealFlow(key: Uint8Array, flow: FlowState): string {
  return seal(key, JSON.stringify(flow), aad(flow.provider));
}

/** The flow in the cookie, or null when it is missing, tampered, of another provider or expired. */
export function openFlow(key: Uint8Array, provider: string, sealed: string | undefined, now: number): FlowState | null {
  if (!sealed) return null;
  const text = open(key, sealed, aad(provider));
  if (text === null) return null;
  const flow = JSON.parse(text) as FlowState;
  return flow.provider === provider && flow.expiresAt > now ? flow : null;
}

/** The cookie lives only on the callback path, so no other request ever carries it. */
export function flowCookiePath(provider: string): string {
  return `/auth/login/${encodeURIComponent(provider)}/callback`;
}
