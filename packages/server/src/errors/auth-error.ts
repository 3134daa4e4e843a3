import { ERROR_CODES, type ErrorCode } from '@gatehouse/protocol';

/**
 * The one error type routes throw. `message` is public and goes to the client; `detail` is private and only
 * reaches the log. The HTTP status always comes from the registry, so a code cannot drift from its status.
 */
export class AuthError extends Error {
  readonly status: number;
  readonly detail: string | undefined;
  readonly extensions: Record<string, unknown>;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: { detail?: string; extensions?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AuthError';
    this.status = ERROR_CODES[code].status;
    this.detail = options.detail;
    this.extensions = options.extensions ?? {};
  }
}

export const invalidPayload = (message: string): AuthError => new AuthError('INVALID_PAYLOAD', message);
export const invalidCredentials = (): AuthError => new AuthError('INVALID_CREDENTIALS', 'Invalid user credentials.');
export const forbidden = (message = "You don't have permission to access this."): AuthError =>
  new AuthError('FORBIDDEN', message);
