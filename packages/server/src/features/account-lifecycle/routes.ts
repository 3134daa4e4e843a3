import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  DeleteMeBody,
  EmailVerificationRequestBody,
  EmailVerifyBody,
  PasswordChangeBody,
  PasswordRequestBody,
  PasswordResetBody,
} from '@gatehouse/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Caller } from '../../caller.js';
import { AuthError, forbidden, invalidCredentials, invalidPayload } from '../../errors/auth-error.js';
import type { LoginThrottle } from '../../http/rate-limit.js';
import { requestMeta as meta } from '../../http/request-meta.js';
import type { AccountLifecycle } from './service.js';

export interface LifecycleRoutesOptions {
  lifecycle: AccountLifecycle;
  projectId: string;
  /** Sign-in's per-account password rule: checking a password here counts against the same budget. */
  passwordThrottle: LoginThrottle;
}

const NoContent = { 204: Type.Null() };

function callerOf(request: { caller: Caller | null }): Caller {
  if (!request.caller) throw invalidCredentials();
  return request.caller;
}

/** A used, revoked or unknown link is 403 INVALID_TOKEN; an expired one 401 TOKEN_EXPIRED. */
function tokenError(reason: string): AuthError {
  return reason === 'expired'
    ? new AuthError('TOKEN_EXPIRED', 'The link has expired.')
    : new AuthError('INVALID_TOKEN', 'Invalid token.', { detail: `link ${reason}` });
}

/** `DELETE /users/me` may come without a body (an account without a password). */
async function emptyBodyAsObject(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
}

/** E-mail verification, password reset and change, and deleting one's own account. */
export async function lifecycleRoutes(app: FastifyInstance, options: LifecycleRoutesOptions): Promise<void> {
  const { lifecycle, projectId, passwordThrottle } = options;

  /** Counts a password check for the caller's account, before it is made (429 once over the limit). */
  async function countPasswordCheck(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (!request.account) throw invalidCredentials();
    await passwordThrottle.attempt(request, reply, request.account.email);
  }
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    '/auth/email/verify/request',
    {
      config: { access: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Mail a link that verifies the e-mail address of an account',
        description:
          'Always 204: for unknown, unverifiable and already verified addresses too, and within the 60 s resend cool-down (then nothing is sent). `verification_url` must be allow-listed.',
        body: EmailVerificationRequestBody,
        response: NoContent,
      },
    },
    async (request, reply) => {
      const { email, verification_url: verificationUrl } = request.body;
      lifecycle.verification.request(projectId, { email, verificationUrl }, meta(request));
      return reply.status(204).send(null);
    },
  );

  r.post(
    '/auth/email/verify',
    {
      config: { access: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Verify an e-mail address with the token of a mailed link',
        body: EmailVerifyBody,
        response: NoContent,
      },
    },
    async (request, reply) => {
      const result = await lifecycle.verification.verify(request.body.token, meta(request));
      if (!result.ok) throw tokenError(result.reason);
      return reply.status(204).send(null);
    },
  );

  r.post(
    '/auth/password/request',
    {
      config: { access: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Mail a password reset link',
        description: 'Always 204, whether or not the address has an account. `reset_url` must be allow-listed.',
        body: PasswordRequestBody,
        response: NoContent,
      },
    },
    async (request, reply) => {
      const { email, reset_url: resetUrl } = request.body;
      lifecycle.reset.request(projectId, { email, resetUrl }, meta(request));
      return reply.status(204).send(null);
    },
  );

  r.post(
    '/auth/password/reset',
    {
      config: { access: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Set a new password with the token of a reset link; ends every session of the account',
        body: PasswordResetBody,
        response: NoContent,
      },
    },
    async (request, reply) => {
      const result = await lifecycle.reset.reset(request.body, meta(request));
      if (!result.ok) throw tokenError(result.reason);
      return reply.status(204).send(null);
    },
  );

  r.post(
    '/auth/password/change',
    {
      config: { access: 'signed-in', apiKeys: 'refused' },
      schema: {
        tags: ['auth'],
        summary: "Change the signed-in user's password; ends their other sessions",
        body: PasswordChangeBody,
        response: NoContent,
      },
    },
    async (request, reply) => {
      await countPasswordCheck(request, reply);
      const result = await lifecycle.change.change(callerOf(request), request.body, meta(request));
      if (!result.ok) throw invalidCredentials();
      return reply.status(204).send(null);
    },
  );

  r.delete(
    '/users/me',
    {
      config: { access: 'signed-in', apiKeys: 'refused' },
      preValidation: emptyBodyAsObject,
      schema: {
        tags: ['users'],
        summary: "Delete the signed-in user's account",
        description:
          'With `{password}` when the account has one; an account without a password needs a sign-in less than 5 minutes old (else 403 `REAUTHENTICATION_REQUIRED`). The last admin cannot delete themselves (409 `LAST_ADMIN`).',
        body: DeleteMeBody,
        response: NoContent,
      },
    },
    async (request, reply) => {
      if (request.body.password !== undefined) await countPasswordCheck(request, reply);
      const result = await lifecycle.deletion.deleteOwn(callerOf(request), request.body.password, meta(request));
      if (!result.ok) {
        switch (result.reason) {
          case 'password_required':
            throw invalidPayload('The password is required to delete an account that has one.');
          case 'wrong_password':
            throw invalidCredentials();
          case 'reauthenticate':
            throw new AuthError('REAUTHENTICATION_REQUIRED', 'Sign in again to delete your account.');
          case 'impersonating':
            throw forbidden('An impersonation token cannot delete the account; use DELETE /users/:id.');
          case 'last_admin':
            throw new AuthError('LAST_ADMIN', 'You are the last administrator of the project.');
          default:
            throw invalidCredentials();
        }
      }
      return reply.status(204).send(null);
    },
  );
}
