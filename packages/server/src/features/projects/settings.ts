import type { ProjectSettings, UpdateProjectSettingsBody } from '@gatehouse/protocol';
import type { Kysely } from 'kysely';
import type { Caller, RequestMeta } from '../../caller.js';
import type { Clock } from '../../clock.js';
import type { Tables } from '../../db/types.js';
import { AuthError, invalidPayload } from '../../errors/auth-error.js';
import type { AuditLog } from '../audit/index.js';

export const DEFAULT_SETTINGS: ProjectSettings = {
  signup: 'open',
  mfa: 'optional',
  access_token_ttl: null,
  refresh_token_ttl: null,
  session_cookie_ttl: null,
  password: { min_length: 8, forbid_email: false },
  email_verification: 'optional',
  new_sign_in_notice: true,
};

/** The server's configured lifetimes (milliseconds): the defaults, and the ceilings a project may lower. */
export interface LifetimeLimits {
  accessTokenTtl: number;
  refreshTokenTtl: number;
  sessionCookieTtl: number;
}

/** How long a node may serve settings from memory before reading them again (changes made on it apply at once). */
const CACHE_TTL = 5_000;

/**
 * Per-project settings, stored as one JSON document on the project row. Missing keys take their defaults, so a
 * setting added later needs no migration. Reads are served from memory for a few seconds: sign-in and refresh
 * consult them on every call.
 */
export class ProjectSettingsService {
  private readonly cache = new Map<string, { settings: ProjectSettings; loadedAt: number }>();

  constructor(
    private readonly db: Kysely<Tables>,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
    private readonly limits: LifetimeLimits,
  ) {}

  async get(projectId: string): Promise<ProjectSettings> {
    const cached = this.cache.get(projectId);
    if (cached && this.clock.now() - cached.loadedAt < CACHE_TTL) return cached.settings;
    const row = await this.db.selectFrom('projects').select('settings').where('id', '=', projectId).executeTakeFirst();
    const settings = merge(DEFAULT_SETTINGS, row ? (JSON.parse(row.settings) as Partial<ProjectSettings>) : {});
    this.cache.set(projectId, { settings, loadedAt: this.clock.now() });
    return settings;
  }

  /** Resolves a project named in a path (its id or slug) to the caller's own project, or 404. */
  async resolve(caller: Caller, idOrSlug: string): Promise<string> {
    const project = await this.db
      .selectFrom('projects')
      .select(['id', 'slug'])
      .where('id', '=', caller.projectId)
      .executeTakeFirst();
    if (!project || (project.id !== idOrSlug && project.slug !== idOrSlug)) {
      throw new AuthError('RECORD_NOT_FOUND', 'Project not found.');
    }
    return project.id;
  }

  async update(caller: Caller, body: UpdateProjectSettingsBody, meta: RequestMeta): Promise<ProjectSettings> {
    for (const [key, limit] of [
      ['access_token_ttl', this.limits.accessTokenTtl],
      ['refresh_token_ttl', this.limits.refreshTokenTtl],
      ['session_cookie_ttl', this.limits.sessionCookieTtl],
    ] as const) {
      const seconds = body[key];
      if (typeof seconds === 'number' && seconds * 1000 > limit) {
        throw invalidPayload(`${key} may be at most ${Math.floor(limit / 1000)} seconds (the server's setting).`);
      }
    }
    const current = await this.db
      .selectFrom('projects')
      .select('settings')
      .where('id', '=', caller.projectId)
      .executeTakeFirstOrThrow();
    const stored = JSON.parse(current.settings) as Partial<ProjectSettings>;
    const next = merge(merge(DEFAULT_SETTINGS, stored), body);
    await this.db
      .updateTable('projects')
      .set({ settings: JSON.stringify(next) })
      .where('id', '=', caller.projectId)
      .execute();
    this.cache.set(caller.projectId, { settings: next, loadedAt: this.clock.now() });
    await this.audit.record(caller.projectId, {
      event: 'project.settings_updated',
      actorId: caller.actorId ?? caller.userId,
      ...meta,
      details: { changed: body },
    });
    return next;
  }

  /** The lifetimes (milliseconds) tokens of this project get. */
  lifetimes(settings: ProjectSettings): LifetimeLimits {
    const pick = (seconds: number | null, limit: number) =>
      seconds === null ? limit : Math.min(seconds * 1000, limit);
    return {
      accessTokenTtl: pick(settings.access_token_ttl, this.limits.accessTokenTtl),
      refreshTokenTtl: pick(settings.refresh_token_ttl, this.limits.refreshTokenTtl),
      sessionCookieTtl: pick(settings.session_cookie_ttl, this.limits.sessionCookieTtl),
    };
  }
}

/** Refuses a password the project's policy does not allow, with a message that says which rule. */
export function checkPasswordPolicy(settings: ProjectSettings, password: string, email: string): void {
  const { min_length, forbid_email } = settings.password;
  if ([...password].length < min_length) {
    throw invalidPayload(`The password must be at least ${min_length} characters long.`);
  }
  const local = email.split('@')[0]?.toLowerCase() ?? '';
  if (forbid_email && local.length >= 3 && password.toLowerCase().includes(local)) {
    throw invalidPayload('The password must not contain your e-mail address.');
  }
}

function merge(base: ProjectSettings, patch: Partial<UpdateProjectSettingsBody>): ProjectSettings {
  return {
    ...base,
    ...(patch as Partial<ProjectSettings>),
    password: { ...base.password, ...(patch.password ?? {}) },
  };
}
