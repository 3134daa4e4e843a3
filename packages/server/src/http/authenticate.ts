import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { Caller, Credential } from '../caller.js';
import { AuthError } from '../errors/auth-error.js';
import { extractCredential } from './credentials.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
}

export interface AuthenticateOptions {
  /** Checks a credential and answers who it belongs to, or throws an AuthError. Supplied by the auth feature. */
  resolve(credential: Credential, request: FastifyRequest): Promise<Caller>;
  sessionCookieName: string;
  originCheck(request: FastifyRequest): void;
}

export interface Authenticators {
  /** Rejects the request with 401 when no valid credential is present. */
  requireCaller: onRequestAsyncHookHandler;
  /** Sets `request.caller` when a valid credential is present; a present but invalid one is still refused. */
  optionalCaller: onRequestAsyncHookHandler;
}

export function createAuthenticators(options: AuthenticateOptions): Authenticators {
  async function establish(request: FastifyRequest): Promise<Caller | null> {
    const credential = extractCredential(request, options.sessionCookieName);
    if (!credential) return null;
    if (credential.source === 'session-cookie') options.originCheck(request);
    const caller = await options.resolve(credential, request);
    request.caller = caller;
    return caller;
  }
  return {
    async requireCaller(request: FastifyRequest, _reply: FastifyReply) {
      const caller = await establish(request);
      if (!caller) throw new AuthError('INVALID_CREDENTIALS', 'Authentication is required.');
    },
    async optionalCaller(request: FastifyRequest, _reply: FastifyReply) {
      await establish(request);
    },
  };
}
