import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  type AuthMode,
  AuthResult,
  Data,
  LoginBody,
  LogoutBody,
  ProviderList,
  RefreshBody,
  SignupBody,
} from '@gatehouse/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Credential } from '../../caller.js';
import { AuthError, invalidCredentials, invalidPayload } from '../../errors/auth-error.js';
import type { LoginThrottle } from '../../http/rate-limit.js';
import { requestMeta as meta } from '../../http/request-meta.js';
import { normalizeEmail } from '../users/index.js';
import { clearAuthCookies, REFRESH_COOKIE, SESSION_COOKIE, sendTokens } from './reply.js';
import type { AuthService, IssuedTokens } from './service.js';

export interface AuthRoutesOptions {
  auth: AuthService;
  originCheck(request: FastifyRequest): void;
  /** The request's credential as the authenticator reads it (header, query or session cookie). */
  credentialOf(request: FastifyRequest): Credential | null;
  secureCookies: boolean;
  /** Counts password sign-in attempts per account (GATEHOUSE_RATE_LIMIT_LOGIN). */
  loginThrottle: LoginThrottle;
}

const NoContent = { 204: Type.Null() };

/** Refresh and logout may come with no body at all (cookie modes); validate that as an empty object. */
async function emptyBodyAsObject(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
}

/** Sign-up, sign-in, refresh and sign-out: the Directus auth contract (DESIGN.md §2). */
export async function authRoutes(app: FastifyInstance, options: AuthRoutesOptions): Promise<void> {
  const { auth, originCheck, credentialOf, secureCookies, loginThrottle } = options;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  const reply = (replyObject: FastifyReply, issued: IssuedTokens) => sendTokens(replyObject, issued, secureCookies);
  const clearCookies = (replyObject: FastifyReply, request: FastifyRequest) =>
    clearAuthCookies(replyObject, request, secureCookies);

  r.post(
    '/auth/signup',
    {
      config: { access: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Create an account with e-mail and password',
        description: 'Always 204, whether or not the e-mail already has an account.',
        body: SignupBody,
        response: NoContent,
      },
    },
    async (request, replyObject) => {
      await auth.signup(request.body, meta(request));
      return replyObject.status(204).send(null);
    },
  );

  r.post(
    '/auth/login',
    {
      config: { access: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Sign in with e-mail and password',
        body: LoginBody,
        response: { 200: Data(AuthResult) },
      },
    },
    async (request, replyObject) => {
      const mode: AuthMode = request.body.mode ?? 'json';
      if (mode !== 'json') originCheck(request);
      await loginThrottle.attempt(request, replyObject, normalizeEmail(request.body.email));
      return reply(replyObject, await auth.login(request.body, mode, meta(request)));
    },
  );

  r.post(
    '/auth/refresh',
    {
      config: { access: 'public' },
      preValidation: emptyBodyAsObject,
      schema: {
        tags: ['auth'],
        summary: 'Exchange a refresh token (body or cookie) or a session cookie for new tokens',
        description:
          'The mode defaults to json when the body carries a refresh_token and to cookie otherwise. Rotates the refresh token.',
        body: RefreshBody,
        response: { 200: Data(AuthResult) },
      },
    },
    async (request, replyObject) => {
      const body = request.body;
      const mode: AuthMode = body.mode ?? (body.refresh_token ? 'json' : 'cookie');
      const cookieToken = request.cookies[REFRESH_COOKIE];
      const sessionToken = request.cookies[SESSION_COOKIE];
      const refreshToken = body.refresh_token ?? cookieToken;
      if (!refreshToken && !(mode === 'session' && sessionToken)) {
        throw invalidPayload('The refresh token is required in either the payload or cookie.');
      }
      // A token from a cookie, or an answer that sets one, is a cookie-authenticated write.
      if (mode !== 'json' || !body.refresh_token) originCheck(request);
      if (refreshToken) return reply(replyObject, await auth.refresh(refreshToken, mode, meta(request)));
      return reply(replyObject, await auth.refreshSessionToken(sessionToken as string));
    },
  );

  r.post(
    '/auth/logout',
    {
      config: { access: 'public' },
      preValidation: emptyBodyAsObject,
      schema: {
        tags: ['auth'],
        summary: 'End the current session',
        description:
          'The session is named by a refresh token (body or cookie), the session cookie, or the bearer token.',
        body: LogoutBody,
        response: NoContent,
      },
    },
    async (request, replyObject) => {
      const body = request.body;
      const cookieToken = request.cookies[REFRESH_COOKIE];
      const sessionToken = request.cookies[SESSION_COOKIE];
      const bearer = credentialOf(request);
      let sessionId: string | null = null;
      if (body.refresh_token) {
        sessionId = (await auth.sessionOfRefreshToken(body.refresh_token)) ?? null;
      } else if (cookieToken || sessionToken) {
        originCheck(request);
        if (cookieToken) sessionId = (await auth.sessionOfRefreshToken(cookieToken)) ?? null;
        if (!sessionId && sessionToken) sessionId = await auth.sessionOfToken(sessionToken, 'session');
      } else if (bearer?.source === 'authorization' || bearer?.source === 'query') {
        sessionId = await auth.sessionOfToken(bearer.token, 'access');
        if (!sessionId) throw new AuthError('INVALID_TOKEN', 'Invalid token.');
      } else {
        throw invalidPayload('The refresh token is required in either the payload or cookie.');
      }
      if (sessionId) await auth.logout(sessionId, meta(request));
      clearCookies(replyObject, request);
      return replyObject.status(204).send(null);
    },
  );

  r.post(
    '/auth/logout/all',
    {
      config: { access: 'signed-in', apiKeys: 'refused' },
      schema: { tags: ['auth'], summary: 'End every session of the signed-in user', response: NoContent },
    },
    async (request, replyObject) => {
      if (!request.caller) throw invalidCredentials();
      await auth.logoutEverywhere(request.caller, meta(request));
      clearCookies(replyObject, request);
      return replyObject.status(204).send(null);
    },
  );

  r.get(
    '/auth',
    {
      config: { access: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Enabled sign-in providers',
        querystring: Type.Object({ sessionOnly: Type.Optional(Type.String()) }, { additionalProperties: true }),
        response: { 200: ProviderList },
      },
    },
    async () => ({ data: [], disableDefault: false }),
  );
}
