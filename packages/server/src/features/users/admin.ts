import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { hashPassword, type PasswordParams } from '../../crypto/password.js';
import { randomId } from '../../crypto/random.js';
import type { Tables } from '../../db/types.js';
import { normalizeEmail } from './service.js';
import { findUserByEmail, insertUser, updateUser } from './store.js';

export interface AdminInput {
  projectId: string;
  email: string;
  password: string;
  passwordParams: PasswordParams;
  now: number;
  log?: Pick<FastifyBaseLogger, 'info'>;
}

/**
 * Creates the first admin from GATEHOUSE_ADMIN_EMAIL/PASSWORD when the project has no admin yet. Runs on every
 * start but never changes an existing account's password: the variables seed, they do not reset.
 */
export async function ensureFirstAdmin(db: Kysely<Tables>, input: AdminInput): Promise<'created' | 'exists'> {
  const admin = await db
    .selectFrom('users')
    .select('id')
    .where('project_id', '=', input.projectId)
    .where('role', '=', 'admin')
    .executeTakeFirst();
  if (admin) return 'exists';
  return createAdmin(db, input);
}

/** Creates an admin, or promotes the account with that e-mail to admin (the CLI's `admin create`). */
export async function createAdmin(db: Kysely<Tables>, input: AdminInput): Promise<'created' | 'exists'> {
  const email = normalizeEmail(input.email);
  const existing = await findUserByEmail(db, input.projectId, email);
  if (existing) {
    if (existing.role !== 'admin') await updateUser(db, existing.id, { role: 'admin', updated_at: input.now });
    input.log?.info({ userId: existing.id }, 'admin account already exists');
    return 'exists';
  }
  const inserted = await insertUser(db, {
    id: randomId(),
    project_id: input.projectId,
    email,
    email_verified_at: input.now,
    password_hash: await hashPassword(input.password, input.passwordParams),
    first_name: null,
    last_name: null,
    language: null,
    title: null,
    location: null,
    description: null,
    avatar: null,
    role: 'admin',
    status: 'active',
    provider: 'default',
    last_access: null,
    created_at: input.now,
    updated_at: input.now,
  });
  input.log?.info('first admin created');
  return inserted ? 'created' : 'exists';
}
