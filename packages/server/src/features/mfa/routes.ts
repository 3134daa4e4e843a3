import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  ActivateFactorBody,
  ActivateFactorResult,
  AuthResult,
  Data,
  EmailEnrolment,
  MfaChallengeBody,
  MfaChallengeResult,
  MfaProofBody,
  MfaStatus,
  MfaVerifyBody,
  RecoveryCodes,
  SetDefaultFactorBody,
  TotpEnrolment,
} from '@gatehouse/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Caller } from '../../caller.js';
import type { UserProfile } from '../../db/types.js';
import { forbidden, invalidCredentials } from '../../errors/auth-error.js';
import { requestMeta as meta } from '../../http/request-meta.js';
import type { IssuedTokens } from '../auth/index.js';
import type { MfaService } from './service.js';

/** The scope of the setup token MFA_SETUP_REQUIRED hands out: it admits only the routes that declare it. */
export const MFA_ENROLLMENT_SCOPE = 'mfa_enrollment';

export interface MfaRoutesOptions {
  mfa: MfaService;
  originCheck(request: FastifyRequest): void;
  /** Shapes issued tokens into the login answer for their mode (cookies included), as POST /auth/login does. */
  reply(reply: FastifyReply, issued: IssuedTokens): { data: AuthResult };
}

const NoContent = { 204: Type.Null() };
const FactorId = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

async function emptyBodyAsObject(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
}

function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw invalidCredentials();
  return request.caller;
}

function accountOf(request: FastifyRequest): UserProfile {
  if (!request.account) throw invalidCredentials();
  return request.account;
}

/** The account whose factors a change is for; an admin acting as the user (impersonation) cannot change them. */
function ownAccountOf(request: FastifyRequest): UserProfile {
  if (callerOf(request).actorId !== null) throw forbidden('Second factors cannot be changed while impersonating.');
  return accountOf(request);
}

