import type { GatehouseError } from '../errors.js';
import { type AccessTokenClaims, hasPermission, type Verifier } from './verifier.js';

/**
 * Middleware for Fastify, Express (or plain `node:http`) and Hono. They are typed by the shape they use rather than
 * by importing the frameworks, so none of them is a dependency. Each one reads `Authorization: Bearer`, verifies
 * the token, optionally checks a permission, and either hands the claims on or answers with a Gatehouse error
 * body: 401 (`INVALID_CREDENTIALS`, `TOKEN_EXPIRED`, with `WWW-Authenticate`), 403 (`INVALID_TOKEN`, `FORBIDDEN`)
 * or 503 when the keys cannot be fetched.
 */
export interface GuardOptions {
  /** A permission the token must grant (e.g. `reports:read`). */
  permission?: string;
}

interface Refusal {
  status: number;
  headers: Record<string, string>;
  body: { errors: { message: string; extensions: { code: string } }[] };
}

type Outcome = { ok: true; claims: AccessTokenClaims } | { ok: false; refusal: Refusal };

function refusal(error: GatehouseError | { code: 'FORBIDDEN'; status: 403; message: string }): Refusal {
  const headers: Record<string, string> = {};
  if (error.status === 401) {
    headers['www-authenticate'] =
      error.code === 'TOKEN_EXPIRED' ? 'Bearer error="invalid_token", error_description="expired"' : 'Bearer';
  }
  return {
    status: error.status,
    headers,
    body: { errors: [{ message: error.message, extensions: { code: error.code } }] },
  };
}

async function guard(
  verifier: Verifier,
  authorization: string | string[] | null | undefined,
  options: GuardOptions,
): Promise<Outcome> {
  const result = await verifier.verify(verifier.tokenFrom(authorization));
  if (!result.ok) return { ok: false, refusal: refusal(result.error) };
  if (options.permission && !hasPermission(result.claims, options.permission)) {
    const message = `The permission ${options.permission} is required.`;
    return { ok: false, refusal: refusal({ code: 'FORBIDDEN', status: 403, message }) };
  }
  return { ok: true, claims: result.claims };
}

// ---- Fastify --------------------------------------------------------------------------------------------------

export interface FastifyRequestLike {
  headers: { authorization?: string | string[] | undefined };
  gatehouse?: AccessTokenClaims | null;
}
export interface FastifyReplyLike {
  code(status: number): FastifyReplyLike;
  headers(values: Record<string, string>): FastifyReplyLike;
  send(payload: unknown): unknown;
}

/**
 * A Fastify `onRequest`/`preHandler` hook: `app.addHook('preHandler', fastifyGuard(verifier))`, then the claims are
 * in `request.gatehouse`. Decorate first (`app.decorateRequest('gatehouse', null)`) to keep request objects fast.
 */
export function fastifyGuard(
  verifier: Verifier,
  options: GuardOptions = {},
): (request: FastifyRequestLike, reply: FastifyReplyLike) => Promise<void> {
  return async (request, reply) => {
    const outcome = await guard(verifier, request.headers.authorization, options);
    if (outcome.ok) {
      request.gatehouse = outcome.claims;
      return;
    }
    await reply.code(outcome.refusal.status).headers(outcome.refusal.headers).send(outcome.refusal.body);
  };
}

// ---- Express and node:http --------------------------------------------------------------------------------------

export interface NodeRequestLike {
  headers: { authorization?: string | string[] | undefined };
  auth?: AccessTokenClaims;
}
export interface NodeResponseLike {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body: string): unknown;
}

/**
 * Express middleware (`app.use(expressGuard(verifier))`), also usable around a plain `node:http` handler: the
 * claims go to `req.auth` (as express-jwt does), and `next()` is called; a refusal is answered and ends there.
 */
export function expressGuard(
  verifier: Verifier,
  options: GuardOptions = {},
): (req: NodeRequestLike, res: NodeResponseLike, next: (error?: unknown) => void) => void {
  return (req, res, next) => {
    guard(verifier, req.headers.authorization, options).then((outcome) => {
      if (outcome.ok) {
        req.auth = outcome.claims;
        next();
        return;
      }
      res.statusCode = outcome.refusal.status;
      res.setHeader('content-type', 'application/json; charset=utf-8');
      for (const [name, value] of Object.entries(outcome.refusal.headers)) res.setHeader(name, value);
      res.end(JSON.stringify(outcome.refusal.body));
    }, next);
  };
}

// ---- Hono -----------------------------------------------------------------------------------------------------

export interface HonoContextLike {
  req: { header(name: string): string | undefined };
  set(key: 'gatehouse', value: AccessTokenClaims): void;
  json(body: unknown, status: never, headers?: Record<string, string>): Response;
}

/** Hono middleware: `app.use(honoGuard(verifier))`, then `c.get('gatehouse')` holds the claims. */
export function honoGuard(
  verifier: Verifier,
  options: GuardOptions = {},
): (c: HonoContextLike, next: () => Promise<void>) => Promise<Response | undefined> {
  return async (c, next) => {
    const outcome = await guard(verifier, c.req.header('authorization'), options);
    if (!outcome.ok) return c.json(outcome.refusal.body, outcome.refusal.status as never, outcome.refusal.headers);
    c.set('gatehouse', outcome.claims);
    await next();
    return undefined;
  };
}
