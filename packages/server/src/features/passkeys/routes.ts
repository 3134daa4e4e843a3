import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  type AuthMode,
  AuthResult,
  Data,
  Passkey,
  PasskeyCreationOptions,
  PasskeyIdParams,
  PasskeyLoginOptionsBody,
  PasskeyLoginVerifyBody,
  PasskeyRequestOptions,
  RegisterPasskeyBody,
  RenamePasskeyBody,
  UserIdParams,
  UserPasskeyParams,
} from '@gatehouse/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Caller } from '../../caller.js';
import type { PasskeyRow, UserProfile } from '../../db/types.js';
import { AuthError, forbidden, invalidCredentials } from '../../errors/auth-error.js';
import { requestMeta } from '../../http/request-meta.js';
import { type AuthService, sendTokens } from '../auth/index.js';
import { iso } from '../users/index.js';
import type { PasskeyRefusal, PasskeyResult, PasskeyService } from './service.js';

export interface PasskeyRoutesOptions {
  passkeys: PasskeyService;
  auth: AuthService;
  /**
   * For the admin routes: the account of the project that `caller` may administer, or why not (another
   * project's or a missing id: not_found; an account holding permissions the caller lacks: outranked).
   */
  manageableUser(caller: Caller, id: string): Promise<{ ok: true; value: UserProfile } | { ok: false; reason: string }>;
  /** The account of the project with this id, for reading, or null. */
  projectUser(projectId: string, id: string): Promise<UserProfile | null>;
  originCheck(request: FastifyRequest): void;
  secureCookies: boolean;
}

const tags = ['passkeys'];

const invalidPasskey = (detail?: string) =>
  new AuthError('PASSKEY_INVALID', 'The passkey could not be verified.', detail === undefined ? {} : { detail });
/** Registry errors for refusals; the detail (which check failed) only reaches the log. */
const REFUSALS: Record<PasskeyRefusal, (detail?: string) => AuthError> = {
  challenge_unknown: () =>
    new AuthError('PASSKEY_CHALLENGE_INVALID', 'The challenge is unknown or already used; start again.'),
  challenge_used: () =>
    new AuthError('PASSKEY_CHALLENGE_INVALID', 'The challenge is unknown or already used; start again.'),
  challenge_expired: () => new AuthError('PASSKEY_CHALLENGE_EXPIRED', 'The challenge has expired; start again.'),
  unknown_credential: () => invalidPasskey('unknown credential'),
  not_owner: () => invalidPasskey('credential of another account'),
  invalid: invalidPasskey,
  clone_suspected: () => invalidPasskey('signature counter did not increase'),
  // Only said after the passkey proved who is signing in: the account's owner may know its status.
  suspended: () => new AuthError('USER_SUSPENDED', 'The account is suspended.'),
  not_active: invalidCredentials,
  already_registered: () => new AuthError('RECORD_NOT_UNIQUE', 'This passkey is already registered.'),
  not_found: () => new AuthError('RECORD_NOT_FOUND', "The record doesn't exist."),
};

function unwrap<T>(result: PasskeyResult<T>): T {
  if (result.ok) return result.value;
  throw REFUSALS[result.reason](result.detail);
}

/** As `unwrap`, but an attestation that does not verify is a bad request, not a failed sign-in. */
function unwrapRegistration<T>(result: PasskeyResult<T>): T {
  if (!result.ok && result.reason === 'invalid') {
    throw new AuthError(
      'PASSKEY_REGISTRATION_INVALID',
      'The passkey registration could not be verified.',
      result.detail === undefined ? {} : { detail: result.detail },
    );
  }
  return unwrap(result);
}

function toPasskey(row: PasskeyRow): Passkey {
  return {
    id: row.id,
    name: row.name,
    created_at: iso(row.created_at),
    last_used_at: row.last_used_at === null ? null : iso(row.last_used_at),
    backed_up: row.backed_up === 1,
    device_type: row.device_type,
    aaguid: row.aaguid,
    transports: JSON.parse(row.transports) as string[],
  };
}

function callerOf(request: { caller: Caller | null }): Caller {
  if (!request.caller) throw invalidCredentials();
  return request.caller;
}

function accountOf(request: FastifyRequest): UserProfile {
  if (!request.account) throw invalidCredentials();
  return request.account;
}

/** Options may be asked for with no body at all; validate that as an empty object. */
async function emptyBodyAsObject(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
}

