import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  AuthResult,
  CreateProviderBody,
  Data,
  Identity,
  LinkIdentityAnswer,
  LinkIdentityBody,
  OAuthStartQuery,
  ProviderConfig,
  ProviderParams,
  UpdateProviderBody,
} from '@gatehouse/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Caller } from '../../caller.js';
import { AuthError, invalidCredentials } from '../../errors/auth-error.js';
import { requestMeta } from '../../http/request-meta.js';
import { sendTokens } from '../auth/index.js';
import type { AdminOutcome, ProviderAdmin } from './admin.js';
import { FLOW_COOKIE, flowCookiePath } from './flow-cookie.js';
import type { OAuthService } from './service.js';

export interface OAuthRoutesOptions {
  oauth: OAuthService;
  admin: ProviderAdmin;
  secureCookies: boolean;
  /**
   * The per-IP rule of the public POST /auth/* routes (GATEHOUSE_RATE_LIMIT_IP), applied to the start too: it is
   * a GET, but every start writes a flow row.
   */
  startRateLimit: { max: number; window: number } | null;
}

function callerOf(request: { caller: Caller | null }): Caller {
  if (!request.caller) throw invalidCredentials();
  return request.caller;
}

function unwrap<T>(outcome: AdminOutcome<T>): T {
  if (outcome.ok) return outcome.value;
  throw new AuthError(outcome.code, outcome.message);
}

/** `redirect` with `reason=<CODE>` (and any extra parameters) added, for a failure the browser is sent back with. */
function withParameters(redirect: string, parameters: Record<string, string>): string {
  const url = new URL(redirect);
  for (const [key, value] of Object.entries(parameters)) url.searchParams.set(key, value);
  return url.toString();
}

/** The name Apple posts once, as JSON in the form's `user` field: `{"name":{"firstName":..,"lastName":..}}`. */
function appleName(form: string): { firstName: string | null; lastName: string | null } | null {
  const user = new URLSearchParams(form).get('user');
  if (!user || user.length > 2000) return null;
  try {
    const name = (JSON.parse(user) as { name?: { firstName?: unknown; lastName?: unknown } }).name;
    const text = (value: unknown) =>
      typeof value === 'string' && value.trim() !== '' ? value.trim().slice(0, 100) : null;
    return name ? { firstName: text(name.firstName), lastName: text(name.lastName) } : null;
  } catch {
    return null;
  }
}

const tags = ['oauth'];
const read = { access: { permission: 'providers:read' } } as const;
const write = { access: { permission: 'providers:write' } } as const;

/**
 * Provider sign-in (start and callback), the caller's linked identities, and the admin API for providers.
 * `GET /auth` (the public provider list) stays with the other auth routes.
 */
