import type { ERROR_CODES, ErrorCode } from '@gatehouse/protocol';

/**
 * Codes the SDK raises itself when there is no server answer to read them from. Status 0, as `fetch` reports a
 * request that never got an HTTP answer.
 */
export type ClientErrorCode = 'NETWORK_ERROR' | 'UNEXPECTED_RESPONSE';

/** Every code an SDK call can fail with: the server's registry (read from the protocol package) and the SDK's own. */
export type GatehouseErrorCode = ErrorCode | ClientErrorCode;

/** The HTTP status the registry assigns to a code. */
export type StatusOf<C extends GatehouseErrorCode> = C extends ErrorCode ? (typeof ERROR_CODES)[C]['status'] : 0;

/**
 * A failed call: the registry `code`, the HTTP `status` and the server's public `message`, plus the error's other
 * `extensions` (e.g. the `mfa_token` of an `INVALID_OTP` answer) and `retryAfter` in seconds on 429.
 */
export class GatehouseError<C extends GatehouseErrorCode = GatehouseErrorCode> extends Error {
  override readonly name = 'GatehouseError';
  readonly code: C;
  readonly status: StatusOf<C>;
  readonly extensions: Readonly<Record<string, unknown>>;
  readonly retryAfter: number | null;

  constructor(
    code: C,
    status: StatusOf<C>,
    message: string,
    details: { extensions?: Record<string, unknown>; retryAfter?: number | null; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.status = status;
    this.extensions = details.extensions ?? {};
    this.retryAfter = details.retryAfter ?? null;
  }
}

/**
 * The discriminated union of all SDK errors: `switch (error.code)` narrows `status` to the registry's number.
 * A server newer than this SDK may answer a code added since; it arrives as-is in `code`.
 */
export type AnyGatehouseError = { [C in GatehouseErrorCode]: GatehouseError<C> }[GatehouseErrorCode];

/** True when `error` came from Gatehouse (optionally: with this `code`). */
export function isGatehouseError(error: unknown): error is AnyGatehouseError;
export function isGatehouseError<C extends GatehouseErrorCode>(error: unknown, code: C): error is GatehouseError<C>;
export function isGatehouseError(error: unknown, code?: GatehouseErrorCode): boolean {
  return error instanceof GatehouseError && (code === undefined || error.code === code);
}

interface ErrorBody {
  errors?: { message?: unknown; extensions?: { code?: unknown; [key: string]: unknown } }[];
}

/** Reads a Gatehouse (Directus-shaped) error answer; anything else becomes `UNEXPECTED_RESPONSE`. */
export async function errorFromResponse(response: Response): Promise<AnyGatehouseError> {
  let body: ErrorBody | null = null;
  try {
    body = (await response.json()) as ErrorBody;
  } catch {
    body = null;
  }
  const first = body?.errors?.[0];
  const retryAfter = Number(response.headers.get('retry-after'));
  if (first && typeof first.extensions?.code === 'string') {
    const { code, ...extensions } = first.extensions;
    return new GatehouseError(
      code as ErrorCode,
      response.status as StatusOf<ErrorCode>,
      typeof first.message === 'string' ? first.message : code,
      { extensions, retryAfter: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null },
    ) as AnyGatehouseError;
  }
  return new GatehouseError('UNEXPECTED_RESPONSE', 0, `Unexpected answer with HTTP status ${response.status}.`, {
    extensions: { status: response.status },
  });
}
