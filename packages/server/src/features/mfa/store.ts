import { type Kysely, sql, type Transaction } from 'kysely';
import { prepared } from '../../db/prepared.js';
import type { MfaFactorRow, Tables } from '../../db/types.js';

type Executor = Kysely<Tables> | Transaction<Tables>;

/**
 * Serializes changes to one account's factors and recovery codes inside a transaction: a no-op UPDATE of the
 * user row takes its row lock on PostgreSQL (SQLite runs one write transaction at a time anyway), so two
 * activations cannot both be "the first", and two new sets of recovery codes cannot both survive.
 */
export async function lockAccount(trx: Transaction<Tables>, userId: string): Promise<void> {
  await trx.updateTable('users').set({ updated_at: sql<number>`updated_at` }).where('id', '=', userId).execute();
}

const selectFactors = prepared((db, userId: string) =>
  db.selectFrom('mfa_factors').selectAll().where('user_id', '=', userId).orderBy('created_at').orderBy('id'),
);

/** Every factor of the account, confirmed or not: read on every sign-in. */
export async function listFactors(db: Executor, userId: string): Promise<MfaFactorRow[]> {
  return (await selectFactors(db, userId)).rows;
}

export async function findFactor(db: Executor, userId: string, id: string): Promise<MfaFactorRow | undefined> {
  return db.selectFrom('mfa_factors').selectAll().where('user_id', '=', userId).where('id', '=', id).executeTakeFirst();
}

export async function insertFactor(db: Executor, row: MfaFactorRow): Promise<void> {
  await db.insertInto('mfa_factors').values(row).execute();
}

/** Drops unconfirmed factors of a type (an enrolment started again replaces the earlier one). */
export async function deletePending(db: Executor, userId: string, type: MfaFactorRow['type']): Promise<void> {
  await db
    .deleteFrom('mfa_factors')
    .where('user_id', '=', userId)
    .where('type', '=', type)
    .where('confirmed_at', 'is', null)
    .execute();
}

/** Confirms a pending factor; false when it was confirmed or removed meanwhile. */
export async function confirmFactor(db: Executor, id: string, now: number, isDefault: boolean): Promise<boolean> {
  const result = await db
    .updateTable('mfa_factors')
    .set({ confirmed_at: now, is_default: isDefault ? 1 : 0 })
    .where('id', '=', id)
    .where('confirmed_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Records that a TOTP factor accepted the code of time step `step`, only when no code of that or a later step
 * was accepted before: of parallel submissions of one code exactly one succeeds.
 */
export async function claimTotpStep(db: Executor, id: string, step: number): Promise<boolean> {
  const result = await db
    .updateTable('mfa_factors')
    .set({ last_step: step })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function setDefault(db: Executor, userId: string, id: string): Promise<void> {
  await db
    .updateTable('mfa_factors')
    .set({ is_default: sql<number>`case when id = ${id} then 1 else 0 end` })
    .where('user_id', '=', userId)
    .execute();
}

export async function deleteFactor(db: Executor, userId: string, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('mfa_factors')
    .where('user_id', '=', userId)
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

export async function deleteAllFactors(db: Executor, userId: string): Promise<number> {
  const result = await db.deleteFrom('mfa_factors').where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function replaceRecoveryCodes(
  db: Executor,
  input: { projectId: string; userId: string; hashes: { id: string; hash: string }[]; now: number },
): Promise<void> {
  await db.deleteFrom('recovery_codes').where('user_id', '=', input.userId).execute();
  if (input.hashes.length === 0) return;
  await db
    .insertInto('recovery_codes')
    .values(
      input.hashes.map(({ id, hash }) => ({
        id,
        project_id: input.projectId,
        user_id: input.userId,
        code_hash: hash,
        created_at: input.now,
        used_at: null,
      })),
    )
    .execute();
}

/** Uses a recovery code once: a conditional UPDATE, so of parallel uses of one code exactly one wins. */
export async function useRecoveryCode(db: Executor, userId: string, hash: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable('recovery_codes')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('code_hash', '=', hash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function countRecoveryCodes(db: Executor, userId: string): Promise<number> {
  const row = await db
    .selectFrom('recovery_codes')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

const selectRoleMfa = prepared((db, projectId: string, role: string) =>
  db.selectFrom('roles').select('mfa_required').where('project_id', '=', projectId).where('name', '=', role),
);

/** Whether the user's role asks for a second factor. */
export async function roleRequiresMfa(db: Executor, projectId: string, role: string): Promise<boolean> {
  const row = (await selectRoleMfa(db, projectId, role)).rows[0];
  return Number(row?.mfa_required ?? 0) === 1;
}

export type Reservation = { ok: true; locked: boolean } | { ok: false; lockedUntil: number };

/**
 * Counts one second-factor attempt of a user before its code is checked, refused while the user is locked out.
 * The attempt that reaches `limit` locks the user at once, for `backoff[lockouts]` (the last entry beyond), in
 * the same conditional UPDATE: parallel attempts cannot slip past the limit, and no later step has to run for
 * the lock to hold. A right code clears it (`clearAttempts`).
 */
export async function reserveAttempt(
  db: Executor,
  input: { projectId: string; userId: string; now: number; limit: number; backoff: readonly number[] },
): Promise<Reservation> {
  const { now, limit, backoff } = input;
  await db
    .insertInto('mfa_lockouts')
    .values({ user_id: input.userId, project_id: input.projectId, failures: 0, lockouts: 0, locked_until: 0 })
    .onConflict((conflict) => conflict.column('user_id').doNothing())
    .execute();
  const last = backoff[backoff.length - 1] ?? 0;
  const lockFor = sql<number>`case ${sql.join(
    backoff.slice(0, -1).map((ms, level) => sql`when lockouts = ${level} then cast(${ms} as bigint)`),
    sql` `,
  )} else cast(${last} as bigint) end`;
  const reaches = sql<boolean>`failures + 1 >= cast(${limit} as integer)`;
  const row = await db
    .updateTable('mfa_lockouts')
    .set({
      failures: sql<number>`case when ${reaches} then 0 else failures + 1 end`,
      lockouts: sql<number>`case when ${reaches} then lockouts + 1 else lockouts end`,
      locked_until: sql<number>`case when ${reaches} then cast(${now} as bigint) + ${lockFor} else locked_until end`,
    })
    .where('user_id', '=', input.userId)
    .where('locked_until', '<=', now)
    .returning(['locked_until'])
    .executeTakeFirst();
  if (row) return { ok: true, locked: Number(row.locked_until) > now };
  const current = await db
    .selectFrom('mfa_lockouts')
    .select('locked_until')
    .where('user_id', '=', input.userId)
    .executeTakeFirst();
  return { ok: false, lockedUntil: Number(current?.locked_until ?? now) };
}

/** A right code: the count and the backoff start again, and a lock set by this very attempt is lifted. */
export async function clearAttempts(db: Executor, userId: string): Promise<void> {
  await db
    .updateTable('mfa_lockouts')
    .set({ failures: 0, lockouts: 0, locked_until: 0 })
    .where('user_id', '=', userId)
    .execute();
}
