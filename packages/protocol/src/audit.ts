import { type Static, Type } from '@sinclair/typebox';
import { NullableString, StringEnum } from './schemas.js';

/**
 * Every security event Gatehouse records, with what it means. Append-only like the error registry: webhook
 * subscribers and log pipelines match on these names. `outcome` is `failure` for refused attempts, and
 * `details.reason` then says why, as a short code.
 */
export const AUDIT_EVENTS = {
  'auth.signup': 'An account was created by sign-up; failure reason: email_taken (the caller was answered as usual).',
  'auth.login':
    'A sign-in attempt; failure reasons: unknown_user, wrong_password, suspended, not_active, email_not_verified.',
  'auth.logout': 'A session was ended by its owner (sign-out).',
  'auth.logout_all': 'Every session of the user was ended by the user.',
  'auth.refresh_reuse': 'A rotated refresh token was presented again after the grace window; its session was revoked.',
  'session.revoked': 'A session was ended by its owner from the session list, or by an admin.',
  'user.profile_updated': 'A user changed profile fields of their own account.',
  'user.password_changed': "The account's password was changed or reset.",
  'user.email_changed': "The account's e-mail address was changed.",
  'user.created': 'An admin created an account.',
  'user.updated': "An admin changed an account's profile or e-mail.",
  'user.role_changed': "An account's role was changed.",
  'user.status_changed': 'An account was suspended or reactivated.',
  'user.deleted': 'An account was deleted.',
  'user.impersonated': 'An admin obtained a token that acts as the user.',
  'signing_key.created': 'A token signing key was generated (first start, or a new algorithm).',
  'user.invited': 'An admin invited someone by e-mail (or invited them again); the account waits with status invited.',
  'invitation.accepted':
    'An invitation link was used to set a password and activate the account; failure reasons: expired, used, revoked.',
  'invitation.revoked': 'An admin revoked a pending invitation; the account it created, never activated, is gone.',
  'role.created': 'A role was created.',
  'role.updated': "A role's description or permissions changed.",
  'role.deleted': 'A role was deleted.',
  'project.settings_updated': 'Project settings changed.',
  'email_template.updated': "The project's version of an e-mail template was stored.",
  'email_template.reset': "The project's version of an e-mail template was dropped; the built-in one applies.",
  'webhook.created': 'A webhook subscription was created.',
  'webhook.updated': 'A webhook subscription was changed.',
  'webhook.deleted': 'A webhook subscription was deleted.',
  'webhook.secret_rotated': "A webhook's signing secret was replaced; the old one no longer signs.",
  'webhook.delivery_retried': 'An admin queued a failed webhook delivery again.',
  'auth.magic_link_requested':
    'A magic sign-in link was asked for (always answered 204); failure reasons: cooldown, unknown_user, signup_closed, suspended, not_active (nothing was sent).',
  'auth.code_requested':
    'A one-time code was asked for (always answered 204); details: purpose, channel; failure reasons: cooldown, unknown_user, no_phone, suspended, not_active (nothing was sent).',
  'auth.activated':
    'An activation code was entered: the address it went to is confirmed; failure reasons: wrong_code, expired, too_many_attempts, suspended, not_active.',
  'user.phone_changed': 'A user confirmed a new phone number with a code sent to it, or removed theirs.',
  'passkey.registered': 'A passkey was added to the account; details: passkey_id, name, aaguid, backed_up.',
  'passkey.renamed': 'A passkey was renamed.',
  'passkey.deleted': 'A passkey was removed from the account (by its owner, or by an admin).',
  'passkey.login':
    'A passkey assertion was checked, for sign-in or (details.purpose mfa) as a second factor; success also records auth.login for sign-in. Failure reasons: challenge_unknown, challenge_used, challenge_expired, unknown_credential, not_owner, invalid, clone_suspected, suspended.',
  'passkey.clone_suspected':
    "A correctly signed passkey assertion came with a signature counter that did not increase: the authenticator's key may have been copied. The assertion was refused.",
  'mfa.factor_enrolled': 'A second factor (TOTP or e-mail codes) was confirmed with its first valid code.',
  'mfa.factor_removed': 'A second factor was removed by its owner.',
  'mfa.default_changed': 'The user chose which second factor sign-in offers first.',
  'mfa.disabled': 'The user turned multi-factor authentication off: every factor and recovery code is gone.',
  'mfa.recovery_codes_generated': 'A new set of recovery codes was made; any earlier set stopped working.',
  'mfa.recovery_code_used': 'A recovery code was used (at sign-in or as proof); the user is notified by e-mail.',
  'auth.mfa':
    'A second-factor check at sign-in or for a change; failure reasons: wrong_code, locked, too_many_attempts, expired, used, setup_required.',
  'auth.email_verification_requested':
    'A verification mail was asked for; failure reasons (no mail, answered as usual): unknown_user, not_active, already_verified, cool_down, verification_off.',
  'user.email_verified': "A verification link confirmed the account's e-mail address.",
  'auth.password_reset_requested':
    'A password reset mail was asked for; failure reasons (no mail, answered as usual): unknown_user, not_active, cool_down.',
  'api_key.created': 'A personal API key was created (name, prefix, scopes and expiry in details; never the key).',
  'api_key.rotated':
    'A personal API key was replaced by a new secret; details name the old and new key ids and any grace period.',
  'api_key.revoked': 'A personal API key was revoked by its owner or an admin.',
  'project_key.created': 'A publishable or secret project key was created.',
  'project_key.rotated': 'A project key was replaced by a new secret.',
  'project_key.revoked': 'A project key was revoked.',
} as const satisfies Record<string, string>;

