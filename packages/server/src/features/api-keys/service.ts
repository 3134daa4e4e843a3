import type { ApiKey, ApiKeyStatus, CreateApiKeyBody, ProjectKey, ProjectKeyKind } from '@gatehouse/protocol';
import type { Kysely } from 'kysely';
import type { Caller, Credential, CredentialSource, RequestMeta } from '../../caller.js';
import type { Clock } from '../../clock.js';
import { type ApiKeyKind, generateApiKey, parseApiKey } from '../../crypto/api-key.js';
import { sha256 } from '../../crypto/hash.js';
import { randomId } from '../../crypto/random.js';
import type { ApiKeyRow, ApiKeysTable, Tables } from '../../db/types.js';
import { AuthError } from '../../errors/auth-error.js';
import type { AuditLog } from '../audit/index.js';
import { RECENT_AUTH_MAX_AGE, requireRecentAuth } from '../auth/recent-auth.js';
import { hasPermission } from '../roles/index.js';
import type { RevocationList } from '../sessions/index.js';
import { iso } from '../users/index.js';
import { KeyCache, type KnownKey } from './cache.js';
import * as store from './store.js';

export type Refusal =
  | 'not_found'
  | 'conflict'
  | 'expires_in_past'
  | 'expires_too_late'
  | 'scope_not_held'
  | 'user_not_found'
  | 'impersonating';

export type Result<T> = { ok: true; value: T } | { ok: false; reason: Refusal; detail?: string };

/** Why a presented key does not work. `malformed` is decided from the string alone, before any lookup. */
export type KeyFailure = 'malformed' | 'unknown' | 'revoked' | 'expired';

export type VerifyResult = { ok: true; key: KnownKey } | { ok: false; reason: KeyFailure };

/** The registry error for a key that does not work. Holding an expired or revoked key proves knowing it, so it is told. */
export function keyError(reason: KeyFailure): AuthError {
  if (reason === 'expired') return new AuthError('API_KEY_EXPIRED', 'The API key has expired.');
  if (reason === 'revoked') return new AuthError('API_KEY_REVOKED', 'The API key has been revoked.');
  return new AuthError('API_KEY_INVALID', 'Invalid API key.', { detail: `api key ${reason}` });
}

export interface ApiKeyServiceDeps {
  db: Kysely<Tables>;
  clock: Clock;
  audit: AuditLog;
  revocations: RevocationList;
  /** Answers the permissions the user holds now, or undefined when there is no such user in the project. */
  permissionsOf(userId: string, projectId: string): Promise<string[] | undefined>;
  onTouchError(error: unknown): void;
  defaultTtl: number;
  maxTtl: number;
  /** How long a verified key is served from memory before its row is read again (see KeyCache). */
  cacheTtl: number;
}

const CACHE_ENTRIES = 10_000;

/**
 * Personal API keys (`gatehouse_pat_`) and project keys (`gatehouse_pk_`, `gatehouse_sk_`): creation, listing,
 * rotation, revocation and verification. Only the SHA-256 of a key is stored (256 random bits: DESIGN §4), and
 * a key is shown once, when it is created or rotated.
 *
 * Verification costs a checksum test, one SHA-256 and a map lookup on the hot path: verified keys are kept in a
 * bounded in-process cache, checked on every hit against the revocation list (features/sessions), which learns
 * of revocations on this node at once and of those on other nodes by its poll. `last_used_at` is written at most
 * once a minute per key, without the response waiting for it.
 */
export class ApiKeyService {
  private readonly cache: KeyCache;

  constructor(private readonly deps: ApiKeyServiceDeps) {
    this.cache = new KeyCache({ ttl: deps.cacheTtl, maxEntries: CACHE_ENTRIES });
    deps.revocations.addSource(store.keysRevokedSince);
  }