export async function oauthRoutes(app: FastifyInstance, options: OAuthRoutesOptions): Promise<void> {
  const { oauth, admin, secureCookies, startRateLimit } = options;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  // A provider that answers with a cross-site form POST (Apple) only gets the cookie back with SameSite=None,
  // which browsers accept only on Secure cookies; on an http public URL (development) it stays Lax.
  const flowCookie = (provider: string, formPost = false) => ({
    path: flowCookiePath(provider),
    httpOnly: true,
    sameSite: formPost && secureCookies ? ('none' as const) : ('lax' as const),
    secure: secureCookies,
  });
  // form_post callbacks arrive as application/x-www-form-urlencoded; kept as text for openid-client to read.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, body);
  });

  r.get(
    '/auth/login/:provider',
    {
      config: {
        access: 'public',
        ...(startRateLimit ? { rateLimit: { max: startRateLimit.max, timeWindow: startRateLimit.window } } : {}),
      },
      schema: {
        tags,
        summary: 'Start signing in with a provider (302 to the provider)',
        description:
          'Keeps state, nonce and PKCE verifier in a sealed, HttpOnly cookie scoped to the callback. `redirect` must be a relative path, on the public URL, or in GATEHOUSE_REDIRECT_ALLOW_LIST (else 400).',
        params: ProviderParams,
        querystring: OAuthStartQuery,
      },
    },
    async (request, reply) => {
      const { provider } = request.params;
      const started = await oauth.start(provider, {
        ...(request.query.redirect !== undefined ? { redirect: request.query.redirect } : {}),
        ...(request.query.link !== undefined ? { linkTicket: request.query.link } : {}),
      });
      if (!started.ok) throw new AuthError(started.code, started.message);
      reply.setCookie(FLOW_COOKIE, started.cookie, {
        ...flowCookie(provider, started.formPost),
        maxAge: started.maxAge,
      });
      return reply.redirect(started.url, 302);
    },
  );

  const finish = async (
    provider: string,
    request: FastifyRequest,
    reply: FastifyReply,
    callback: URL | Request,
    nameHint: { firstName: string | null; lastName: string | null } | null = null,
  ) => {
    const result = await oauth.finish(provider, {
      callback,
      cookie: request.cookies[FLOW_COOKIE],
      meta: requestMeta(request),
      nameHint,
    });
    if (request.cookies[FLOW_COOKIE] !== undefined) reply.clearCookie(FLOW_COOKIE, flowCookie(provider));
    if (!result.ok) {
      if (result.redirect) return reply.redirect(withParameters(result.redirect, { reason: result.code }), 302);
      throw new AuthError(result.code, result.message);
    }
    if (result.kind === 'linked') {
      if (result.redirect) return reply.redirect(result.redirect, 302);
      return { data: result.identity };
    }
    if (result.kind === 'mfa_required') {
      if (result.redirect) {
        const next = withParameters(result.redirect, { reason: 'INVALID_OTP', mfa_token: result.mfaToken });
        return reply.redirect(next, 302);
      }
      throw new AuthError('INVALID_OTP', 'A second factor is required.', { extensions: result.challenge });
    }
    const body = sendTokens(reply, result.issued, secureCookies);
    if (result.redirect) return reply.redirect(result.redirect, 302);
    return body;
  };
  const callbackSchema = {
    tags,
    params: ProviderParams,
    response: { 200: Data(Type.Union([AuthResult, Identity])) },
  };

  r.get(
    '/auth/login/:provider/callback',
    {
      config: { access: 'public' },
      schema: {
        ...callbackSchema,
        summary: "Finish signing in with a provider: the provider's redirect lands here",
        description:
          "Signs in (or links, for a link flow) and redirects to the flow's `redirect` with the tokens in a cookie per the provider's mode, or to `redirect?reason=<CODE>` on failure. Without a `redirect`, answers like POST /auth/login in the provider's mode.",
      },
    },
    async (request, reply) => {
      const callback = new URL(oauth.redirectUri(request.params.provider));
      callback.search = new URL(request.url, 'http://callback.invalid').search;
      return finish(request.params.provider, request, reply, callback);
    },
  );

  r.post(
    '/auth/login/:provider/callback',
    {
      config: { access: 'public' },
      schema: {
        ...callbackSchema,
        summary: 'Finish signing in with a provider that answers with a form POST (response_mode=form_post, Apple)',
      },
    },
    async (request, reply) => {
      const form = typeof request.body === 'string' ? request.body : '';
      const callback = new Request(oauth.redirectUri(request.params.provider), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form,
      });
      return finish(request.params.provider, request, reply, callback, appleName(form));
    },
  );

  r.get(
    '/users/me/identities',
    {
      config: { access: 'signed-in' },
      schema: { tags, summary: 'Providers linked to my account', response: { 200: Data(Type.Array(Identity)) } },
    },
    async (request) => ({ data: await oauth.identities(callerOf(request)) }),
  );

  r.post(
    '/users/me/identities/:provider',
    {
      config: { access: 'signed-in', apiKeys: 'refused' },
      schema: {
        tags,
        summary: 'Start linking a provider to my account',
        description:
          'Answers a URL to open in the browser (single use, valid for a few minutes); it runs the provider flow and links the provider account to the caller.',
        params: ProviderParams,
        body: LinkIdentityBody,
        response: { 200: Data(LinkIdentityAnswer) },
      },
    },
    async (request) => {
      const ticket = await oauth.linkTicket(callerOf(request), request.params.provider, request.body.redirect);
      if (!ticket.ok) throw new AuthError(ticket.code, ticket.message);
      return { data: { url: ticket.url, expires: ticket.expires } };
    },
  );

  r.delete(
    '/users/me/identities/:provider',
    {
      config: { access: 'signed-in', apiKeys: 'refused' },
      schema: {
        tags,
        summary: 'Unlink a provider from my account',
        description: 'Refused with LAST_SIGN_IN_METHOD when the account would have no way to sign in.',
        params: ProviderParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const unlinked = await oauth.unlink(callerOf(request), request.params.provider, requestMeta(request));
      if (!unlinked.ok) throw new AuthError(unlinked.code, unlinked.message);
      return reply.status(204).send(null);
    },
  );

  r.get(
    '/providers',
    {
      config: read,
      schema: {
        tags,
        summary: 'Sign-in providers (never their secrets)',
        response: { 200: Data(Type.Array(ProviderConfig)) },
      },
    },
    async (request) => ({ data: await admin.list(callerOf(request).projectId) }),
  );

  r.post(
    '/providers',
    {
      config: write,
      schema: {
        tags,
        summary: 'Add a sign-in provider; its client secret is stored encrypted',
        body: CreateProviderBody,
        response: { 201: Data(ProviderConfig) },
      },
    },
    async (request, reply) => {
      const created = unwrap(await admin.create(callerOf(request), request.body, requestMeta(request)));
      return reply.status(201).send({ data: created });
    },
  );

  r.get(
    '/providers/:provider',
    {
      config: read,
      schema: {
        tags,
        summary: 'One sign-in provider',
        params: ProviderParams,
        response: { 200: Data(ProviderConfig) },
      },
    },
    async (request) => {
      const found = await admin.get(callerOf(request).projectId, request.params.provider);
      if (!found) throw new AuthError('RECORD_NOT_FOUND', 'Provider not found.');
      return { data: found };
    },
  );

  r.patch(
    '/providers/:provider',
    {
      config: write,
      schema: {
        tags,
        summary: "Change a provider's settings or replace its client secret",
        params: ProviderParams,
        body: UpdateProviderBody,
        response: { 200: Data(ProviderConfig) },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      return { data: unwrap(await admin.update(caller, request.params.provider, request.body, requestMeta(request))) };
    },
  );

  r.delete(
    '/providers/:provider',
    {
      config: write,
      schema: { tags, summary: 'Remove a sign-in provider', params: ProviderParams, response: { 204: Type.Null() } },
    },
    async (request, reply) => {
      unwrap(await admin.remove(callerOf(request), request.params.provider, requestMeta(request)));
      return reply.status(204).send(null);
    },
  );
}
