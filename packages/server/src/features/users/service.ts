import type { User } from '@gatehouse/protocol';
import { randomId } from '../../crypto/random.js';
import type { NewUser, UserProfile } from '../../db/types.js';

/** Lower-cases and trims an e-mail, so `Ada@Example.com ` and `ada@example.com` are one account. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export const iso = (millis: number): string => new Date(millis).toISOString();

/** The public shape of a user: never the password hash, never internal columns. */
export function toPublicUser(row: UserProfile): User {
  return {
    id: row.id,
    email: row.email,
    first_name: row.first_name,
    last_name: row.last_name,
    language: row.language,
    title: row.title,
    location: row.location,
    description: row.description,
    avatar: row.avatar,
    status: row.status,
    role: row.role,
    email_verified: row.email_verified_at !== null,
    provider: row.provider,
    last_access: row.last_access === null ? null : iso(row.last_access),
    created_at: iso(row.created_at),
  };
}

export type ProfileFields = Partial<
  Pick<NewUser, 'first_name' | 'last_name' | 'language' | 'title' | 'location' | 'description'>
>;

/** A complete new user row: the one place that knows every column's starting value. */
export function newUserRow(input: {
  projectId: string;
  email: string;
  passwordHash: string | null;
  role: string;
  now: number;
  emailVerifiedAt?: number | null;
  profile?: ProfileFields;
}): NewUser {
  const profile = input.profile ?? {};
  return {
    id: randomId(),
    project_id: input.projectId,
    email: normalizeEmail(input.email),
    email_verified_at: input.emailVerifiedAt ?? null,
    password_hash: input.passwordHash,
    first_name: profile.first_name ?? null,
    last_name: profile.last_name ?? null,
    language: profile.language ?? null,
    title: profile.title ?? null,
    location: profile.location ?? null,
    description: profile.description ?? null,
    avatar: null,
    role: input.role,
    status: 'active',
    provider: 'default',
    last_access: null,
    created_at: input.now,
    updated_at: input.now,
  };
}
