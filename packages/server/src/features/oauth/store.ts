import type { Kysely, Transaction } from 'kysely';
import type { IdentityRow, OAuthFlowsTable, ProviderRow, Tables } from '../../db/types.js';

type Db = Kysely<Tables> | Transaction<Tables>;

export async function findIdentity(
  db: Db,
  projectId: string,
  provider: string,
  subject: string,
): Promise<IdentityRow | undefined> {
  return db
    .selectFrom('identities')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('provider', '=', provider)
    .where('subject', '=', subject)
    .executeTakeFirst();
}

export async function listIdentities(db: Db, userId: string): Promise<IdentityRow[]> {
  return db.selectFrom('identities').selectAll().where('user_id', '=', userId).orderBy('created_at').execute();
}

/** Inserts an identity; false when (project, provider, subject) is taken (a parallel link or sign-in won). */
export async function insertIdentity(db: Db, row: IdentityRow): Promise<boolean> {
  const result = await db
    .insertInto('identities')
    .values(row)
    .onConflict((conflict) => conflict.columns(['project_id', 'provider', 'subject']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function touchIdentity(
  db: Db,
  id: string,
  values: { last_used_at: number; email: string | null; email_verified: number },
): Promise<void> {
  await db.updateTable('identities').set(values).where('id', '=', id).execute();
}

export async function insertFlow(db: Db, row: OAuthFlowsTable): Promise<void> {
  await db.insertInto('oauth_flows').values(row).execute();
}

/** Drops flows and tickets that ended a while ago; they prove nothing any more. */
export async function pruneFlows(db: Db, before: number): Promise<void> {
  await db.deleteFrom('oauth_flows').where('expires_at', '<', before).execute();
}

/**
 * Uses a flow or ticket once: one conditional UPDATE, so of parallel callbacks exactly one wins. Answers the row
 * (with the linking user, if any) or null when it is unknown, used, expired or of another provider.
 */
export async function consumeFlow(
  db: Db,
  where: { projectId: string; provider: string; now: number } & ({ id: string } | { ticketHash: string }),
): Promise<{ id: string; user_id: string | null } | null> {
  let lookup = db
    .selectFrom('oauth_flows')
    .select(['id', 'user_id'])
    .where('project_id', '=', where.projectId)
    .where('provider', '=', where.provider);
  lookup =
    'id' in where
      ? lookup.where('id', '=', where.id).where('purpose', '=', 'flow')
      : lookup.where('ticket_hash', '=', where.ticketHash).where('purpose', '=', 'link_ticket');
  const row = await lookup.executeTakeFirst();
  if (!row) return null;
  const won = await db
    .updateTable('oauth_flows')
    .set({ used_at: where.now })
    .where('id', '=', row.id)
    .where('used_at', 'is', null)
    .where('expires_at', '>', where.now)
    .executeTakeFirst();
  return Number(won.numUpdatedRows) === 1 ? row : null;
}

export async function findProviderRow(db: Db, projectId: string, name: string): Promise<ProviderRow | undefined> {
  return db
    .selectFrom('providers')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('name', '=', name)
    .executeTakeFirst();
}
