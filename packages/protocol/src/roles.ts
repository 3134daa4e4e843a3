import { type Static, Type } from '@sinclair/typebox';
import { NullableString } from './schemas.js';

/** `<resource>:<action>` in lower case, `<resource>:*`, or `*`. */
export const PermissionString = Type.String({
  maxLength: 100,
  pattern: '^(\\*|[a-z0-9][a-z0-9_.-]*:(\\*|[a-z0-9][a-z0-9_.-]*))$',
});
const Permissions = Type.Array(PermissionString, { maxItems: 200, uniqueItems: true });
export const RoleName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z][a-z0-9_-]*$' });

export const Role = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: NullableString(),
  permissions: Type.Array(Type.String()),
  /** admin, user, guest and public: they cannot be deleted, and admin always holds `*`. */
  built_in: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
  /** Every account of this role must use a second factor (see docs/mfa.md). */
  mfa_required: Type.Boolean(),
});
export type Role = Static<typeof Role>;

export const CreateRoleBody = Type.Object(
  {
    name: RoleName,
    description: Type.Optional(NullableString({ maxLength: 500 })),
    permissions: Permissions,
    mfa_required: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type CreateRoleBody = Static<typeof CreateRoleBody>;

export const UpdateRoleBody = Type.Object(
  {
    description: Type.Optional(NullableString({ maxLength: 500 })),
    permissions: Type.Optional(Permissions),
    mfa_required: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateRoleBody = Static<typeof UpdateRoleBody>;
