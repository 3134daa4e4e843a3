import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { Caller } from '../caller.js';
import { AuthError, forbidden, invalidCredentials } from '../errors/auth-error.js';

/**
 * Who may call a route. Every route declares one in its `config.access`; a route without one stops the server
 * from starting, so a new route cannot ship unguarded by omission.
 * - `public`: anyone, no credential needed.
 * - `signed-in`: any valid credential of an active account; the route acts on the caller's own account.
 * - `{ permission }`: a valid credential whose user currently holds the permission (read fresh, not from the
 *   token, so a demotion or suspension takes effect at once on admin routes).
 */
export type RouteAccess = 'public' | 'signed-in' | { permission: string };

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
    /** Restricted token scopes (Caller.scope) this route admits besides full tokens; none by default. */
    scopes?: readonly string[];
    /**
     * `refused`: API keys, and tokens obtained with one, may not call the route: it manages credentials (keys,
     * sessions, impersonation), and a leaked key must not be able to mint more credentials or lock its owner out.
     */
    apiKeys?: 'refused';
  }
}

export interface DeclaredRoute {
  method: string;
  /** In Fastify's form, e.g. `/users/:id`. */
  url: string;
  access: RouteAccess;
  /** `refused` when API keys (and tokens obtained with one) may not call the route. */
  apiKeys: 'refused' | 'allowed';
}

export interface AccessControlOptions {
  requireCaller: onRequestAsyncHookHandler;
  /** Throws the registry error when the caller's account is gone, suspended or otherwise not active. */
  ensureActive(caller: Caller, request: FastifyRequest): Promise<void>;
  /** Throws the registry error when the caller's user may not use `permission` (or is no longer active). */
  authorize(caller: Caller, permission: string, request: FastifyRequest): Promise<void>;
}

/** Installs the access check on every route registered after this call, and answers the table of declarations. */
export function registerAccessControl(app: FastifyInstance, options: AccessControlOptions): DeclaredRoute[] {
  const declared: DeclaredRoute[] = [];
  const { requireCaller, ensureActive, authorize } = options;
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.every((method) => method === 'HEAD' || method === 'OPTIONS')) return;
    const access = route.config?.access;
    if (access === undefined) {
      throw new Error(`${methods.join(',')} ${route.url} declares no access (config.access)`);
    }
    const apiKeys = route.config?.apiKeys === 'refused' ? 'refused' : 'allowed';
    for (const method of methods) declared.push({ method, url: route.url, access, apiKeys });
    if (access === 'public') return;
    // onRequest: before the body is read or validated, so an anonymous caller learns nothing from validation.
    const scopes = route.config?.scopes ?? [];
    const permission = typeof access === 'object' ? access.permission : null;
    const refuseApiKeys = route.config?.apiKeys === 'refused';
    // One hook for every check, in this order: one hook call and one promise per request instead of one each.
    const guard: onRequestAsyncHookHandler = async function guard(request, reply) {
      await requireCaller.call(this, request, reply);
      const { caller } = request;
      if (!caller) throw invalidCredentials();
      // A restricted token (e.g. the MFA setup token) reaches only the routes that name its scope.
      if (caller.scope !== undefined && !scopes.includes(caller.scope)) {
        throw forbidden(`This token only admits the routes of its scope (${caller.scope}).`);
      }
      if (permission === null) await ensureActive(caller, request);
      else await authorize(caller, permission, request);
      if (refuseApiKeys && caller.apiKey) {
        throw new AuthError(
          'API_KEY_NOT_ALLOWED',
          'This needs an interactive sign-in; API keys cannot manage credentials.',
        );
      }
    };
    const existing = route.onRequest === undefined ? [] : [route.onRequest].flat();
    route.onRequest = [guard, ...existing] as typeof route.onRequest;
    if (route.schema) {
      const note =
        typeof access === 'object'
          ? `Requires the permission \`${access.permission}\`.`
          : 'Requires a signed-in caller.';
      route.schema.description = route.schema.description ? `${route.schema.description}\n\n${note}` : note;
      route.schema.security = [{ bearer: [] }, { sessionCookie: [] }, { apiKey: [] }];
    }
  });
  return declared;
}
