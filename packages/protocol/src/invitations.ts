import { type Static, Type } from '@sinclair/typebox';
import { Limit } from './audit.js';
import { TimeCursor } from './mail.js';
import { Email, NullableString, Password, StringEnum } from './schemas.js';

/** Directus's `POST /users/invite`: `role` is a role name (or a role id). */
export const InviteBody = Type.Object(
  {
    email: Email,
    role: Type.String({ minLength: 1, maxLength: 100 }),
    invite_url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
  },
  { additionalProperties: false },
);
export type InviteBody = Static<typeof InviteBody>;

export const AcceptInviteBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 512 }), password: Password },
  { additionalProperties: false },
);
export type AcceptInviteBody = Static<typeof AcceptInviteBody>;

export const InvitationStatus = StringEnum(['pending', 'accepted', 'revoked', 'expired']);
export type InvitationStatus = Static<typeof InvitationStatus>;

/** An invitation as admins see it; never its token. */
export const Invitation = Type.Object({
  id: Type.String(),
  email: Type.String(),
  role: Type.String(),
  status: InvitationStatus,
  user_id: NullableString(),
  invited_by: NullableString(),
  created_at: Type.String({ format: 'date-time' }),
  expires_at: Type.String({ format: 'date-time' }),
  accepted_at: NullableString({ format: 'date-time' }),
  revoked_at: NullableString({ format: 'date-time' }),
});
export type Invitation = Static<typeof Invitation>;

export const InvitationsQuery = Type.Object(
  {
    status: Type.Optional(InvitationStatus),
    limit: Type.Optional(Limit),
    cursor: Type.Optional(TimeCursor),
  },
  { additionalProperties: false },
);
export type InvitationsQuery = Static<typeof InvitationsQuery>;
