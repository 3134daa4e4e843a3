import type { CreateProviderBody, ErrorCode, ProviderConfig, UpdateProviderBody } from '@gatehouse/protocol';
import type { Kysely } from 'kysely';
import type { Caller, RequestMeta } from '../../caller.js';
import type { Clock } from '../../clock.js';
import type { Config } from '../../config/index.js';
import { randomId } from '../../crypto/random.js';
import { seal } from '../../crypto/secret-box.js';
import type { ProviderRow, Tables } from '../../db/types.js';
import type { AuditLog } from '../audit/index.js';
import { PRESETS } from './drivers.js';
import { fromRow, listProviders, toProviderConfig } from './providers.js';
import { findProviderRow } from './store.js';

export interface ProviderAdminDeps {
  db: Kysely<Tables>;
  clock: Clock;
  config: Config;
  audit: AuditLog;
  /** Seals client secrets at rest (AES-256-GCM, the provider id as associated data). */
  secretKey: Uint8Array;
}

export type AdminOutcome<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string };

const notFound = { ok: false, code: 'RECORD_NOT_FOUND', message: 'Provider not found.' } as const;
const fromEnvironment = {
  ok: false,
  code: 'FORBIDDEN',
  message: 'This provider is configured by environment variables and cannot be changed through the API.',
} as const;
const invalid = (message: string) => ({ ok: false, code: 'INVALID_PAYLOAD', message }) as const;

function checkUrl(raw: string | null | undefined, production: boolean): string | null {
  if (raw === null || raw === undefined) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be a URL';
  }
  if (url.username || url.password) return 'must not hold credentials';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && !production && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
    return null;
  }
  return 'must be https (http only to a loopback host outside production)';
}

/** Sign-in providers managed by admins. Client secrets go in sealed and never come out. */
export class ProviderAdmin {
  constructor(private readonly deps: ProviderAdminDeps) {}

  async list(projectId: string): Promise<ProviderConfig[]> {
    const { db, config, secretKey } = this.deps;
    return (await listProviders(db, projectId, config.oauthProviders, secretKey)).map(toProviderConfig);
  }

  async get(projectId: string, name: string): Promise<ProviderConfig | null> {
    return (await this.list(projectId)).find((provider) => provider.name === name) ?? null;
  }

  async create(caller: Caller, body: CreateProviderBody, meta: RequestMeta): Promise<AdminOutcome<ProviderConfig>> {
    const { db, clock, config, secretKey } = this.deps;
    if (config.oauthProviders.some((provider) => provider.name === body.name)) {
      return { ok: false, code: 'RECORD_NOT_UNIQUE', message: 'A provider with this name is configured already.' };
    }
    const problem = this.check(body.driver, body);
    if (problem) return invalid(problem);
    const now = clock.now();
    const id = randomId();
    const row: ProviderRow = {
      id,
      project_id: caller.projectId,
      name: body.name,
      label: body.label ?? (body.driver === 'oidc' ? body.name : PRESETS[body.driver].label),
      driver: body.driver,
      icon: body.icon === undefined ? body.driver : body.icon,
      client_id: body.client_id,
      client_secret: body.client_secret ? seal(secretKey, body.client_secret, id) : null,
      issuer: body.issuer ?? null,
      scopes: JSON.stringify(body.scopes ?? []),
      mode: body.mode ?? 'cookie',
      enabled: body.enabled === false ? 0 : 1,
      authorization_url: body.authorization_url ?? null,
      token_url: body.token_url ?? null,
      userinfo_url: body.userinfo_url ?? null,
      created_at: now,
      updated_at: now,
    };
    const inserted = await db
      .insertInto('providers')
      .values(row)
      .onConflict((conflict) => conflict.columns(['project_id', 'name']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) !== 1) {
      return { ok: false, code: 'RECORD_NOT_UNIQUE', message: 'A provider with this name is configured already.' };
    }
    await this.record(caller, 'provider.created', meta, { name: row.name, driver: row.driver, enabled: !!row.enabled });
    return { ok: true, value: toProviderConfig(fromRow(row, secretKey)) };
  }

