import { type Static, type TUnsafe, Type } from '@sinclair/typebox';
import { PermissionString } from './roles.js';
import { NullableString, StringEnum } from './schemas.js';

const Uuid = Type.String({
  pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
});

/** Longest grace period a rotation may ask for, in seconds (one day). */
export const API_KEY_MAX_GRACE_SECONDS = 86_400;

export const ApiKeyParams = Type.Object({ id: Uuid });
export type ApiKeyParams = Static<typeof ApiKeyParams>;
export const UserApiKeyParams = Type.Object({ id: Uuid, keyId: Uuid });
export type UserApiKeyParams = Static<typeof UserApiKeyParams>;
export const ApiKeyUserParams = Type.Object({ id: Uuid });
export type ApiKeyUserParams = Static<typeof ApiKeyUserParams>;
export const ProjectKeyParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, description: 'The project id, or its slug (`default`).' }),
  keyId: Uuid,
});
export type ProjectKeyParams = Static<typeof ProjectKeyParams>;

/**
 * - `active`: works.
 * - `rotating`: replaced by a rotation, still working until the end of the grace period asked for.
 * - `expired`, `revoked`: no longer works; `revoked` also covers a key replaced by a rotation.
 */
export const ApiKeyStatus = StringEnum(['active', 'rotating', 'expired', 'revoked']);
export type ApiKeyStatus = Static<typeof ApiKeyStatus>;

/** A list of permission strings, or null for "the user's own permissions". */
function NullablePermissions(): TUnsafe<string[] | null> {
  return Type.Unsafe<string[] | null>({ type: ['array', 'null'], items: { type: 'string' } });
}

const ApiKeyName = Type.String({ minLength: 1, maxLength: 100 });

export const CreateApiKeyBody = Type.Object(
  {
    name: ApiKeyName,
    expires_at: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'When the key stops working; one month from now when absent, at most the configured maximum.',
      }),
    ),
    scopes: Type.Optional(
      Type.Union([Type.Array(PermissionString, { maxItems: 200, uniqueItems: true }), Type.Null()], {
        description:
          "Permissions the key may use, each held by the user; absent or null: all of the user's permissions, whatever they are at the time of use.",
      }),
    ),
  },
  { additionalProperties: false },
);
export type CreateApiKeyBody = Static<typeof CreateApiKeyBody>;

export const RotateApiKeyBody = Type.Object(
  {
    grace_period: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: API_KEY_MAX_GRACE_SECONDS,
        description: 'Seconds the old key keeps working after the rotation (0 when absent: it stops at once).',
      }),
    ),
  },
  { additionalProperties: false },
);
export type RotateApiKeyBody = Static<typeof RotateApiKeyBody>;

/** What a listing shows of a key: never the key itself. */
export const ApiKey = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String({ description: 'The kind prefix and the first characters of the key, to recognize it.' }),
  scopes: NullablePermissions(),
  status: ApiKeyStatus,
  created_at: Type.String({ format: 'date-time' }),
  expires_at: Type.String({ format: 'date-time' }),
  last_used_at: NullableString({ format: 'date-time' }),
  revoked_at: NullableString({ format: 'date-time' }),
  replaced_by: NullableString({ description: 'The key that replaced this one in a rotation.' }),
});
export type ApiKey = Static<typeof ApiKey>;

/** A key as created or rotated: the only time `key` is ever shown. */
export const CreatedApiKey = Type.Composite([ApiKey, Type.Object({ key: Type.String() })]);
export type CreatedApiKey = Static<typeof CreatedApiKey>;

export const ProjectKeyKind = StringEnum(['publishable', 'secret']);
export type ProjectKeyKind = Static<typeof ProjectKeyKind>;

export const CreateProjectKeyBody = Type.Object(
  { kind: ProjectKeyKind, name: ApiKeyName },
  { additionalProperties: false },
);
export type CreateProjectKeyBody = Static<typeof CreateProjectKeyBody>;

export const RotateProjectKeyBody = RotateApiKeyBody;
export type RotateProjectKeyBody = RotateApiKeyBody;

export const ProjectKey = Type.Object({
  id: Type.String(),
  kind: ProjectKeyKind,
  name: Type.String(),
  prefix: Type.String(),
  status: ApiKeyStatus,
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: NullableString({ format: 'date-time' }),
  revoked_at: NullableString({ format: 'date-time' }),
  replaced_by: NullableString(),
});
export type ProjectKey = Static<typeof ProjectKey>;

/** A project key as created or rotated: the only time `key` is shown (only its SHA-256 is stored). */
export const CreatedProjectKey = Type.Composite([ProjectKey, Type.Object({ key: Type.String() })]);
export type CreatedProjectKey = Static<typeof CreatedProjectKey>;

export const ApiAuthQuery = Type.Object(
  { account: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'A project id or slug.' })) },
  { additionalProperties: false },
);
export type ApiAuthQuery = Static<typeof ApiAuthQuery>;

const NamedRef = Type.Object({ _id: Type.String(), name: Type.String() });

/** Entu's `GET /api/auth` answer: the accounts (projects) the key opens, and an access token. */
export const ApiAuthResult = Type.Object({
  accounts: Type.Array(Type.Object({ _id: Type.String(), name: Type.String(), user: NamedRef })),
  user: Type.Object({ _id: Type.String(), name: Type.String(), email: Type.String() }),
  token: Type.String({ description: 'An access token (JWT) limited to the scopes of the key.' }),
  expires: Type.Integer({ description: 'Lifetime of the token in milliseconds.' }),
});
export type ApiAuthResult = Static<typeof ApiAuthResult>;
