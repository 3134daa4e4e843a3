import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  ActivateBody,
  AuthResult,
  CodeCheckBody,
  CodeGenerateBody,
  CodeLoginBody,
  Data,
  MagicLinkBody,
  MagicLinkResult,
  MagicLinkVerifyBody,
  PhoneBody,
  PhoneVerifyBody,
  User,
} from '@gatehouse/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { BackgroundTasks } from '../../background.js';
import type { UserProfile } from '../../db/types.js';
import { AuthError, invalidCredentials, invalidPayload } from '../../errors/auth-error.js';
import { requestMeta as meta } from '../../http/request-meta.js';
import { sendTokens } from '../auth/index.js';
import { toPublicUser } from '../users/index.js';
import { type Identifier, type PasswordlessService, parseIdentifier, type SignInFailure } from './service.js';

export interface PasswordlessRoutesOptions {
  passwordless: PasswordlessService;
  /** Runs the requests' lookups and sends after the answer, so its timing does not depend on the account. */
  background: BackgroundTasks;
  secureCookies: boolean;
  originCheck(request: FastifyRequest): void;
}

const NoContent = { 204: Type.Null() };

/** The registry error for a code that did not work. */
function codeError(reason: SignInFailure | 'signup_closed' | 'taken'): AuthError {
  switch (reason) {
    case 'expired':
      return new AuthError('TOKEN_EXPIRED', 'The code has expired; request a new one.');
    case 'too_many_attempts':
      return new AuthError('TOO_MANY_ATTEMPTS', 'The code has had too many tries; request a new one.');
    case 'suspended':
      return new AuthError('USER_SUSPENDED', 'The account is suspended.');
    case 'not_active':
      return invalidCredentials();
    case 'signup_closed':
      return new AuthError('FORBIDDEN', 'Sign-up is closed for this project.');
    case 'taken':
      return new AuthError('RECORD_NOT_UNIQUE', 'The phone number belongs to another account.');
    default:
      return new AuthError('INVALID_OTP', 'Invalid or expired code.', { detail: `code ${reason}` });
  }
}

/** The registry error for a magic link that did not work. */
function linkError(reason: SignInFailure | 'signup_closed'): AuthError {
  if (reason === 'unknown' || reason === 'used' || reason === 'too_many_attempts') {
    return new AuthError('INVALID_TOKEN', 'Invalid token.', { detail: `magic link ${reason}` });
  }
  if (reason === 'expired') return new AuthError('TOKEN_EXPIRED', 'The link has expired; request a new one.');
  return codeError(reason);
}

function identifierOf(raw: string): Identifier {
  const identifier = parseIdentifier(raw);
  if (!identifier) throw invalidPayload('"identifier" must be an e-mail address or an E.164 phone number.');
  return identifier;
}

