export type CredentialSource = 'authorization' | 'query' | 'api-key-header' | 'session-cookie';

/** A credential as found on a request, not yet checked. */
export interface Credential {
  source: CredentialSource;
  token: string;
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
}

/** Where a request came from, for sessions and the audit trail. */
export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
}
