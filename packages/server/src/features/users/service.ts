import type { User } from '@gatehouse/protocol';
import type { UserRow } from '../../db/types.js';

/** Lower-cases and trims an e-mail, so `Ada@Example.com ` and `ada@example.com` are one account. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

const iso = (millis: number): string => new Date(millis).toISOString();

/** The public shape of a user: never the password hash, never internal columns. */
export function toPublicUser(row: UserRow): User {
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
