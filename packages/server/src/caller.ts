export type CredentialSource = 'authorization' | 'query' | 'api-key-header' | 'session-cookie';

/** A credential as found on a request, not yet checked. */
export interface Credential {
  source: CredentialSource;
  token: string;
}

/**
 * The API key behind a caller: the key itself (personal or secret), or an access token obtained by exchanging a
 * personal key at `GET /api/auth` (which carries the key's id and scopes).
 */
export interface ApiKeyGrant {
  id: string;
  kind: 'personal' | 'secret';
  /** The permissions the key may use; null: all of the user's own (personal keys), or the whole project (secret). */
  scopes: readonly string[] | null;
}

/** Who is making a request, as established from a verified credential. */
export interface Caller {
  userId: string;
  sessionId: string;
  projectId: string;
  role: string;
  permissions: string[];
  /** Where the credential came from; cookie-borne callers are subject to the Origin check on writes. */
  source: CredentialSource;
  /** The verified claims of the token, for handlers that need more (amr, auth_time). */
  claims: Readonly<Record<string, unknown>>;
  /** The admin acting as this user (an impersonation token's `act.sub`); null for the user's own credential. */
  actorId: string | null;
  /** A restricted token's scope (e.g. `mfa_enrollment`): it admits only routes that list it in `config.scopes`. */
  scope?: string;
  /**
   * Set when the credential is an API key or was obtained with one: permission checks then intersect with its
   * scopes, and routes that manage credentials refuse it. For a secret key, `userId` is the key's id (it has no
   * account) and the caller administers the key's project.
   */
  apiKey: ApiKeyGrant | null;
}

/** Where a request came from, for sessions and the audit trail. */
export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
}