/** Magic links, one-time codes and the signed-in user's phone number (docs/passwordless.md). */
export async function passwordlessRoutes(app: FastifyInstance, options: PasswordlessRoutesOptions): Promise<void> {
  const { passwordless, background, secureCookies, originCheck } = options;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  function accountOf(request: FastifyRequest): UserProfile {
    if (!request.account) throw invalidCredentials();
    return request.account;
  }

  r.post(
    '/auth/magic-link',
    {
      config: { access: 'public' },
      schema: {
        tags: ['passwordless'],
        summary: 'Send a sign-in link by e-mail',
        description:
          'Always 204, whether or not the e-mail has an account. `redirect` (given back at verify) and `url` (where the link points) must be allow-listed.',
        body: MagicLinkBody,
        response: NoContent,
      },
    },
    async (request, reply) => {
      const refused = passwordless.checkMagicLinkRequest(request.body);
      if (refused) throw invalidPayload(`"${refused}" is not an allowed URL.`);
      const { body } = request;
      const requestMeta = meta(request);
      background.run('magic link request', () => passwordless.requestMagicLink(body, requestMeta));
      return reply.status(204).send(null);
    },
  );

  r.post(
    '/auth/magic-link/verify',
    {
      config: { access: 'public' },
      schema: {
        tags: ['passwordless'],
        summary: 'Use a magic link token and sign in (as /auth/login)',
        body: MagicLinkVerifyBody,
        response: { 200: Data(MagicLinkResult) },
      },
    },
    async (request, reply) => {
      const mode = request.body.mode ?? 'json';
      if (mode !== 'json') originCheck(request);
      const result = await passwordless.verifyMagicLink(request.body.token, mode, meta(request));
      if (!result.ok) throw linkError(result.reason);
      const { data } = sendTokens(reply, result.issued, secureCookies);
      return { data: result.redirect ? { ...data, redirect: result.redirect } : data };
    },
  );

  r.post(
    '/auth/code/generate',
    {
      config: { access: 'public' },
      schema: {
        tags: ['passwordless'],
        summary: 'Send a one-time code by e-mail, SMS or push',
        description:
          'Always 204, whether or not the identifier has an account; within the resend cool-down nothing new is sent.',
        body: CodeGenerateBody,
        response: NoContent,
      },
    },
    async (request, reply) => {
      const identifier = identifierOf(request.body.identifier);
      if (request.body.purpose === 'activate' && request.body.channel === 'push') {
        throw invalidPayload('Activation codes go by e-mail or SMS: a push message confirms no address.');
      }
      const { body } = request;
      const requestMeta = meta(request);
      background.run('code request', () => passwordless.generateCode(body, identifier, requestMeta));
      return reply.status(204).send(null);
    },
  );

  r.post(
    '/auth/code/check',
    {
      config: { access: 'public' },
      schema: {
        tags: ['passwordless'],
        summary: 'Check a code without using it up (counts as one of its tries)',
        body: CodeCheckBody,
        response: NoContent,
      },
    },
    async (request, reply) => {
      const result = await passwordless.checkCode(request.body, identifierOf(request.body.identifier));
      if (!result.ok) throw codeError(result.reason);
      return reply.status(204).send(null);
    },
  );

  r.post(
    '/auth/activate',
    {
      config: { access: 'public' },
      schema: {
        tags: ['passwordless'],
        summary: 'Use an activation code: the address it was sent to is confirmed',
        body: ActivateBody,
        response: NoContent,
      },
    },
    async (request, reply) => {
      const identifier = identifierOf(request.body.identifier);
      const result = await passwordless.activate(request.body, identifier, meta(request));
      if (!result.ok) throw codeError(result.reason);
      return reply.status(204).send(null);
    },
  );

  r.post(
    '/auth/code/login',
    {
      config: { access: 'public' },
      schema: {
        tags: ['passwordless'],
        summary: 'Use a sign-in code and sign in (as /auth/login)',
        body: CodeLoginBody,
        response: { 200: Data(AuthResult) },
      },
    },
    async (request, reply) => {
      const identifier = identifierOf(request.body.identifier);
      if ((request.body.mode ?? 'json') !== 'json') originCheck(request);
      const result = await passwordless.loginWithCode(request.body, identifier, meta(request));
      if (!result.ok) throw codeError(result.reason);
      return sendTokens(reply, result.issued, secureCookies);
    },
  );

  r.post(
    '/users/me/phone',
    {
      config: { access: 'signed-in', apiKeys: 'refused' },
      schema: {
        tags: ['passwordless'],
        summary: 'Send a code to a phone number to add it to the account',
        description:
          'Always 204; the number becomes the account’s once the code comes back (POST /users/me/phone/verify).',
        body: PhoneBody,
        response: NoContent,
      },
    },
    async (request, reply) => {
      await passwordless.requestPhone(accountOf(request), request.body.phone);
      return reply.status(204).send(null);
    },
  );

  r.post(
    '/users/me/phone/verify',
    {
      config: { access: 'signed-in', apiKeys: 'refused' },
      schema: {
        tags: ['passwordless'],
        summary: 'Confirm the phone number with the code sent to it',
        body: PhoneVerifyBody,
        response: { 200: Data(User) },
      },
    },
    async (request) => {
      const user = accountOf(request);
      const result = await passwordless.verifyPhone(user, request.body.code, meta(request));
      if (!result.ok) throw codeError(result.reason);
      return { data: toPublicUser(result.user) };
    },
  );

  r.delete(
    '/users/me/phone',
    {
      config: { access: 'signed-in', apiKeys: 'refused' },
      schema: { tags: ['passwordless'], summary: 'Remove the phone number from the account', response: NoContent },
    },
    async (request, reply) => {
      await passwordless.removePhone(accountOf(request), meta(request));
      return reply.status(204).send(null);
    },
  );
}