/** Passkeys: self-service registration and management, and sign-in (docs/passkeys.md). */
export async function passkeyRoutes(app: FastifyInstance, options: PasskeyRoutesOptions): Promise<void> {
  const { passkeys, auth, originCheck, secureCookies, manageableUser, projectUser } = options;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    '/users/me/passkeys/options',
    {
      config: { access: 'signed-in', apiKeys: 'refused' },
      preValidation: emptyBodyAsObject,
      schema: {
        tags,
        summary: 'Start registering a passkey: creation options for navigator.credentials.create()',
        description: 'The challenge is single-use, valid for 5 minutes and bound to the signed-in user.',
        body: Type.Object({}, { additionalProperties: false }),
        response: { 200: Data(PasskeyCreationOptions) },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      // A passkey is a lasting way in: an admin acting as the user must not be able to leave one behind.
      if (caller.actorId !== null) throw forbidden("You can't register a passkey while impersonating.");
      return { data: await passkeys.registrationOptions(accountOf(request)) };
    },
  );

  r.post(
    '/users/me/passkeys',
    {
      config: { access: 'signed-in', apiKeys: 'refused' },
      schema: {
        tags,
        summary: 'Finish registering a passkey with the browser’s credential',
        description: 'Without a `name`, one is suggested from the authenticator (AAGUID) or the browser’s user agent.',
        body: RegisterPasskeyBody,
        response: { 201: Data(Passkey) },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      if (caller.actorId !== null) throw forbidden("You can't register a passkey while impersonating.");
      const result = await passkeys.register(accountOf(request), {
        credential: request.body.credential,
        ...(request.body.name !== undefined ? { name: request.body.name } : {}),
        actorId: null,
        meta: requestMeta(request),
      });
      return reply.status(201).send({ data: toPasskey(unwrapRegistration(result)) });
    },
  );

  r.get(
    '/users/me/passkeys',
    {
      config: { access: 'signed-in' },
      schema: { tags, summary: 'The signed-in user’s passkeys', response: { 200: Data(Type.Array(Passkey)) } },
    },
    async (request) => ({ data: (await passkeys.list(callerOf(request).userId)).map(toPasskey) }),
  );

  r.patch(
    '/users/me/passkeys/:id',
    {
      config: { access: 'signed-in', apiKeys: 'refused' },
      // Someone else's (or no) passkey answers 404 before the body is validated: the id is no oracle either way.
      preValidation: async (request) => {
        const { id } = request.params as { id: string };
        if (!(await passkeys.find(callerOf(request).userId, id))) throw REFUSALS.not_found();
      },
      schema: {
        tags,
        summary: 'Rename one of the signed-in user’s passkeys',
        params: PasskeyIdParams,
        body: RenamePasskeyBody,
        response: { 200: Data(Passkey) },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const result = await passkeys.rename(caller.userId, request.params.id, {
        name: request.body.name,
        actorId: caller.actorId,
        meta: requestMeta(request),
      });
      return { data: toPasskey(unwrap(result)) };
    },
  );

  r.delete(
    '/users/me/passkeys/:id',
    {
      config: { access: 'signed-in', apiKeys: 'refused' },
      schema: {
        tags,
        summary: 'Remove one of the signed-in user’s passkeys',
        params: PasskeyIdParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      unwrap(
        await passkeys.remove(caller.userId, request.params.id, {
          actorId: caller.actorId,
          meta: requestMeta(request),
        }),
      );
      return reply.status(204).send(null);
    },
  );

  r.post(
    '/auth/passkey/login/options',
    {
      config: { access: 'public' },
      preValidation: emptyBodyAsObject,
      schema: {
        tags,
        summary: 'Start signing in with a passkey: request options for navigator.credentials.get()',
        description:
          'Without `email`, any passkey the browser holds for this site may answer (usernameless sign-in, autofill).',
        body: PasskeyLoginOptionsBody,
        response: { 200: Data(PasskeyRequestOptions) },
      },
    },
    async (request) => ({ data: await passkeys.loginOptions(request.body.email) }),
  );

  r.post(
    '/auth/passkey/login/verify',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary: 'Sign in with a passkey assertion',
        description:
          'Answers like `POST /auth/login` for the requested mode. Access tokens carry `amr: ["webauthn", ...]`.',
        body: PasskeyLoginVerifyBody,
        response: { 200: Data(AuthResult) },
      },
    },
    async (request, reply) => {
      const mode: AuthMode = request.body.mode ?? 'json';
      if (mode !== 'json') originCheck(request);
      const meta = requestMeta(request);
      const verified = unwrap(await passkeys.verifyLogin(request.body.credential, meta));
      const issued = await auth.signIn(verified.userId, { mode, amr: passkeyAmr(verified), method: 'passkey', meta });
      return sendTokens(reply, issued, secureCookies);
    },
  );

  r.get(
    '/.well-known/webauthn',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary: 'Related origins that may use this relying party id (WebAuthn Level 3 related origin requests)',
        description:
          'Browsers fetch this from the RP id host when a page on another domain asks for a passkey of this RP id.',
        response: { 200: Type.Object({ origins: Type.Array(Type.String()) }) },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return { origins: [...passkeys.origins] };
    },
  );

  r.get(
    '/users/:id/passkeys',
    {
      config: { access: { permission: 'users:read' } },
      schema: {
        tags,
        summary: 'A user’s passkeys (admin)',
        params: UserIdParams,
        response: { 200: Data(Type.Array(Passkey)) },
      },
    },
    async (request) => {
      const user = await projectUser(callerOf(request).projectId, request.params.id);
      if (!user) throw REFUSALS.not_found();
      return { data: (await passkeys.list(user.id)).map(toPasskey) };
    },
  );

  r.delete(
    '/users/:id/passkeys/:passkeyId',
    {
      config: { access: { permission: 'users:write' } },
      schema: {
        tags,
        summary: 'Remove a user’s passkey, e.g. of a lost device (admin)',
        params: UserPasskeyParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const target = await manageableUser(caller, request.params.id);
      if (!target.ok) {
        if (target.reason === 'outranked') {
          throw forbidden("You can't act on a user who holds administrative permissions you don't hold.");
        }
        throw REFUSALS.not_found();
      }
      unwrap(
        await passkeys.remove(target.value.id, request.params.passkeyId, {
          actorId: caller.userId,
          meta: requestMeta(request),
        }),
      );
      return reply.status(204).send(null);
    },
  );
}

/**
 * RFC 8176 method references of a passkey sign-in: `webauthn` names the method; `hwk` (a key bound to one
 * device) or `swk` (a synced, backed-up key) the kind of key; `user` the presence test every assertion carries.
 * With user verification (PIN or biometric on the authenticator) the one gesture is two factors, so `mfa` is
 * added: such a sign-in satisfies a second-factor requirement by itself.
 */
function passkeyAmr(verified: { passkey: PasskeyRow; userVerified: boolean }): string[] {
  const amr = ['webauthn', verified.passkey.backed_up === 1 ? 'swk' : 'hwk', 'user'];
  if (verified.userVerified) amr.push('mfa');
  return amr;
}