  /** Checks a presented key: format and checksum first, then the cache or the database. */
  async verify(presented: string): Promise<VerifyResult> {
    if (parseApiKey(presented) === null) return { ok: false, reason: 'malformed' };
    const { clock, db, revocations } = this.deps;
    const now = clock.now();
    const hash = sha256(presented);
    let key = this.cache.get(hash, now);
    if (!key) {
      const row = await store.findKeyByHash(db, hash);
      if (!row) return { ok: false, reason: 'unknown' };
      key = {
        id: row.id,
        kind: row.kind,
        projectId: row.project_id,
        userId: row.user_id,
        scopes: row.scopes === null ? null : (JSON.parse(row.scopes) as string[]),
        expiresAt: row.expires_at,
        stopsAt: row.revoked_at,
        touchedAt: row.last_used_at ?? 0,
      };
      this.cache.set(hash, key, now);
    }
    if ((key.stopsAt !== null && key.stopsAt <= now) || revocations.has(key.id))
      return { ok: false, reason: 'revoked' };
    if (key.expiresAt !== null && key.expiresAt <= now) return { ok: false, reason: 'expired' };
    if (now - key.touchedAt >= store.TOUCH_INTERVAL) {
      key.touchedAt = now;
      store.touchKey(db, key.id, now).catch(this.deps.onTouchError);
    }
    return { ok: true, key };
  }

  /**
   * Resolves a key credential to its caller, or throws the registry error. Keys are taken from the Authorization
   * and API key headers only: a key in a URL ends up in proxy logs and browser history.
   */
  async resolveCaller(credential: Credential): Promise<Caller> {
    if (credential.source !== 'authorization' && credential.source !== 'api-key-header') {
      throw new AuthError('API_KEY_INVALID', 'Send API keys in the Authorization or X-API-Key header.');
    }
    const result = await this.verify(credential.token);
    if (!result.ok) throw keyError(result.reason);
    const caller = this.callerOf(result.key, credential.source);
    if (!caller) throw new AuthError('API_KEY_INVALID', 'A publishable key names a project; it is not a credential.');
    return caller;
  }

  /** The project a publishable key names, which must be `servedProjectId`, or throws PROJECT_KEY_INVALID. */
  async resolvePublishable(presented: string, servedProjectId: string): Promise<{ keyId: string; projectId: string }> {
    const result = await this.verify(presented);
    if (!result.ok || result.key.kind !== 'publishable' || result.key.projectId !== servedProjectId) {
      throw new AuthError('PROJECT_KEY_INVALID', 'Unknown or revoked publishable key.', {
        detail: result.ok ? `a ${result.key.kind} key` : `publishable key ${result.reason}`,
      });
    }
    return { keyId: result.key.id, projectId: result.key.projectId };
  }

  /** True when `userId` is an account of `projectId`. */
  async isUserOf(userId: string, projectId: string): Promise<boolean> {
    return (await this.deps.permissionsOf(userId, projectId)) !== undefined;
  }

  async project(projectId: string): Promise<{ id: string; slug: string; name: string } | undefined> {
    return this.deps.db
      .selectFrom('projects')
      .select(['id', 'slug', 'name'])
      .where('id', '=', projectId)
      .executeTakeFirst();
  }

  /** The caller a personal or secret key acts as. Publishable keys are not credentials (see `projectOf`). */
  callerOf(key: KnownKey, source: CredentialSource): Caller | null {
    if (key.kind === 'personal' && key.userId !== null) {
      return {
        userId: key.userId,
        sessionId: key.id,
        projectId: key.projectId,
        role: '',
        permissions: [],
        source,
        claims: {},
        actorId: null,
        apiKey: { id: key.id, kind: 'personal', scopes: key.scopes },
      };
    }
    if (key.kind === 'secret') {
      return {
        userId: key.id,
        sessionId: key.id,
        projectId: key.projectId,
        role: 'admin',
        permissions: ['*'],
        source,
        claims: {},
        actorId: null,
        apiKey: { id: key.id, kind: 'secret', scopes: null },
      };
    }
    return null;
  }

