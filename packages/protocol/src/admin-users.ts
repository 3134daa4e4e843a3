import { type Static, Type } from '@sinclair/typebox';
import { Limit, PageMeta } from './audit.js';
import { Email, NullableString, Password, ProfileFields, Session, StringEnum, User } from './schemas.js';

/** Sort orders of the user list; a leading `-` sorts descending. Ties are broken by id, in the same direction. */
export const UserSort = StringEnum(['email', '-email', 'created_at', '-created_at', 'last_access', '-last_access']);
export type UserSort = Static<typeof UserSort>;

/** The opaque `next_cursor` of the previous page (base64url). */
export const UserCursor = Type.String({ minLength: 1, maxLength: 512, pattern: '^[A-Za-z0-9_-]+$' });

export const UsersQuery = Type.Object(
  {
    search: Type.Optional(
      Type.String({ maxLength: 254, description: 'Case-insensitive substring of e-mail, first or last name.' }),
    ),
    role: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    status: Type.Optional(StringEnum(['active', 'invited', 'suspended'])),
    sort: Type.Optional(UserSort),
    limit: Type.Optional(Limit),
    cursor: Type.Optional(UserCursor),
    /** A credential in the query string (Directus style) is allowed here too. */
    access_token: Type.Optional(Type.String({ maxLength: 4096 })),
  },
  { additionalProperties: false },
);
export type UsersQuery = Static<typeof UsersQuery>;

export const UserList = Type.Object({ data: Type.Array(User), meta: PageMeta });

/**
 * Path parameters. Any string up to 64 characters passes the schema; one that is not a UUID answers 404 like
 * an unknown id, so an id never reaches a `uuid` column unchecked.
 */
export const UserIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export const UserSessionParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
  sessionId: Type.String({ minLength: 1, maxLength: 64 }),
});

const RoleName = Type.String({ minLength: 1, maxLength: 64 });

/** Without `password` the account cannot sign in with a password until one is set. */
export const CreateUserBody = Type.Object(
  {
    email: Email,
    password: Type.Optional(Password),
    role: Type.Optional(RoleName),
    status: Type.Optional(StringEnum(['active', 'invited'])),
    ...ProfileFields,
  },
  { additionalProperties: false },
);
export type CreateUserBody = Static<typeof CreateUserBody>;

export const UpdateUserBody = Type.Object(
  {
    email: Type.Optional(Email),
    role: Type.Optional(RoleName),
    status: Type.Optional(StringEnum(['active', 'suspended'])),
    ...ProfileFields,
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateUserBody = Static<typeof UpdateUserBody>;

/** A session as an admin sees it: `impersonated_by` is the admin who opened it as the user, or null. */
export const AdminSession = Type.Object({ ...Session.properties, impersonated_by: NullableString() });
export type AdminSession = Static<typeof AdminSession>;

export const ImpersonationResult = Type.Object({
  access_token: Type.String(),
  expires: Type.Integer({ description: 'Lifetime of the access token in milliseconds.' }),
});
export type ImpersonationResult = Static<typeof ImpersonationResult>;