/** The second step of sign-in, and the signed-in user's own second factors. */
export async function mfaRoutes(app: FastifyInstance, options: MfaRoutesOptions): Promise<void> {
  const { mfa, originCheck, reply } = options;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const enrolment = { access: 'signed-in' as const, scopes: [MFA_ENROLLMENT_SCOPE], apiKeys: 'refused' as const };

  r.post(
    '/auth/mfa/challenge',
    {
      config: { access: 'public' },
      schema: {
        tags: ['mfa'],
        summary: 'Mail an e-mail code for the sign-in an mfa_token stands for',
        description: 'Counts as one of the five attempts of the mfa_token; one code per 30 seconds.',
        body: MfaChallengeBody,
        response: { 200: Data(MfaChallengeResult) },
      },
    },
    async (request) => ({ data: await mfa.challenge(request.body.mfa_token, meta(request)) }),
  );

  r.post(
    '/auth/mfa/verify',
    {
      config: { access: 'public' },
      schema: {
        tags: ['mfa'],
        summary: 'Finish a sign-in with a TOTP code, an e-mail code or a recovery code',
        description:
          'Answers like POST /auth/login. A wrong code counts against the mfa_token (5 attempts) and the account (lockout with backoff).',
        body: MfaVerifyBody,
        response: { 200: Data(AuthResult) },
      },
    },
    async (request, replyObject) => {
      const { mfa_token, method, code, mode } = request.body;
      const checkOrigin = () => originCheck(request);
      const issued = await mfa.verify({ mfaToken: mfa_token, method, code, mode, checkOrigin }, meta(request));
      return reply(replyObject, issued);
    },
  );

  r.get(
    '/users/me/mfa',
    {
      config: enrolment,
      schema: { tags: ['mfa'], summary: "The caller's second factors", response: { 200: Data(MfaStatus) } },
    },
    async (request) => ({ data: await mfa.status(accountOf(request)) }),
  );

  r.post(
    '/users/me/mfa/totp',
    {
      config: enrolment,
      schema: {
        tags: ['mfa'],
        summary: 'Start a TOTP enrolment: a secret, its otpauth URL and a QR code',
        description: 'The factor is active once POST /users/me/mfa/activate confirms one valid code.',
        response: { 200: Data(TotpEnrolment) },
      },
    },
    async (request) => ({ data: await mfa.enrolTotp(ownAccountOf(request)) }),
  );

  r.post(
    '/users/me/mfa/email',
    {
      config: enrolment,
      schema: {
        tags: ['mfa'],
        summary: "Start an e-mail-code enrolment: a code goes to the caller's address",
        description: 'The factor is active once POST /users/me/mfa/activate confirms the code (valid 5 minutes).',
        response: { 200: Data(EmailEnrolment) },
      },
    },
    async (request) => ({ data: await mfa.enrolEmail(ownAccountOf(request)) }),
  );

  r.post(
    '/users/me/mfa/activate',
    {
      config: enrolment,
      schema: {
        tags: ['mfa'],
        summary: 'Confirm a pending factor with one valid code',
        description: 'The first factor of an account comes with 10 recovery codes, shown this once.',
        body: ActivateFactorBody,
        response: { 200: Data(ActivateFactorResult) },
      },
    },
    async (request) => ({
      data: await mfa.activate(ownAccountOf(request), request.body.factor_id, request.body.code, meta(request)),
    }),
  );

  r.put(
    '/users/me/mfa/default',
    {
      config: { access: 'signed-in', apiKeys: 'refused' },
      schema: {
        tags: ['mfa'],
        summary: 'Choose the factor sign-in offers first',
        description: 'Needs the password or a current code.',
        body: SetDefaultFactorBody,
        response: NoContent,
      },
    },
    async (request, replyObject) => {
      const { factor_id, ...proof } = request.body;
      await mfa.setDefault(callerOf(request), ownAccountOf(request), factor_id, proof, meta(request));
      return replyObject.status(204).send(null);
    },
  );

  r.post(
    '/users/me/mfa/recovery-codes',
    {
      config: { access: 'signed-in', apiKeys: 'refused' },
      preValidation: emptyBodyAsObject,
      schema: {
        tags: ['mfa'],
        summary: 'Make a new set of 10 recovery codes; the earlier set stops working',
        description: 'Needs the password or a current code. The codes are shown this once.',
        body: MfaProofBody,
        response: { 200: Data(RecoveryCodes) },
      },
    },
    async (request) => {
      const codes = await mfa.regenerateRecoveryCodes(
        callerOf(request),
        ownAccountOf(request),
        request.body,
        meta(request),
      );
      return { data: { recovery_codes: codes } };
    },
  );

  r.delete(
    '/users/me/mfa/factors/:id',
    {
      config: { access: 'signed-in', apiKeys: 'refused' },
      preValidation: emptyBodyAsObject,
      schema: {
        tags: ['mfa'],
        summary: 'Remove one factor',
        description:
          'Needs the password or a current code (in the body). Removing the last active factor turns MFA off, with the same conditions as DELETE /users/me/mfa.',
        params: FactorId,
        body: MfaProofBody,
        response: NoContent,
      },
    },
    async (request, replyObject) => {
      await mfa.removeFactor(callerOf(request), ownAccountOf(request), request.params.id, request.body, meta(request));
      return replyObject.status(204).send(null);
    },
  );

  r.delete(
    '/users/me/mfa',
    {
      config: { access: 'signed-in', apiKeys: 'refused' },
      preValidation: emptyBodyAsObject,
      schema: {
        tags: ['mfa'],
        summary: 'Turn MFA off: every factor and recovery code is removed',
        description:
          'A sensitive action: needs a sign-in with a second factor in the last 10 minutes (else 403 REAUTHENTICATION_REQUIRED) and the password or a current code in the body.',
        body: MfaProofBody,
        response: NoContent,
      },
    },
    async (request, replyObject) => {
      await mfa.disable(callerOf(request), ownAccountOf(request), request.body, meta(request));
      return replyObject.status(204).send(null);
    },
  );
}
