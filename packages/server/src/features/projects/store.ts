import type { Kysely } from 'kysely';
import { randomId } from '../../crypto/random.js';
import type { RoleRow, Tables } from '../../db/types.js';

export const DEFAULT_PROJECT_SLUG = 'default';

/** The roles every project starts with. `*` grants every permission; issue-specific ones are added later. */
export const BUILT_IN_ROLES: readonly { name: string; description: string; permissions: string[] }[] = [
  { name: 'admin', description: 'Full access to the project.', permissions: ['*'] },
  { name: 'user', description: 'A signed-up account (the default role).', permissions: [] },
  { name: 'guest', description: 'Limited account, e.g. invited but not yet verified.', permissions: [] },
  { name: 'public', description: 'What an anonymous caller may do.', permissions: [] },
];

/** Creates the `default` project and its built-in roles once; safe to call on every start and on every node. */
export async function ensureDefaultProject(db: Kysely<Tables>, now: number): Promise<string> {
  const existing = await db
    .selectFrom('projects')
    .select('id')
    .where('slug', '=', DEFAULT_PROJECT_SLUG)
    .executeTakeFirst();
  const projectId = existing?.id ?? randomId();
  if (!existing) {
    await db
      .insertInto('projects')
      .values({ id: projectId, slug: DEFAULT_PROJECT_SLUG, name: 'Default', created_at: now })
      .onConflict((conflict) => conflict.column('slug').doNothing())
      .execute();
  }
  const project = await db
    .selectFrom('projects')
    .select('id')
    .where('slug', '=', DEFAULT_PROJECT_SLUG)
    .executeTakeFirstOrThrow();
  for (const role of BUILT_IN_ROLES) {
    await db
      .insertInto('roles')
      .values({
        id: randomId(),
        project_id: project.id,
        name: role.name,
        description: role.description,
        permissions: JSON.stringify(role.permissions),
        created_at: now,
      })
      .onConflict((conflict) => conflict.columns(['project_id', 'name']).doNothing())
      .execute();
  }
  return project.id;
}

export async function findRole(db: Kysely<Tables>, projectId: string, name: string): Promise<RoleRow | undefined> {
  return db
    .selectFrom('roles')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('name', '=', name)
    .executeTakeFirst();
}
