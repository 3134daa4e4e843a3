import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

/** Times are integer milliseconds since the epoch on both dialects (bigint in PostgreSQL, parsed to number). */
type Millis = number;

export interface ProjectsTable {
  id: string;
  slug: string;
  name: string;
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
}

export type UserRow = Selectable<UsersTable>;
/** A user without the password hash: what everything but password checks reads. */
export type UserProfile = Omit<UserRow, 'password_hash'>;
export type NewUser = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type SessionRow = Selectable<SessionsTable>;
export type RoleRow = Selectable<RolesTable>;
export type SigningKeyRow = Selectable<SigningKeysTable>;
