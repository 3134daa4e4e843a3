import { type Static, Type } from '@sinclair/typebox';
import { Email, Password } from './schemas.js';

/** A caller-chosen page that a mailed link opens; it must lie under an allow-listed prefix. */
const LinkTarget = Type.String({ minLength: 1, maxLength: 2048 });
/** A mailed link token (32 random bytes, base64url); the bound only keeps junk short. */
const LinkToken = Type.String({ minLength: 1, maxLength: 512 });

export const EmailVerificationRequestBody = Type.Object(
  { email: Email, verification_url: Type.Optional(LinkTarget) },
  { additionalProperties: false },
);
export type EmailVerificationRequestBody = Static<typeof EmailVerificationRequestBody>;

export const EmailVerifyBody = Type.Object({ token: LinkToken }, { additionalProperties: false });
export type EmailVerifyBody = Static<typeof EmailVerifyBody>;

/** Directus's `POST /auth/password/request`. */
export const PasswordRequestBody = Type.Object(
  { email: Email, reset_url: Type.Optional(LinkTarget) },
  { additionalProperties: false },
);
export type PasswordRequestBody = Static<typeof PasswordRequestBody>;

/** Directus's `POST /auth/password/reset`. */
export const PasswordResetBody = Type.Object({ token: LinkToken, password: Password }, { additionalProperties: false });
export type PasswordResetBody = Static<typeof PasswordResetBody>;

export const PasswordChangeBody = Type.Object(
  { current_password: Type.String({ minLength: 1, maxLength: 256 }), password: Password },
  { additionalProperties: false },
);
export type PasswordChangeBody = Static<typeof PasswordChangeBody>;

/** `DELETE /users/me`: the password of an account that has one; without one, a recent sign-in is required. */
export const DeleteMeBody = Type.Object(
  { password: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })) },
  { additionalProperties: false },
);
export type DeleteMeBody = Static<typeof DeleteMeBody>;
