import type { AuthResult } from '@gatehouse/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IssuedTokens } from './service.js';

export const REFRESH_COOKIE = 'gatehouse_refresh_token';
export const SESSION_COOKIE = 'gatehouse_session_token';

export interface AuthReplies {
  /** Shapes issued tokens as the Directus contract does for the mode, setting the mode's cookie. */
  reply(replyObject: FastifyReply, issued: IssuedTokens): { data: AuthResult };
  clearCookies(replyObject: FastifyReply, request: FastifyRequest): void;
}

/**
 * The one place that turns issued tokens into an answer, so every flow that signs someone in (password, magic
 * link, code) answers with the same body and the same cookies.
 */
export function createAuthReplies(options: { secureCookies: boolean }): AuthReplies {
  /** The refresh cookie is scoped to /auth: it is only ever needed to refresh or sign out. */
  const refreshCookie = { path: '/auth', httpOnly: true, sameSite: 'lax' as const, secure: options.secureCookies };
  const sessionCookie = { path: '/', httpOnly: true, sameSite: 'lax' as const, secure: options.secureCookies };

  return {
    reply(replyObject, issued) {
      if (issued.mode === 'json') {
        return {
          data: {
            access_token: issued.token,
            refresh_token: issued.refreshToken ?? undefined,
            expires: issued.expires,
          },
        };
      }
      if (issued.mode === 'cookie') {
        if (issued.refreshToken) {
          replyObject.setCookie(REFRESH_COOKIE, issued.refreshToken, {
            ...refreshCookie,
            maxAge: Math.floor(issued.refreshExpires / 1000),
          });
        }
        return { data: { access_token: issued.token, expires: issued.expires } };
      }
      replyObject.setCookie(SESSION_COOKIE, issued.token, {
        ...sessionCookie,
        maxAge: Math.floor(issued.expires / 1000),
      });
      return { data: { expires: issued.expires } };
    },
    clearCookies(replyObject, request) {
      if (request.cookies[REFRESH_COOKIE] !== undefined) replyObject.clearCookie(REFRESH_COOKIE, refreshCookie);
      if (request.cookies[SESSION_COOKIE] !== undefined) replyObject.clearCookie(SESSION_COOKIE, sessionCookie);
    },
  };
}
