import { type Static, Type } from '@sinclair/typebox';
import { AuthMode, NullableString, StringEnum } from './schemas.js';

/** The kinds of second factor a user can enrol. Recovery codes are a fallback, not a factor of their own. */
export const MfaFactorType = StringEnum(['totp', 'email']);
export type MfaFactorType = Static<typeof MfaFactorType>;

/** What a second step at sign-in may use: a factor's code, or a recovery code. */
export const MfaMethod = StringEnum(['totp', 'email', 'recovery_code']);
export type MfaMethod = Static<typeof MfaMethod>;

const Id = Type.String({ minLength: 1, maxLength: 64 });
const Code = Type.String({ minLength: 1, maxLength: 64 });
const MfaToken = Type.String({ minLength: 1, maxLength: 512 });

export const MfaFactor = Type.Object({
  id: Type.String(),
  type: MfaFactorType,
  is_default: Type.Boolean(),
  /** False while the enrolment waits for its first valid code. */
  active: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
  confirmed_at: NullableString({ format: 'date-time' }),
});
export type MfaFactor = Static<typeof MfaFactor>;

export const MfaStatus = Type.Object({
  enabled: Type.Boolean(),
  /** True when the project or the user's role requires a second factor. */
  required: Type.Boolean(),
  default: Type.Union([MfaFactorType, Type.Null()]),
  factors: Type.Array(MfaFactor),
  recovery_codes_remaining: Type.Integer(),
});
export type MfaStatus = Static<typeof MfaStatus>;

export const TotpEnrolment = Type.Object({
  id: Type.String(),
  /** Base32, for typing into an authenticator app. Shown once. */
  secret: Type.String(),
  otpauth_url: Type.String(),
  /** The otpauth URL as a QR code, `data:image/svg+xml;base64,...`. */
  qr_code: Type.String(),
});
export type TotpEnrolment = Static<typeof TotpEnrolment>;

export const EmailEnrolment = Type.Object({
  id: Type.String(),
  /** Lifetime of the code that was mailed, in milliseconds. */
  expires: Type.Integer(),
});
export type EmailEnrolment = Static<typeof EmailEnrolment>;

export const ActivateFactorBody = Type.Object({ factor_id: Id, code: Code }, { additionalProperties: false });
export type ActivateFactorBody = Static<typeof ActivateFactorBody>;

/** Recovery codes: only ever in the answer that creates them. */
export const RecoveryCodes = Type.Object({ recovery_codes: Type.Array(Type.String()) });
export type RecoveryCodes = Static<typeof RecoveryCodes>;

export const ActivateFactorResult = Type.Object({
  factor: MfaFactor,
  /** Present on the first activation only. */
  recovery_codes: Type.Optional(Type.Array(Type.String())),
});
export type ActivateFactorResult = Static<typeof ActivateFactorResult>;

/** Proof for a change to the second factors: the password, or a current code (TOTP or recovery code). */
export const MfaProof = {
  password: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  otp: Type.Optional(Code),
};

export const MfaProofBody = Type.Object(MfaProof, { additionalProperties: false });
export type MfaProofBody = Static<typeof MfaProofBody>;

export const SetDefaultFactorBody = Type.Object({ factor_id: Id, ...MfaProof }, { additionalProperties: false });
export type SetDefaultFactorBody = Static<typeof SetDefaultFactorBody>;

export const MfaChallengeBody = Type.Object(
  { mfa_token: MfaToken, method: StringEnum(['email']) },
  { additionalProperties: false },
);
export type MfaChallengeBody = Static<typeof MfaChallengeBody>;

export const MfaChallengeResult = Type.Object({
  /** Lifetime of the mailed code in milliseconds. */
  expires: Type.Integer(),
});
export type MfaChallengeResult = Static<typeof MfaChallengeResult>;

export const MfaVerifyBody = Type.Object(
  { mfa_token: MfaToken, method: MfaMethod, code: Code, mode: Type.Optional(AuthMode) },
  { additionalProperties: false },
);
export type MfaVerifyBody = Static<typeof MfaVerifyBody>;