  /** Creates a personal key for the caller's own account. */
  async createPersonal(
    caller: Caller,
    body: CreateApiKeyBody,
    meta: RequestMeta,
  ): Promise<Result<{ row: ApiKeyRow; key: string }>> {
    // A key outlives the impersonation session: an admin acting as the user must not leave one behind.
    if (caller.actorId !== null) return { ok: false, reason: 'impersonating' };
    // A key is a lasting credential: minting one needs a recent sign-in, not just any live token (403).
    requireRecentAuth(caller, RECENT_AUTH_MAX_AGE, this.deps.clock.now());
    const { clock, defaultTtl, maxTtl } = this.deps;
    const now = clock.now();
    const expiresAt = body.expires_at === undefined ? now + defaultTtl : Date.parse(body.expires_at);
    if (expiresAt <= now) return { ok: false, reason: 'expires_in_past' };
    if (expiresAt > now + maxTtl) return { ok: false, reason: 'expires_too_late', detail: String(maxTtl) };
    const scopes = body.scopes ?? null;
    if (scopes !== null) {
      const held = await this.deps.permissionsOf(caller.userId, caller.projectId);
      if (!held) return { ok: false, reason: 'user_not_found' };
      const missing = scopes.find((scope) => !hasPermission(held, scope));
      if (missing !== undefined) return { ok: false, reason: 'scope_not_held', detail: missing };
    }
    const created = await this.insert({
      kind: 'personal',
      projectId: caller.projectId,
      userId: caller.userId,
      name: body.name,
      scopes,
      expiresAt,
      createdBy: caller.actorId ?? caller.userId,
    });
    await this.deps.audit.record(caller.projectId, {
      event: 'api_key.created',
      actorId: caller.actorId ?? caller.userId,
      subjectId: caller.userId,
      ...meta,
      details: {
        key_id: created.row.id,
        name: body.name,
        prefix: created.row.prefix,
        scopes,
        expires_at: iso(expiresAt),
      },
    });
    return { ok: true, value: created };
  }

  /** Creates a publishable or secret key of the caller's project. */
  async createProjectKey(
    caller: Caller,
    input: { kind: ProjectKeyKind; name: string },
    meta: RequestMeta,
  ): Promise<{ row: ApiKeyRow; key: string }> {
    const created = await this.insert({
      kind: input.kind,
      projectId: caller.projectId,
      userId: null,
      name: input.name,
      scopes: null,
      expiresAt: null,
      createdBy: caller.actorId ?? caller.userId,
    });
    await this.deps.audit.record(caller.projectId, {
      event: 'project_key.created',
      actorId: caller.actorId ?? caller.userId,
      ...meta,
      details: { key_id: created.row.id, kind: input.kind, name: input.name, prefix: created.row.prefix },
    });
    return created;
  }

  async listForUser(userId: string): Promise<ApiKeyRow[]> {
    return store.listUserKeys(this.deps.db, userId, this.deps.clock.now());
  }

  async listForProject(projectId: string): Promise<ApiKeyRow[]> {
    return store.listProjectKeys(this.deps.db, projectId, this.deps.clock.now());
  }

  /**
   * Replaces the secret of a key: a new row with the same name, kind, scopes and expiry, and the old one stops
   * now or after `graceSeconds`. Of parallel rotations of one key, exactly one wins (see store.rotateKey).
   */
  async rotate(
    caller: Caller,
    owner: KeyOwner,
    keyId: string,
    graceSeconds: number,
    meta: RequestMeta,
  ): Promise<Result<{ row: ApiKeyRow; key: string }>> {
    if (caller.actorId !== null) return { ok: false, reason: 'impersonating' };
    const { db, clock, revocations } = this.deps;
    const old = await store.findKeyById(db, keyId);
    if (!old || !owns(owner, old)) return { ok: false, reason: 'not_found' };
    const now = clock.now();
    const stopsAt = now + graceSeconds * 1000;
    const generated = generateApiKey(old.kind);
    const successor: ApiKeysTable = {
      ...old,
      id: randomId(),
      prefix: generated.displayPrefix,
      key_hash: sha256(generated.key),
      created_by: caller.actorId ?? caller.userId,
      created_at: now,
      last_used_at: null,
      revoked_at: null,
      revoked_reason: null,
      replaced_by: null,
    };
    if (!(await store.rotateKey(db, { id: old.id, successor, now, stopsAt }))) return { ok: false, reason: 'conflict' };
    revocations.add([old.id], stopsAt);
    await this.deps.audit.record(old.project_id, {
      event: old.kind === 'personal' ? 'api_key.rotated' : 'project_key.rotated',
      actorId: caller.actorId ?? caller.userId,
      subjectId: old.user_id,
      ...meta,
      details: { key_id: old.id, new_key_id: successor.id, grace_period: graceSeconds, prefix: successor.prefix },
    });
    return { ok: true, value: { row: successor, key: generated.key } };
  }

