import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomToken } from '../crypto/random.js';
import { CONFIG_SCHEMA, type Config, type FieldSpec } from './schema.js';

/** Thrown at boot; its message names every variable that is wrong, one per line. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type Environment = Readonly<Record<string, string | undefined>>;

function isError(value: unknown): value is { error: string } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && 'error' in value;
}

/**
 * Reads and validates every setting once. Outside production a missing GATEHOUSE_SECRET is generated into
 * `<data dir>/secret` (mode 0600) so that a restart keeps the same keys; in production it must be given.
 */
export function loadConfig(env: Environment): Config {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(CONFIG_SCHEMA) as [string, FieldSpec<unknown>][]) {
    const given = env[spec.env];
    const raw = given === undefined || given === '' ? spec.default : given;
    if (raw === undefined || (key === 'databaseUrl' && given === undefined)) {
      values[key] = undefined;
      continue;
    }
    const parsed = spec.parse(raw);
    if (isError(parsed)) problems.push(`${spec.env} ${parsed.error}`);
    else values[key] = parsed;
  }
  const production = values.nodeEnv === 'production';
  const dataDir = resolve(String(values.dataDir));
  values.dataDir = dataDir;
  if (values.databaseUrl === undefined) values.databaseUrl = `sqlite:${join(dataDir, 'gatehouse.db')}`;
  else if (!/^(sqlite:|postgres:\/\/|postgresql:\/\/)/.test(String(values.databaseUrl))) {
    problems.push('GATEHOUSE_DATABASE_URL must start with sqlite: or postgres://');
  }
  const publicUrl = typeof values.publicUrl === 'string' ? new URL(values.publicUrl) : null;
  if (production) {
    if (values.secret === undefined) problems.push('GATEHOUSE_SECRET is required when NODE_ENV=production');
    if (publicUrl && publicUrl.protocol !== 'https:') {
      problems.push('GATEHOUSE_PUBLIC_URL must be https when NODE_ENV=production (cookies must be Secure)');
    }
    for (const [key, env] of [
      ['smsWebhookUrl', 'GATEHOUSE_SMS_WEBHOOK_URL'],
      ['pushWebhookUrl', 'GATEHOUSE_PUSH_WEBHOOK_URL'],
    ] as const) {
      const value = values[key];
      if (typeof value === 'string' && !value.startsWith('https:')) {
        problems.push(`${env} must be https when NODE_ENV=production (messages carry codes)`);
      }
    }
  }
  if ((values.adminEmail === undefined) !== (values.adminPassword === undefined)) {
    problems.push('GATEHOUSE_ADMIN_EMAIL and GATEHOUSE_ADMIN_PASSWORD must be set together');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  if (values.secret === undefined) values.secret = developmentSecret(dataDir);
  values.production = production;
  values.secureCookies = publicUrl?.protocol === 'https:';
  return Object.freeze(values) as Config;
}

function developmentSecret(dataDir: string): string {
  const file = join(dataDir, 'secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomToken(48);
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return secret;
}
