/**
 * The error-code registry. Append-only: a code, once published, keeps its meaning and status forever,
 * because clients branch on it. Every code is documented in docs/errors.md (a test keeps the two in step).
 */
export const ERROR_CODES = {
  INVALID_PAYLOAD: { status: 400, description: 'The request body, query or headers are malformed or fail validation.' },
  INVALID_CREDENTIALS: {
    status: 401,
    description: 'Wrong e-mail, password or refresh token, or no valid credential; unknown accounts answer the same.',
  },
  INVALID_OTP: { status: 401, description: 'A second factor is required or the one-time password is wrong.' },
  TOKEN_EXPIRED: { status: 401, description: 'The access token, session token or one-time token has expired.' },
  USER_SUSPENDED: { status: 401, description: 'The account behind an otherwise valid credential is suspended.' },
  INVALID_TOKEN: {
    status: 403,
    description: 'The token is malformed, tampered, signed by an unknown key, or already used.',
  },
  FORBIDDEN: {
    status: 403,
    description: 'The caller may not do this, or a cookie-authenticated write came from a foreign origin.',
  },
  ROUTE_NOT_FOUND: { status: 404, description: 'No route matches the method and path.' },
  RECORD_NOT_UNIQUE: { status: 409, description: 'A record with the same unique value already exists.' },
  RECORD_IN_USE: {
    status: 409,
    description: 'The record is still referenced and cannot be removed (e.g. a role assigned to accounts).',
  },
  CONTENT_TOO_LARGE: { status: 413, description: 'The request body is larger than the configured limit.' },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    description: 'The request body has a content type the route does not accept.',
  },
  REQUESTS_EXCEEDED: {
    status: 429,
    description: 'Too many requests; retry after the number of seconds in Retry-After.',
  },
  INTERNAL: { status: 500, description: 'An unexpected server error. The response carries no detail; the log does.' },
  SERVICE_UNAVAILABLE: { status: 503, description: 'A dependency (database, cache) is not reachable.' },
  RECORD_NOT_FOUND: {
    status: 404,
    description:
      "The record does not exist in this project (or the id is malformed); another project's ids answer the same.",
  },
  LAST_ADMIN: {
    status: 409,
    description: 'The change would leave the project without an active user whose role grants `*`.',
  },
  USER_NOT_ACTIVE: {
    status: 409,
    description: 'The target account is suspended or not yet active, so this cannot be done to it.',
  },
  TOO_MANY_ATTEMPTS: {
    status: 429,
    description: 'The one-time code has had its 5 tries and no longer works, even when right; request a new code.',
  },
  PASSKEY_INVALID: {
    status: 401,
    description:
      'The passkey assertion does not verify: unknown or deleted credential, wrong origin or relying party, bad signature, a signature counter that did not increase, or missing user verification.',
  },
  PASSKEY_REGISTRATION_INVALID: {
    status: 400,
    description:
      'The passkey registration response does not verify: wrong origin or relying party, unsupported key algorithm, malformed attestation, or missing user verification.',
  },
  PASSKEY_CHALLENGE_INVALID: {
    status: 400,
    description:
      'The WebAuthn challenge in the response is unknown, already used, or was issued for another ceremony or account; start the ceremony again.',
  },
  PASSKEY_CHALLENGE_EXPIRED: {
    status: 400,
    description: 'The WebAuthn challenge is older than 5 minutes; start the ceremony again.',
  },
  MFA_SETUP_REQUIRED: {
    status: 403,
    description:
      'The project or the role requires a second factor and the account has none; `extensions.setup_token` admits only the MFA enrolment routes.',
  },
  EMAIL_NOT_VERIFIED: {
    status: 401,
    description:
      'The password is right but the project requires a verified e-mail address first; request a verification mail.',
  },
  REAUTHENTICATION_REQUIRED: {
    status: 403,
    description:
      "The action needs a recent sign-in (the token's `auth_time`), or the password where the route takes one: sign in again and retry.",
  },
  API_KEY_INVALID: {
    status: 401,
    description:
      'The API key is malformed (wrong prefix, length or checksum: refused before any lookup), unknown, or not a key this route takes.',
  },
  API_KEY_EXPIRED: { status: 401, description: 'The API key has passed its expiry date.' },
  API_KEY_REVOKED: {
    status: 401,
    description: 'The API key was revoked, or rotated and replaced (after any grace period asked for).',
  },
  API_KEY_SCOPE_DENIED: {
    status: 403,
    description: "The route needs a permission the API key's scopes do not grant (the user may hold it).",
  },
  API_KEY_NOT_ALLOWED: {
    status: 403,
    description:
      'The route does not take API keys: managing credentials (keys, sessions, impersonation) needs an interactive sign-in, and a secret key has no account of its own.',
  },
  PROJECT_KEY_INVALID: {
    status: 401,
    description: 'The publishable key (X-API-Key: gatehouse_pk_...) is malformed, unknown or revoked.',
  },
  SECRET_KEY_NOT_ALLOWED: {
    status: 403,
    description:
      'A secret project key (gatehouse_sk_...) was sent to a browser-facing endpoint (/auth/*); use the publishable key there.',
  },
  API_KEY_CONFLICT: {
    status: 409,
    description: 'The API key was rotated or revoked by another request meanwhile; only one rotation of a key wins.',
  },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** One entry of the `errors` array of an error response. */
export interface ErrorItem {
  message: string;
  extensions: { code: ErrorCode; [key: string]: unknown };
}

export interface ErrorResponse {
  errors: ErrorItem[];
}
