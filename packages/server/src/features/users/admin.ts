import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { hashPassword, type PasswordParams } from '../../crypto/password.js';
import type { Tables } from '../../db/types.js';
import { newUserRow, normalizeEmail } from './service.js';
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
  const inserted = await insertUser(
    db,
    newUserRow({
      projectId: input.projectId,
      email,
      passwordHash: await hashPassword(input.password, input.passwordParams),
      role: 'admin',
      now: input.now,
      emailVerifiedAt: input.now,
    }),
  );
  input.log?.info('first admin created');
  return inserted ? 'created' : 'exists';
}
