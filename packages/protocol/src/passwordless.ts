import { type Static, Type } from '@sinclair/typebox';
import { AuthMode, AuthResult, Email, StringEnum } from './schemas.js';

/** A phone number in E.164: `+`, a country code that does not start with 0, 7 to 15 digits in all. */
export const PHONE_PATTERN = '^\\+[1-9][0-9]{6,14}$';
export const Phone = Type.String({ pattern: PHONE_PATTERN, description: 'E.164, e.g. `+37255501234`.' });

/** What a code sent by `POST /auth/code/generate` is for. */
export const CODE_PURPOSES = ['login', 'activate'] as const;
export const CodePurpose = StringEnum(CODE_PURPOSES);
export type CodePurpose = Static<typeof CodePurpose>;

export const CodeChannel = StringEnum(['email', 'sms', 'push']);
export type CodeChannel = Static<typeof CodeChannel>;

/** An account e-mail or a verified phone number (E.164). */
export const Identifier = Type.String({
  minLength: 3,
  maxLength: 254,
  description: 'The account e-mail, or its verified phone number in E.164.',
});
/** Six digits; anything else is refused before it can count as a try. */
export const Code = Type.String({ pattern: '^[0-9]{6}$' });
const Url = Type.String({ minLength: 1, maxLength: 2048 });

export const MagicLinkBody = Type.Object(
  {
    email: Email,
    redirect: Type.Optional(Url),
    url: Type.Optional(Url),
  },
  { additionalProperties: false },
);
export type MagicLinkBody = Static<typeof MagicLinkBody>;

export const MagicLinkVerifyBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 512 }), mode: Type.Optional(AuthMode) },
  { additionalProperties: false },
);
export type MagicLinkVerifyBody = Static<typeof MagicLinkVerifyBody>;

/** A sign-in answer (as `/auth/login`) and the `redirect` given when the link was requested. */
export const MagicLinkResult = Type.Object({
  ...AuthResult.properties,
  redirect: Type.Optional(Type.String()),
});
export type MagicLinkResult = Static<typeof MagicLinkResult>;

export const CodeGenerateBody = Type.Object(
  { identifier: Identifier, channel: CodeChannel, purpose: CodePurpose },
  { additionalProperties: false },
);
export type CodeGenerateBody = Static<typeof CodeGenerateBody>;

export const CodeCheckBody = Type.Object(
  { identifier: Identifier, purpose: CodePurpose, code: Code },
  { additionalProperties: false },
);
export type CodeCheckBody = Static<typeof CodeCheckBody>;

export const ActivateBody = Type.Object({ identifier: Identifier, code: Code }, { additionalProperties: false });
export type ActivateBody = Static<typeof ActivateBody>;

export const CodeLoginBody = Type.Object(
  { identifier: Identifier, code: Code, mode: Type.Optional(AuthMode) },
  { additionalProperties: false },
);
export type CodeLoginBody = Static<typeof CodeLoginBody>;

export const PhoneBody = Type.Object({ phone: Phone }, { additionalProperties: false });
export type PhoneBody = Static<typeof PhoneBody>;

export const PhoneVerifyBody = Type.Object({ code: Code }, { additionalProperties: false });
export type PhoneVerifyBody = Static<typeof PhoneVerifyBody>;
