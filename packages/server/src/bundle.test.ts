import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_DIALECT, type TestDatabase } from './testing/database.js';
import { freePort } from './testing/ports.js';
import { startSmtpServer, type TestSmtpServer } from './testing/smtp-server.js';
import { TEST_PASSWORD } from './testing/test-server.js';

/**
 * `npm start` and the `gatehouse` command run the bundle (dist/gatehouse.mjs, scripts/bundle.mjs), not the
 * sources the other tests import. Build it, start it as an operator would, and go through the parts that load
 * something from outside the bundle: the native addons, the docs page's own files, the modules imported on
 * first use (the PostgreSQL driver, the mailer, the WebAuthn library) and the rate-limit store.
 */
const root = join(import.meta.dirname, '../../..');
// Debian's Chromium, as the SDK's browser tests use it: skipped without it, except under CI, where it must be there.
const CHROMIUM = '/usr/bin/chromium';
const withBrowser = existsSync(CHROMIUM) || ['1', 'true'].includes(String(process.env.CI).toLowerCase());
const bin = join(root, 'packages/server/bin/gatehouse.js');

let dataDir: string;
let database: TestDatabase | null = null;
let smtp: TestSmtpServer;
let child: ChildProcess | null = null;
let base: string;
let env: NodeJS.ProcessEnv;
let output = '';

beforeAll(async () => {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'pipe' });
  dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-bundle-'));
  smtp = await startSmtpServer();
  const port = await freePort();
  base = `http://localhost:${port}`;
  env = {
    PATH: process.env.PATH,
    GATEHOUSE_DATA_DIR: dataDir,
    GATEHOUSE_PORT: String(port),
    GATEHOUSE_PUBLIC_URL: base,
    GATEHOUSE_SMTP_URL: smtp.url,
    GATEHOUSE_ARGON2_MEMORY_COST: '1024',
    GATEHOUSE_ARGON2_TIME_COST: '1',
    GATEHOUSE_LOG_LEVEL: 'warn',
  };
  if (TEST_DIALECT === 'postgres') {
    database = await createTestDatabase();
    env.GATEHOUSE_DATABASE_URL = database.url;
  }
}, 120_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((resolve) => child?.once('exit', resolve));
  }
  await smtp?.close();
  await database?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function request(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${base}${path}`, init);
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

describe('the bundled server', () => {
  it('migrates from the command line', () => {
    const out = execFileSync(process.execPath, [bin, 'migrate'], { env, encoding: 'utf8' });
    expect(out).toMatch(/^applied: 001-initial, /);
  });

  it('starts and answers /health', async () => {
    child = spawn(process.execPath, [bin, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    let status = 0;
    for (let i = 0; i < 300 && status !== 200 && child.exitCode === null; i++) {
      status = await request('/health').then(
        (response) => response.status,
        () => new Promise<number>((resolve) => setTimeout(() => resolve(0), 50)),
      );
    }
    expect(child.exitCode, output).toBe(null);
    expect(status).toBe(200);
  });

  it('serves the OpenAPI document and the docs page with its own files', async () => {
    const openapi = await request('/openapi.json');
    expect(openapi.status).toBe(200);
    expect(Object.keys(((await openapi.json()) as { paths: object }).paths)).toContain('/auth/login');
    const page = await request('/docs/');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('swagger-ui');
    const script = await request('/docs/static/swagger-ui-bundle.js');
    expect(script.status).toBe(200);
    expect((await script.text()).length).toBeGreaterThan(100_000);
  });

  it.runIf(withBrowser)('draws the docs page in a browser, within its content security policy', async () => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text());
      });
      page.on('pageerror', (error) => problems.push(String(error)));
      await page.goto(`${base}/docs`);
      await page.waitForSelector('.opblock', { timeout: 20_000 });
      expect(page.url()).toBe(`${base}/docs/`);
      expect(await page.locator('.opblock').count()).toBeGreaterThan(50);
      expect(await page.getByText('/auth/login', { exact: true }).count()).toBeGreaterThan(0);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('signs up (sending the verification mail over SMTP), signs in and registers a passkey', async () => {
    const email = `bundle-${Date.now()}@example.com`;
    expect((await post('/auth/signup', { email, password: TEST_PASSWORD })).status).toBe(204);
    const mail = await smtp.next(15_000);
    expect(mail.envelope.to).toEqual([email]);

    const login = await post('/auth/login', { email, password: TEST_PASSWORD });
    expect(login.status).toBe(200);
    const { data } = (await login.json()) as { data: { access_token: string } };
    const headers = { authorization: `Bearer ${data.access_token}` };
    const me = await request('/users/me', { headers });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { data: { email: string } }).data.email).toBe(email);

    const options = await post('/users/me/passkeys/options', {}, headers);
    expect(options.status).toBe(200);
    const creation = ((await options.json()) as { data: { challenge: string; rp: { id: string } } }).data;
    expect(creation.challenge).toMatch(/^[\w-]{20,}$/);
    expect(creation.rp.id).toBe('localhost');
  });

  it('refuses bad input with a registry code, not a crash', async () => {
    const response = await post('/auth/login', { email: 'not an address', password: 1 });
    expect(response.status).toBe(400);
    const { errors } = (await response.json()) as { errors: { extensions: { code: string } }[] };
    expect(errors[0]?.extensions.code).toBe('INVALID_PAYLOAD');
    expect(child?.exitCode).toBe(null);
  });
});
