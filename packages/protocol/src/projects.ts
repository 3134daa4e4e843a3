import { type Static, Type } from '@sinclair/typebox';
import { StringEnum } from './schemas.js';

/** Who may create an account: anyone, only holders of an invitation, or nobody (admins create accounts). */
export const SignupPolicy = StringEnum(['open', 'invite_only', 'closed']);
/** Second factors: off, offered to users, or required of admins (any role holding `*`), or of everyone. */
export const MfaPolicy = StringEnum(['off', 'optional', 'required_for_admins', 'required']);
/**
 * E-mail verification: no mail at sign-up (`off`), a verification mail at sign-up (`optional`), or that mail and
 * no sign-in with a password until the address is verified (`required`).
 */
export const EmailVerificationPolicy = StringEnum(['off', 'optional', 'required']);

const Seconds = (description: string) => Type.Union([Type.Integer({ minimum: 60 }), Type.Null()], { description });

export const ProjectSettings = Type.Object({
  signup: SignupPolicy,
  mfa: MfaPolicy,
  /** Seconds; null uses the server's GATEHOUSE_ACCESS_TOKEN_TTL, which is also the ceiling. */
  access_token_ttl: Seconds('Access token lifetime in seconds; null for the server default (also the maximum).'),
  refresh_token_ttl: Seconds('Refresh token lifetime in seconds; null for the server default (also the maximum).'),
  session_cookie_ttl: Seconds('Session token lifetime in seconds; null for the server default (also the maximum).'),
  password: Type.Object({
    min_length: Type.Integer({ minimum: 8, maximum: 128 }),
    /** Refuse a password that contains the account's e-mail local part (case-insensitive). */
    forbid_email: Type.Boolean(),
  }),
  email_verification: EmailVerificationPolicy,
  /** Mail the user when they sign in with a password from a browser or app not seen on their account lately. */
  new_sign_in_notice: Type.Boolean(),
});
export type ProjectSettings = Static<typeof ProjectSettings>;

export const UpdateProjectSettingsBody = Type.Object(
  {
    signup: Type.Optional(SignupPolicy),
    mfa: Type.Optional(MfaPolicy),
    access_token_ttl: Type.Optional(ProjectSettings.properties.access_token_ttl),
    refresh_token_ttl: Type.Optional(ProjectSettings.properties.refresh_token_ttl),
    session_cookie_ttl: Type.Optional(ProjectSettings.properties.session_cookie_ttl),
    password: Type.Optional(
      Type.Object(
        {
          min_length: Type.Optional(ProjectSettings.properties.password.properties.min_length),
          forbid_email: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false, minProperties: 1 },
      ),
    ),
    email_verification: Type.Optional(EmailVerificationPolicy),
    new_sign_in_notice: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateProjectSettingsBody = Static<typeof UpdateProjectSettingsBody>;
