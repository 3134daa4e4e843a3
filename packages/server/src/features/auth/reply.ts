import type { AuthResult } from '@gatehouse/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IssuedTokens } from './service.js';

export const REFRESH_COOKIE = 'gatehouse_refresh_token';
export const SESSION_COOKIE = 'gatehouse_session_token';

/** The refresh cookie is scoped to /auth: it is only ever needed to refresh or sign out. */
const refreshCookie = (secure: boolean) => ({ path: '/auth', httpOnly: true, sameSite: 'lax' as const, secure });
const sessionCookie = (secure: boolean) => ({ path: '/', httpOnly: true, sameSite: 'lax' as const, secure });

/**
 * Shapes issued tokens into the Directus sign-in answer for their mode: both tokens in the body (json), the
 * refresh token in an HttpOnly cookie (cookie), or only a session cookie (session). Every flow that signs
 * someone in answers through this, so the modes behave the same whichever way the user came in.
 */
export function sendTokens(reply: FastifyReply, issued: IssuedTokens, secureCookies: boolean): { data: AuthResult } {
  if (issued.mode === 'json') {
    return {
      data: { access_token: issued.token, refresh_token: issued.refreshToken ?? undefined, expires: issued.expires },
    };
  }
  if (issued.mode === 'cookie') {
    if (issued.refreshToken) {
      reply.setCookie(REFRESH_COOKIE, issued.refreshToken, {
        ...refreshCookie(secureCookies),
        maxAge: Math.floor(issued.refreshExpires / 1000),
      });
    }
    return { data: { access_token: issued.token, expires: issued.expires } };
  }
  reply.setCookie(SESSION_COOKIE, issued.token, {
    ...sessionCookie(secureCookies),
    maxAge: Math.floor(issued.expires / 1000),
  });
  return { data: { expires: issued.expires } };
}

/** Clears whichever sign-in cookies the request carried. */
export function clearAuthCookies(reply: FastifyReply, request: FastifyRequest, secureCookies: boolean): void {
  if (request.cookies[REFRESH_COOKIE] !== undefined) reply.clearCookie(REFRESH_COOKIE, refreshCookie(secureCookies));
  if (request.cookies[SESSION_COOKIE] !== undefined) reply.clearCookie(SESSION_COOKIE, sessionCookie(secureCookies));
}
