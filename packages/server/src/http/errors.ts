import type { ErrorResponse } from '@gatehouse/protocol';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AuthError } from '../errors/auth-error.js';

/** Fastify's own client-error codes and what they mean in the registry. */
const FASTIFY_CLIENT_ERRORS: Record<string, () => AuthError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () => new AuthError('CONTENT_TOO_LARGE', 'The request body is too large.'),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () =>
    new AuthError('UNSUPPORTED_MEDIA_TYPE', 'The request body must be application/json.'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new AuthError('INVALID_PAYLOAD', 'The JSON body is empty.'),
  FST_ERR_CTP_INVALID_JSON_BODY: () => new AuthError('INVALID_PAYLOAD', 'The JSON body is malformed.'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new AuthError('INVALID_PAYLOAD', 'The Content-Length header is wrong.'),
};

export function toErrorResponse(error: AuthError): ErrorResponse {
  return { errors: [{ message: error.message, extensions: { ...error.extensions, code: error.code } }] };
}

/** Turns anything thrown into a registry error; unknown errors become a bare INTERNAL and are logged. */
export function classify(error: FastifyError | Error): AuthError | null {
  if (error instanceof AuthError) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const first = fastifyError.validation[0];
    const where = fastifyError.validationContext ?? 'body';
    const path = first?.instancePath ? first.instancePath.slice(1).replaceAll('/', '.') : '';
    const message = first
      ? `Invalid ${where}${path ? ` "${path}"` : ''}: ${first.message ?? 'is invalid'}.`
      : 'Invalid payload.';
    return new AuthError('INVALID_PAYLOAD', message);
  }
  const mapped = fastifyError.code ? FASTIFY_CLIENT_ERRORS[fastifyError.code] : undefined;
  if (mapped) return mapped();
  if (error instanceof SyntaxError && fastifyError.statusCode === 400) {
    return new AuthError('INVALID_PAYLOAD', 'The JSON body is malformed.');
  }
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode === 413) {
    return new AuthError('CONTENT_TOO_LARGE', 'The request body is too large.');
  }
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new AuthError('INVALID_PAYLOAD', 'The request is malformed.');
  }
  return null;
}

/** Installs the error envelope: every failure answers `{ errors: [...] }`, never a stack or internal detail. */
export function registerErrorEnvelope(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const known = classify(error);
    if (known) {
      if (known.detail) request.log.info({ code: known.code, detail: known.detail }, 'request refused');
      if (known.code === 'REQUESTS_EXCEEDED' && typeof known.extensions.retryAfter === 'number') {
        reply.header('retry-after', String(known.extensions.retryAfter));
      }
      return reply.status(known.status).type('application/json').send(toErrorResponse(known));
    }
    request.log.error({ err: error }, 'unexpected error');
    const internal = new AuthError('INTERNAL', 'An unexpected error occurred.');
    return reply.status(500).type('application/json').send(toErrorResponse(internal));
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const error = new AuthError('ROUTE_NOT_FOUND', `Route ${path} doesn't exist.`);
    return reply.status(404).type('application/json').send(toErrorResponse(error));
  });
}
