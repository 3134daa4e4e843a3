import type { InvitationStatus } from '@gatehouse/protocol';
import type { Kysely } from 'kysely';
import type { InvitationRow, InvitationsTable, RoleRow, Tables } from '../../db/types.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A role by name, or by id as the Directus SDK sends it (ids are only compared when they look like one). */
export async function findRoleByNameOrId(
  db: Kysely<Tables>,
  projectId: string,
  nameOrId: string,
): Promise<RoleRow | undefined> {
  return db
    .selectFrom('roles')
    .selectAll()
    .where('project_id', '=', projectId)
    .where((eb) =>
      UUID.test(nameOrId) ? eb.or([eb('name', '=', nameOrId), eb('id', '=', nameOrId)]) : eb('name', '=', nameOrId),
    )
    .executeTakeFirst();
}

export async function insertInvitation(db: Kysely<Tables>, row: InvitationsTable): Promise<void> {
  await db.insertInto('invitations').values(row).execute();
}

export async function findByTokenHash(db: Kysely<Tables>, tokenHash: string): Promise<InvitationRow | undefined> {
  return db.selectFrom('invitations').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
}

export async function findById(db: Kysely<Tables>, projectId: string, id: string): Promise<InvitationRow | undefined> {
  return db
    .selectFrom('invitations')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** Revokes every pending invitation of a user (a new one replaces them); answers how many. */
export async function revokePendingOfUser(db: Kysely<Tables>, userId: string, now: number): Promise<number> {
  const result = await db
    .updateTable('invitations')
    .set({ revoked_at: now })
    .where('user_id', '=', userId)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * Marks an invitation accepted only if it is still pending and unexpired. The condition is checked by the
 * database in the same statement that writes, so of concurrent accepts exactly one changes a row.
 */
export async function claimAcceptance(db: Kysely<Tables>, id: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable('invitations')
    .set({ accepted_at: now })
    .where('id', '=', id)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Revokes one pending invitation; answers false when it was already accepted or revoked. */
export async function revokeIfPending(db: Kysely<Tables>, id: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable('invitations')
    .set({ revoked_at: now })
    .where('id', '=', id)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export interface InvitationFilter {
  projectId: string;
  status?: InvitationStatus;
  now: number;
  before?: { createdAt: number; id: string };
  limit: number;
}

/** Newest first, ties ordered by id. */
export async function listInvitations(db: Kysely<Tables>, filter: InvitationFilter): Promise<InvitationRow[]> {
  let query = db.selectFrom('invitations').selectAll().where('project_id', '=', filter.projectId);
  switch (filter.status) {
    case 'accepted':
      query = query.where('accepted_at', 'is not', null);
      break;
    case 'revoked':
      query = query.where('revoked_at', 'is not', null);
      break;
    case 'pending':
    case 'expired':
      query = query
        .where('accepted_at', 'is', null)
        .where('revoked_at', 'is', null)
        .where('expires_at', filter.status === 'pending' ? '>' : '<=', filter.now);
      break;
  }
  const before = filter.before;
  if (before) {
    query = query.where((eb) =>
      eb.or([
        eb('created_at', '<', before.createdAt),
        eb.and([eb('created_at', '=', before.createdAt), eb('id', '<', before.id)]),
      ]),
    );
  }
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit).execute();
}
