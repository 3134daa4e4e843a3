import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

/** Times are integer milliseconds since the epoch on both dialects (bigint in PostgreSQL, parsed to number). */
type Millis = number;

export interface ProjectsTable {
  id: string;
  slug: string;
  name: string;
  /** JSON object of ProjectSettings; missing keys take their defaults. */
  settings: Generated<string>;
  created_at: Millis;
}

export interface RolesTable {
  id: string;
  project_id: string;
  name: string;
  description: string | null;
  /** JSON array of permission strings. */
  permissions: string;
  created_at: Millis;
  /** 1 when every account of this role must use a second factor (see features/mfa). */
  mfa_required: Generated<number>;
}

export interface UsersTable {
  id: string;
  project_id: string;
  /** Lower-cased and trimmed; unique per project. */
  email: string;
  email_verified_at: Millis | null;
  password_hash: string | null;
  first_name: string | null;
  last_name: string | null;
  language: string | null;
  title: string | null;
  location: string | null;
  description: string | null;
  avatar: string | null;
  role: string;
  status: 'active' | 'invited' | 'suspended';
  provider: string;
  last_access: Millis | null;
  /** E.164 (`+37255501234`); set only once a code sent to it was entered, unique per project. */
  phone: string | null;
  phone_verified_at: Millis | null;
  created_at: Millis;
  updated_at: Millis;
}

export interface SessionsTable {
  id: string;
  project_id: string;
  user_id: string;
  mode: 'json' | 'cookie' | 'session';
  /** JSON array of authentication methods (RFC 8176), e.g. ["pwd"]. */
  amr: string;
  auth_time: Millis;
  created_at: Millis;
  last_used_at: Millis;
  /** Sliding expiry: moves forward on every refresh, never past absolute_expires_at. */
  expires_at: Millis;
  absolute_expires_at: Millis;
  revoked_at: Millis | null;
  revoked_reason: string | null;
  ip: string | null;
  user_agent: string | null;
  /** The admin who opened this session as the user (impersonation); null for the user's own sessions. */
  actor_id: string | null;
}

/** Every refresh token ever issued for a session, by SHA-256; `used_at` marks rotation (single use). */
export interface RefreshTokensTable {
  token_hash: string;
  session_id: string;
  project_id: string;
  created_at: Millis;
  expires_at: Millis;
  used_at: Millis | null;
}

export interface SigningKeysTable {
  kid: string;
  project_id: string;
  alg: string;
  public_jwk: string;
  /** The private JWK, AES-256-GCM sealed with a key derived from the master secret. */
  private_jwk: string;
  created_at: Millis;
  retired_at: Millis | null;
}

/** One security event, linked to the previous one of its project by `prev_hash` (see features/audit). */
export interface AuditEventsTable {
  id: string;
  project_id: string;
  /** 1, 2, 3, ... per project, without gaps. */
  seq: number;
  created_at: Millis;
  event: string;
  outcome: 'success' | 'failure';
  actor_id: string | null;
  subject_id: string | null;
  ip: string | null;
  user_agent: string | null;
  /** JSON object; never a secret. */
  details: string;
  prev_hash: string;
  hash: string;
}

export interface AuditHeadsTable {
  project_id: string;
  seq: number;
  hash: string;
}

export interface WebhooksTable {
  id: string;
  project_id: string;
  url: string;
  description: string | null;
  /** JSON array of event names; `*` subscribes to every event. */
  events: string;
  /** The signing secret, AES-256-GCM sealed with a key derived from the master secret. */
  secret: string;
  /** 1 or 0 (SQLite has no boolean). */
  enabled: number;
  created_at: Millis;
  updated_at: Millis;
}

export interface WebhookDeliveriesTable {
  id: string;
  project_id: string;
  webhook_id: string;
  event_id: string;
  event: string;
  /** The exact JSON body that is sent and signed. */
  payload: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  next_attempt_at: Millis | null;
  last_attempt_at: Millis | null;
  response_status: number | null;
  last_error: string | null;
  created_at: Millis;
  delivered_at: Millis | null;
}