export type AuditEventName = keyof typeof AUDIT_EVENTS;
export const AUDIT_EVENT_NAMES = Object.keys(AUDIT_EVENTS) as AuditEventName[];

export const AuditOutcome = StringEnum(['success', 'failure']);
export type AuditOutcome = Static<typeof AuditOutcome>;

const Details = Type.Record(Type.String(), Type.Unknown());

export const AuditEvent = Type.Object({
  id: Type.String(),
  seq: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }),
  event: Type.String(),
  outcome: AuditOutcome,
  actor_id: NullableString(),
  subject_id: NullableString(),
  ip: NullableString(),
  user_agent: NullableString(),
  details: Details,
});
export type AuditEvent = Static<typeof AuditEvent>;

/** What a user sees of their own account's events. */
export const SecurityEvent = Type.Object({
  id: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  event: Type.String(),
  outcome: AuditOutcome,
  /** True when someone else (an admin) acted on the account. */
  by_admin: Type.Boolean(),
  ip: NullableString(),
  user_agent: NullableString(),
  details: Details,
});
export type SecurityEvent = Static<typeof SecurityEvent>;

export const Cursor = Type.String({
  maxLength: 64,
  pattern: '^[0-9]+$',
  description: 'The `next_cursor` of the previous page.',
});
/** Query strings are not coerced, so numbers arrive as digit strings; 1 to 200, 50 when absent. */
export const Limit = Type.String({
  pattern: '^(200|1[0-9]{2}|[1-9][0-9]?)$',
  description: 'Page size, 1 to 200 (50).',
});

export const AuditQuery = Type.Object(
  {
    event: Type.Optional(Type.String({ maxLength: 64 })),
    outcome: Type.Optional(AuditOutcome),
    actor: Type.Optional(Type.String({ maxLength: 64 })),
    subject: Type.Optional(Type.String({ maxLength: 64 })),
    since: Type.Optional(Type.String({ format: 'date-time' })),
    until: Type.Optional(Type.String({ format: 'date-time' })),
    limit: Type.Optional(Limit),
    cursor: Type.Optional(Cursor),
  },
  { additionalProperties: false },
);
export type AuditQuery = Static<typeof AuditQuery>;

export const SecurityEventsQuery = Type.Object(
  { limit: Type.Optional(Limit), cursor: Type.Optional(Cursor) },
  { additionalProperties: false },
);
export type SecurityEventsQuery = Static<typeof SecurityEventsQuery>;

/** A page of a list: `next_cursor` is null on the last page. */
export const PageMeta = Type.Object({ next_cursor: NullableString() });
