import { type Static, type StringOptions, type TObject, type TSchema, type TUnsafe, Type } from '@sinclair/typebox';

/**
 * A string or null, as `type: ["string", "null"]` rather than TypeBox's `anyOf`: the response serializer
 * (fast-json-stringify) handles a type list directly but must test each branch of an `anyOf` at run time.
 */
export function NullableString(options: StringOptions = {}): TUnsafe<string | null> {
  return Type.Unsafe<string | null>({ ...options, type: ['string', 'null'] });
}

/** An integer or null, as a type list for the same reason as NullableString. */
export function NullableInteger(): TUnsafe<number | null> {
  return Type.Unsafe<number | null>({ type: ['integer', 'null'] });
}

/** Passwords: at least 8 characters (NIST SP 800-63B), at most 256 so hashing work stays bounded. */
export const Password = Type.String({ minLength: 8, maxLength: 256 });
export const Email = Type.String({ format: 'email', minLength: 3, maxLength: 254 });
/** One of a few strings, as a plain `enum` (no `anyOf`), for the same reason as NullableString. */
export function StringEnum<const T extends readonly string[]>(values: T): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values] });
}

export const AuthMode = StringEnum(['json', 'cookie', 'session']);
export type AuthMode = Static<typeof AuthMode>;

export const ProfileFields = {
  first_name: Type.Optional(NullableString({ maxLength: 100 })),
  last_name: Type.Optional(NullableString({ maxLength: 100 })),
  language: Type.Optional(NullableString({ maxLength: 35, pattern: '^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$' })),
  title: Type.Optional(NullableString({ maxLength: 100 })),
  location: Type.Optional(NullableString({ maxLength: 100 })),
  description: Type.Optional(NullableString({ maxLength: 2000 })),
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

export const UserStatus = StringEnum(['active', 'invited', 'suspended']);

export const User = Type.Object({
  id: Type.String(),
  email: Type.String(),
  first_name: NullableString(),
  last_name: NullableString(),
  language: NullableString(),
  title: NullableString(),
  location: NullableString(),
  description: NullableString(),
  avatar: NullableString(),
  status: UserStatus,
  role: Type.String(),
  email_verified: Type.Boolean(),
  phone: NullableString({ description: 'The verified phone number (E.164), or null.' }),
  provider: Type.String(),
  last_access: NullableString({ format: 'date-time' }),
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
  ip: NullableString(),
  user_agent: NullableString(),
  mode: AuthMode,
  current: Type.Boolean(),
});
export type Session = Static<typeof Session>;

export const Provider = Type.Object({
  name: Type.String(),
  label: Type.String(),
  driver: Type.String(),
  icon: NullableString(),
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
