import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from './app.js';
import { runCli } from './cli.js';
import { loadConfig } from './config/index.js';
import { openDatabase } from './db/index.js';
import { createTestDatabase, TEST_DIALECT, type TestDatabase } from './testing/database.js';

let test: TestDatabase | null = null;
afterEach(async () => {
  await test?.drop();
  test = null;
});

/** The CLI against a file database (SQLite) or a fresh schema (PostgreSQL), as an operator would run it. */
async function environment(): Promise<Record<string, string>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'));
  let url = `sqlite:${join(dataDir, 'gatehouse.db')}`;
  if (TEST_DIALECT === 'postgres') {
    test = await createTestDatabase();
    url = test.url;
  }
  return {
    GATEHOUSE_DATA_DIR: dataDir,
    GATEHOUSE_DATABASE_URL: url,
    GATEHOUSE_ARGON2_MEMORY_COST: '1024',
    GATEHOUSE_ARGON2_TIME_COST: '1',
    GATEHOUSE_LOG_LEVEL: 'silent',
  };
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (line: string) => out.push(line), err: (line: string) => err.push(line) }, out, err };
}

async function login(env: Record<string, string>, email: string, password: string) {
  const config = loadConfig(env);
  const database = await openDatabase(config.databaseUrl);
  const gatehouse = await buildApp(config, database);
  try {
    const response = await gatehouse.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } });
    return response.statusCode === 200 ? response.json().data.access_token : response.statusCode;
  } finally {
    await gatehouse.close();
    await database.close();
  }
}

describe('gatehouse CLI', () => {
  it('migrate applies the migrations once', async () => {
    const env = await environment();
    const first = capture();
    expect(await runCli(['migrate'], env, first.io)).toBe(0);
    expect(first.out).toEqual(['applied: 001-initial, 002-admin-audit, 003-mail-invitations']);
    const second = capture();
    expect(await runCli(['migrate'], env, second.io)).toBe(0);
    expect(second.out).toEqual(['database is up to date']);
  });

  it('admin create makes an admin who can sign in with admin permissions', async () => {
    const env = await environment();
    const run = capture();
    expect(
      await runCli(
        ['admin', 'create', '--email', 'Root@Example.com', '--password', 'a long admin password'],
        env,
        run.io,
      ),
    ).toBe(0);
    expect(run.out).toEqual(['admin Root@Example.com created']);
    const token = await login(env, 'root@example.com', 'a long admin password');
    expect(typeof token).toBe('string');
    const claims = JSON.parse(Buffer.from(String(token).split('.')[1]!, 'base64url').toString());
    expect(claims).toMatchObject({ role: 'admin', permissions: ['*'] });
  });

  it('refuses admin create without a password, or with a short one', async () => {
    const env = await environment();
    const missing = capture();
    expect(await runCli(['admin', 'create', '--email', 'a@example.com'], env, missing.io)).toBe(2);
    const short = capture();
    expect(await runCli(['admin', 'create', '--email', 'a@example.com', '--password', 'short'], env, short.io)).toBe(2);
    expect(short.err.join()).toContain('8 to 256');
  });

  it('prints usage for an unknown command', async () => {
    const run = capture();
    expect(await runCli(['frobnicate'], {}, run.io)).toBe(2);
    expect(run.err.join()).toContain('Usage: gatehouse');
  });
});

describe('first admin from the environment', () => {
  it('is created on first start and not replaced on the next', async () => {
    const env = {
      ...(await environment()),
      GATEHOUSE_ADMIN_EMAIL: 'boss@example.com',
      GATEHOUSE_ADMIN_PASSWORD: 'first password 123',
    };
    expect(await runCli(['migrate'], env, capture().io)).toBe(0);
    expect(typeof (await login(env, 'boss@example.com', 'first password 123'))).toBe('string');
    const changed = { ...env, GATEHOUSE_ADMIN_PASSWORD: 'second password 456' };
    expect(await login(changed, 'boss@example.com', 'second password 456')).toBe(401);
    expect(typeof (await login(changed, 'boss@example.com', 'first password 123'))).toBe('string');
  });
});