/**
 * One outgoing message. `held`: no SMTP server is configured, the message stays here (development outbox).
 * `pending`: stored, the first attempt is under way. `sent`: delivered to the SMTP server. `failed`: the last
 * attempt failed; retried at `next_attempt_at`, or given up when that is null. With SMTP, `text` and `html` are
 * cleared once the message is sent or given up, so live links do not stay in the database.
 */
export interface OutboxTable {
  id: string;
  project_id: string;
  kind: string;
  to: string;
  subject: string;
  text: string | null;
  html: string | null;
  status: 'held' | 'pending' | 'sent' | 'failed';
  attempts: number;
  /** When the worker tries (again); while an attempt runs, the end of its lease. Null when nothing is due. */
  next_attempt_at: Millis | null;
  last_error: string | null;
  created_at: Millis;
  sent_at: Millis | null;
  /** `email` (SMTP), or `sms` / `push` (text messages posted to the configured webhook gateway). */
  channel: 'email' | 'sms' | 'push';
  /** For text messages: what the message is for, passed on to the gateway (`login`, `activate`, ...). */
  purpose: string | null;
}

/** Until when no new message of one purpose goes to one identifier (`key` = SHA-256 of purpose and identifier). */
export interface SendCooldownsTable {
  project_id: string;
  key: string;
  until: Millis;
}

/** An invitation to an account; only the SHA-256 of its token is stored. */
export interface InvitationsTable {
  id: string;
  project_id: string;
  /** The invited account; null once that account is deleted. */
  user_id: string | null;
  email: string;
  role: string;
  token_hash: string;
  /** The admin who invited (no foreign key: the record outlives them). */
  invited_by: string | null;
  created_at: Millis;
  expires_at: Millis;
  accepted_at: Millis | null;
  revoked_at: Millis | null;
}

/** A single-use secret sent to a person (see features/one-time-tokens). */
export interface OneTimeTokensTable {
  id: string;
  project_id: string;
  /** What redeeming it does, e.g. `password_reset`, `email_verification`, `magic_link`, `activation`. */
  purpose: string;
  user_id: string | null;
  /** Where it was sent: a normalized e-mail address, phone number or push target. */
  identifier: string;
  channel: 'email' | 'sms' | 'push';
  /** SHA-256 of a link token, or HMAC-SHA256 of a code under a server key. */
  secret_hash: string;
  attempts: number;
  max_attempts: number;
  /** JSON object of purpose-specific context (a redirect, a mode); never a secret. */
  data: string;
  created_at: Millis;
  expires_at: Millis;
  used_at: Millis | null;
}

/** A project's own version of a built-in e-mail template, for one locale (Mustache; see mail/email-templates). */
export interface EmailTemplatesTable {
  project_id: string;
  kind: string;
  /** Lower-case BCP 47 tag, e.g. `en`, `de`, `pt-br`. */
  locale: string;
  subject: string;
  text: string;
  html: string;
  updated_at: Millis;
}

/** A second factor of a user; unconfirmed (`confirmed_at` null) until the user proves one code. */
export interface MfaFactorsTable {
  id: string;
  project_id: string;
  user_id: string;
  type: 'totp' | 'email';
  /** The TOTP secret (base32), AES-256-GCM sealed with the factor id as associated data; null for e-mail. */
  secret: string | null;
  /** 1 for the factor offered first at sign-in. */
  is_default: number;
  /** The last accepted TOTP time step: only a later one is accepted (no replay within a code's window). */
  last_step: number | null;
  created_at: Millis;
  confirmed_at: Millis | null;
}

/** One single-use recovery code, stored as an HMAC under a server key. */
export interface RecoveryCodesTable {
  id: string;
  project_id: string;
  user_id: string;
  code_hash: string;
  created_at: Millis;
  used_at: Millis | null;
}

/** Wrong second-factor codes of a user across challenges, and the lockout they led to. */
export interface MfaLockoutsTable {
  user_id: string;
  project_id: string;
  /** Attempts since the last success or lockout (counted before the code is checked). */
  failures: number;
  /** Lockouts since the last success: each one doubles the next. */
  lockouts: number;
  locked_until: Millis;
}

