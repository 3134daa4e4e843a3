import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { buildApp, type Gatehouse } from '../app.js';
import { type Config, loadConfig } from '../config/index.js';
import type { Database } from '../db/index.js';
import { migrate } from '../db/index.js';
import { ensureDefaultProject } from '../features/projects/index.js';
import { logOptions } from '../logging.js';
import { createTestDatabase } from './database.js';
import { FakeClock } from './fake-clock.js';

export const TEST_PASSWORD = 'correct horse battery staple';
export const PUBLIC_URL = 'http://localhost:4000';

export interface TestServer extends Gatehouse {
  config: Config;
  clock: FakeClock;
  database: Database;
  /** Every log line written so far, as text (to prove no secret is ever logged). */
  logs(): string;
  signup(email: string, password?: string): Promise<void>;
  login(email: string, password?: string, mode?: 'json' | 'cookie' | 'session'): Promise<LightMyRequestResponse>;
  /** Signs up (with `role` set directly in the database when given) and logs in (json mode); answers the tokens. */
  user(email?: string, options?: { role?: string }): Promise<TestUser>;
  /** A signed-in user with the built-in `admin` role. */
  admin(email?: string): Promise<TestUser>;
}

export interface TestUser {
  id: string;
  email: string;
  accessToken: string;
  refreshToken: string;
}

let counter = 0;

export interface TestServerOptions {
  /**
   * What the default project's stored settings start as; null stores none, so every setting has its real
   * default. By default only `email_verification: "off"`: nearly every test signs accounts up, and only the
   * tests about verification want a verification mail for each.
   */
  projectSettings?: Record<string, unknown> | null;
}

/**
 * A Gatehouse on the test database with a fake clock, cheap argon2 parameters (the OWASP ones are covered by
 * their own test), rate limits and verification mail off unless asked for, and captured logs. Requests go
 * through `app.inject()`: no ports.
 */
export async function createTestServer(
  env: Record<string, string> = {},
  options: TestServerOptions = {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-test-'));
  const testDatabase = await createTestDatabase();
  const config = loadConfig({
    GATEHOUSE_DATA_DIR: dataDir,
    GATEHOUSE_DATABASE_URL: testDatabase.url,
    GATEHOUSE_SECRET: 'test-secret-test-secret-test-secret-0123456789',
    GATEHOUSE_PUBLIC_URL: PUBLIC_URL,
    GATEHOUSE_ARGON2_MEMORY_COST: '1024',
    GATEHOUSE_ARGON2_TIME_COST: '1',
    GATEHOUSE_LOG_LEVEL: 'info',
    // Every test signs in from 127.0.0.1 many times a second; rate-limit.test.ts turns the limits on.
    GATEHOUSE_RATE_LIMIT_IP: 'off',
    GATEHOUSE_RATE_LIMIT_LOGIN: 'off',
    ...env,
  });
  const clock = new FakeClock();
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const logger = pino(logOptions(config.logLevel) as pino.LoggerOptions, sink);
  await migrate(testDatabase.database);
  const projectSettings =
    options.projectSettings === undefined ? { email_verification: 'off' } : options.projectSettings;
  if (projectSettings !== null) {
    const projectId = await ensureDefaultProject(testDatabase.database.db, clock.now());
    await testDatabase.database.db
      .updateTable('projects')
      .set({ settings: JSON.stringify(projectSettings) })
      .where('id', '=', projectId)
      .execute();
  }
  const gatehouse = await buildApp(config, testDatabase.database, {
    clock,
    logger,
    webhookDelivery: 'manual',
    mailRetryInterval: 0,
  });
  const { app } = gatehouse;

  const server: TestServer = {
    ...gatehouse,
    config,
    clock,
    database: testDatabase.database,
    logs: () => lines.join(''),
    async signup(email, password = TEST_PASSWORD) {
      const response = await app.inject({ method: 'POST', url: '/auth/signup', payload: { email, password } });
      if (response.statusCode !== 204) throw new Error(`signup failed: ${response.statusCode} ${response.body}`);
    },
    login(email, password = TEST_PASSWORD, mode) {
      return app.inject({
        method: 'POST',
        url: '/auth/login',
        headers: mode && mode !== 'json' ? { origin: PUBLIC_URL } : {},
        payload: mode ? { email, password, mode } : { email, password },
      });
    },
    async user(email = `user${++counter}-${Date.now()}@example.com`, options = {}) {
      await server.signup(email);
      const { db } = testDatabase.database;
      if (options.role) await db.updateTable('users').set({ role: options.role }).where('email', '=', email).execute();
      const response = await server.login(email);
      if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`);
      const { data } = response.json() as { data: { access_token: string; refresh_token: string } };
      const { id } = await db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirstOrThrow();
      return { id, email, accessToken: data.access_token, refreshToken: data.refresh_token };
    },
    admin(email) {
      return server.user(email ?? `admin${++counter}-${Date.now()}@example.com`, { role: 'admin' });
    },
    async close() {
      await gatehouse.close();
      await testDatabase.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}