  async update(
    caller: Caller,
    name: string,
    body: UpdateProviderBody,
    meta: RequestMeta,
  ): Promise<AdminOutcome<ProviderConfig>> {
    const { db, clock, config, secretKey } = this.deps;
    if (config.oauthProviders.some((provider) => provider.name === name)) return fromEnvironment;
    const current = await findProviderRow(db, caller.projectId, name);
    if (!current) return notFound;
    const merged = {
      issuer: body.issuer === undefined ? current.issuer : body.issuer,
      authorization_url: body.authorization_url === undefined ? current.authorization_url : body.authorization_url,
      token_url: body.token_url === undefined ? current.token_url : body.token_url,
      userinfo_url: body.userinfo_url === undefined ? current.userinfo_url : body.userinfo_url,
    };
    const problem = this.check(current.driver as CreateProviderBody['driver'], merged);
    if (problem) return invalid(problem);
    const patch: Partial<ProviderRow> = {
      ...merged,
      updated_at: Math.max(clock.now(), Number(current.updated_at) + 1),
    };
    if (body.label !== undefined) patch.label = body.label;
    if (body.icon !== undefined) patch.icon = body.icon;
    if (body.client_id !== undefined) patch.client_id = body.client_id;
    if (body.client_secret !== undefined) {
      patch.client_secret = body.client_secret === null ? null : seal(secretKey, body.client_secret, current.id);
    }
    if (body.scopes !== undefined) patch.scopes = JSON.stringify(body.scopes);
    if (body.mode !== undefined) patch.mode = body.mode;
    if (body.enabled !== undefined) patch.enabled = body.enabled ? 1 : 0;
    await db.updateTable('providers').set(patch).where('id', '=', current.id).execute();
    const fields = Object.keys(body);
    await this.record(caller, 'provider.updated', meta, { name, fields });
    return { ok: true, value: toProviderConfig(fromRow({ ...current, ...patch }, secretKey)) };
  }

  async remove(caller: Caller, name: string, meta: RequestMeta): Promise<AdminOutcome<null>> {
    const { db, config } = this.deps;
    if (config.oauthProviders.some((provider) => provider.name === name)) return fromEnvironment;
    const deleted = await db
      .deleteFrom('providers')
      .where('project_id', '=', caller.projectId)
      .where('name', '=', name)
      .executeTakeFirst();
    if (Number(deleted.numDeletedRows) !== 1) return notFound;
    await this.record(caller, 'provider.deleted', meta, { name });
    return { ok: true, value: null };
  }

  /** The settings a driver needs, and URLs that are safe to call. */
  private check(
    driver: CreateProviderBody['driver'],
    fields: Pick<CreateProviderBody, 'issuer' | 'authorization_url' | 'token_url' | 'userinfo_url'>,
  ): string | null {
    if (driver === 'apple') return 'Apple signs its client secret with a key: configure it by environment variables.';
    const preset = PRESETS[driver];
    if (preset.kind === 'oidc' && !fields.issuer && !preset.issuer) return 'The oidc driver needs an issuer.';
    for (const key of ['issuer', 'authorization_url', 'token_url', 'userinfo_url'] as const) {
      const problem = checkUrl(fields[key], this.deps.config.production);
      if (problem) return `${key} ${problem}.`;
    }
    return null;
  }

  private async record(
    caller: Caller,
    event: 'provider.created' | 'provider.updated' | 'provider.deleted',
    meta: RequestMeta,
    details: Record<string, unknown>,
  ): Promise<void> {
    await this.deps.audit.record(caller.projectId, {
      event,
      actorId: caller.actorId ?? caller.userId,
      ...meta,
      details,
    });
  }
}