/** A revoked session whose row is gone with its user (see migration 007); kept as long as its tokens could live. */
export interface SessionRevocationsTable {
  session_id: string;
  project_id: string;
  revoked_at: Millis;
}

/**
 * A personal key (`user_id` set) or a project key (`user_id` null). Only the SHA-256 of the key is stored.
 * A rotated-out key points at its successor (`replaced_by`); its `revoked_at` is when it stops (now, or the end of
 * the grace period asked for).
 */
export interface ApiKeysTable {
  id: string;
  project_id: string;
  user_id: string | null;
  kind: 'personal' | 'publishable' | 'secret';
  name: string;
  /** The kind prefix and the first characters of the key, shown in listings. */
  prefix: string;
  key_hash: string;
  /** JSON array of permission strings; null: the user's own permissions (personal keys). */
  scopes: string | null;
  /** The user who created the key (no foreign key: the record outlives them). */
  created_by: string | null;
  created_at: Millis;
  /** Null: no expiry (project keys). */
  expires_at: Millis | null;
  last_used_at: Millis | null;
  revoked_at: Millis | null;
  revoked_reason: string | null;
  replaced_by: string | null;
}

export interface MigrationRow {
  name: string;
  executed_at: Generated<Millis>;
}

export interface Tables {
  projects: ProjectsTable;
  roles: RolesTable;
  users: UsersTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  signing_keys: SigningKeysTable;
  audit_events: AuditEventsTable;
  audit_heads: AuditHeadsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  one_time_tokens: OneTimeTokensTable;
  email_templates: EmailTemplatesTable;
  outbox: OutboxTable;
  invitations: InvitationsTable;
  send_cooldowns: SendCooldownsTable;
  passkeys: PasskeysTable;
  webauthn_challenges: WebauthnChallengesTable;
  mfa_factors: MfaFactorsTable;
  recovery_codes: RecoveryCodesTable;
  mfa_lockouts: MfaLockoutsTable;
  session_revocations: SessionRevocationsTable;
  api_keys: ApiKeysTable;
}

export type UserRow = Selectable<UsersTable>;
/** A user without the password hash: what everything but password checks reads. */
export type UserProfile = Omit<UserRow, 'password_hash'>;
export type NewUser = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type SessionRow = Selectable<SessionsTable>;
export type RoleRow = Selectable<RolesTable>;
export type SigningKeyRow = Selectable<SigningKeysTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
export type WebhookRow = Selectable<WebhooksTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>;
export type OutboxRow = Selectable<OutboxTable>;
export type InvitationRow = Selectable<InvitationsTable>;
export type OneTimeTokenRow = Selectable<OneTimeTokensTable>;
export type PasskeyRow = Selectable<PasskeysTable>;
export type WebauthnChallengeRow = Selectable<WebauthnChallengesTable>;

/** A WebAuthn credential of a user (a passkey). */
export interface PasskeysTable {
  id: string;
  project_id: string;
  user_id: string;
  /** The credential id as base64url; unique per project. */
  credential_id: string;
  /** COSE public key as base64url (public; not a secret). */
  public_key: string;
  /** Last signature counter seen; 0 for authenticators that do not count (most synced passkeys). */
  counter: number;
  /** JSON array of transports the browser reported (`internal`, `hybrid`, `usb`, ...). */
  transports: string;
  aaguid: string;
  name: string;
  device_type: 'singleDevice' | 'multiDevice';
  /** 1 when the credential is backed up (synced), else 0. */
  backed_up: number;
  created_at: Millis;
  last_used_at: Millis | null;
}

/** An issued WebAuthn challenge, bound to its ceremony (and user); single use, short-lived. */
export interface WebauthnChallengesTable {
  id: string;
  project_id: string;
  ceremony: 'registration' | 'login' | 'mfa';
  /** Registration and second-factor ceremonies belong to one account; usernameless sign-in to none. */
  user_id: string | null;
  /** SHA-256 of the base64url challenge. */
  challenge_hash: string;
  created_at: Millis;
  expires_at: Millis;
  used_at: Millis | null;
}
export type MfaFactorRow = Selectable<MfaFactorsTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
