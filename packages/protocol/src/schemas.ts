import { type Static, type TObject, type TSchema, Type } from '@sinclair/typebox';

/** Passwords: at least 8 characters (NIST SP 800-63B), at most 256 so hashing work stays bounded. */
export const Password = Type.String({ minLength: 8, maxLength: 256 });
export const Email = Type.String({ format: 'email', minLength: 3, maxLength: 254 });
export const AuthMode = Type.Union([Type.Literal('json'), Type.Literal('cookie'), Type.Literal('session')]);
export type AuthMode = Static<typeof AuthMode>;

const ProfileFields = {
  first_name: Type.Optional(Type.Union([Type.String({ maxLength: 100 }), Type.Null()])),
  last_name: Type.Optional(Type.Union([Type.String({ maxLength: 100 }), Type.Null()])),
  language: Type.Optional(
    Type.Union([Type.String({ maxLength: 35, pattern: '^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$' }), Type.Null()]),
  ),
  title: Type.Optional(Type.Union([Type.String({ maxLength: 100 }), Type.Null()])),
  location: Type.Optional(Type.Union([Type.String({ maxLength: 100 }), Type.Null()])),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
};

export const SignupBody = Type.Object(
  {
    email: Email,
    password: Password,
    verification_url: Type.Optional(Type.String({ maxLength: 2048 })),
    ...ProfileFields,
  },
  { additionalProperties: false },
);
export type SignupBody = Static<typeof SignupBody>;

export const LoginBody = Type.Object(
  {
    email: Email,
    password: Type.String({ minLength: 1, maxLength: 256 }),
    mode: Type.Optional(AuthMode),
    otp: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type LoginBody = Static<typeof LoginBody>;

export const RefreshBody = Type.Object(
  { refresh_token: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })), mode: Type.Optional(AuthMode) },
  { additionalProperties: false },
);
export type RefreshBody = Static<typeof RefreshBody>;

export const LogoutBody = RefreshBody;
export type LogoutBody = RefreshBody;

/** What login and refresh answer: `refresh_token` only in json mode, `access_token` not in session mode. */
export const AuthResult = Type.Object({
  access_token: Type.Optional(Type.String()),
  refresh_token: Type.Optional(Type.String()),
  expires: Type.Integer({ description: 'Lifetime of the access (or session) token in milliseconds.' }),
});
export type AuthResult = Static<typeof AuthResult>;

export const UserStatus = Type.Union([Type.Literal('active'), Type.Literal('invited'), Type.Literal('suspended')]);

export const User = Type.Object({
  id: Type.String(),
  email: Type.String(),
  first_name: Type.Union([Type.String(), Type.Null()]),
  last_name: Type.Union([Type.String(), Type.Null()]),
  language: Type.Union([Type.String(), Type.Null()]),
  title: Type.Union([Type.String(), Type.Null()]),
  location: Type.Union([Type.String(), Type.Null()]),
  description: Type.Union([Type.String(), Type.Null()]),
  avatar: Type.Union([Type.String(), Type.Null()]),
  status: UserStatus,
  role: Type.String(),
  email_verified: Type.Boolean(),
  provider: Type.String(),
  last_access: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
});
export type User = Static<typeof User>;

export const UpdateMeBody = Type.Object(ProfileFields, { additionalProperties: false, minProperties: 1 });
export type UpdateMeBody = Static<typeof UpdateMeBody>;

export const Session = Type.Object({
  id: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.String({ format: 'date-time' }),
  expires_at: Type.String({ format: 'date-time' }),
  ip: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  mode: AuthMode,
  current: Type.Boolean(),
});
export type Session = Static<typeof Session>;

export const Provider = Type.Object({
  name: Type.String(),
  label: Type.String(),
  driver: Type.String(),
  icon: Type.Union([Type.String(), Type.Null()]),
});

export const ProviderList = Type.Object({
  data: Type.Array(Provider),
  disableDefault: Type.Boolean(),
});

export const ErrorResponseSchema = Type.Object(
  {
    errors: Type.Array(
      Type.Object({
        message: Type.String(),
        extensions: Type.Object({ code: Type.String() }, { additionalProperties: true }),
      }),
    ),
  },
  { $id: 'ErrorResponse' },
);

/** Wraps a payload schema in the `{ data }` envelope every success answer uses. */
export function Data<T extends TSchema>(schema: T): TObject<{ data: T }> {
  return Type.Object({ data: schema });
}