  /** Revokes a key at once, on this node now and on the others at their next revocation poll. */
  async revoke(caller: Caller, owner: KeyOwner, keyId: string, meta: RequestMeta): Promise<Result<void>> {
    const { db, clock, revocations } = this.deps;
    const key = await store.findKeyById(db, keyId);
    if (!key || !owns(owner, key)) return { ok: false, reason: 'not_found' };
    const now = clock.now();
    const byOwner = owner.userId !== undefined && owner.userId === caller.userId;
    if (await store.revokeKey(db, key.id, { now, reason: byOwner ? 'owner' : 'admin' })) {
      revocations.add([key.id], now);
      await this.deps.audit.record(key.project_id, {
        event: key.kind === 'personal' ? 'api_key.revoked' : 'project_key.revoked',
        actorId: caller.actorId ?? caller.userId,
        subjectId: key.user_id,
        ...meta,
        details: { key_id: key.id, prefix: key.prefix, name: key.name },
      });
    }
    return { ok: true, value: undefined };
  }

  private async insert(input: {
    kind: ApiKeyKind;
    projectId: string;
    userId: string | null;
    name: string;
    scopes: readonly string[] | null;
    expiresAt: number | null;
    createdBy: string;
  }): Promise<{ row: ApiKeyRow; key: string }> {
    const generated = generateApiKey(input.kind);
    const row: ApiKeysTable = {
      id: randomId(),
      project_id: input.projectId,
      user_id: input.userId,
      kind: input.kind,
      name: input.name,
      prefix: generated.displayPrefix,
      key_hash: sha256(generated.key),
      scopes: input.scopes === null ? null : JSON.stringify(input.scopes),
      created_by: input.createdBy,
      created_at: this.deps.clock.now(),
      expires_at: input.expiresAt,
      last_used_at: null,
      revoked_at: null,
      revoked_reason: null,
      replaced_by: null,
    };
    await store.insertKey(this.deps.db, row);
    return { row, key: generated.key };
  }

  statusOf(row: ApiKeyRow): ApiKeyStatus {
    const now = this.deps.clock.now();
    if (row.revoked_at !== null) return row.revoked_at > now ? 'rotating' : 'revoked';
    if (row.expires_at !== null && row.expires_at <= now) return 'expired';
    return 'active';
  }

  toApiKey(row: ApiKeyRow): ApiKey {
    return {
      id: row.id,
      name: row.name,
      prefix: row.prefix,
      scopes: row.scopes === null ? null : (JSON.parse(row.scopes) as string[]),
      status: this.statusOf(row),
      created_at: iso(row.created_at),
      expires_at: iso(row.expires_at ?? 0),
      last_used_at: row.last_used_at === null ? null : iso(row.last_used_at),
      revoked_at: row.revoked_at === null ? null : iso(row.revoked_at),
      replaced_by: row.replaced_by,
    };
  }

  toProjectKey(row: ApiKeyRow): ProjectKey {
    return {
      id: row.id,
      kind: row.kind === 'secret' ? 'secret' : 'publishable',
      name: row.name,
      prefix: row.prefix,
      status: this.statusOf(row),
      created_at: iso(row.created_at),
      last_used_at: row.last_used_at === null ? null : iso(row.last_used_at),
      revoked_at: row.revoked_at === null ? null : iso(row.revoked_at),
      replaced_by: row.replaced_by,
    };
  }
}

/** Whose keys an operation may touch: one user's personal keys, or one project's project keys. */
export type KeyOwner = { userId: string; projectId: string } | { userId?: undefined; projectId: string };

function owns(owner: KeyOwner, row: ApiKeyRow): boolean {
  if (row.project_id !== owner.projectId) return false;
  if (owner.userId !== undefined) return row.kind === 'personal' && row.user_id === owner.userId;
  return row.kind === 'publishable' || row.kind === 'secret';
}
