import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration.js';
import { ConfigError, loadConfig } from './load.js';

const dataDir = () => mkdtempSync(join(tmpdir(), 'gatehouse-config-'));

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const dir = dataDir();
    const config = loadConfig({ GATEHOUSE_DATA_DIR: dir });
    expect(config).toMatchObject({
      port: 4000,
      host: '127.0.0.1',
      publicUrl: 'http://localhost:4000',
      databaseUrl: `sqlite:${join(dir, 'gatehouse.db')}`,
      accessTokenTtl: 15 * 60_000,
      refreshTokenTtl: 7 * 86_400_000,
      sessionCookieTtl: 86_400_000,
      jwtAlgorithm: 'ES256',
      argon2MemoryCost: 19456,
      argon2TimeCost: 2,
      argon2Parallelism: 1,
      production: false,
      secureCookies: false,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('generates a development secret once, readable only by its owner', () => {
    const dir = dataDir();
    const first = loadConfig({ GATEHOUSE_DATA_DIR: dir });
    const second = loadConfig({ GATEHOUSE_DATA_DIR: dir });
    expect(first.secret.length).toBeGreaterThanOrEqual(32);
    expect(second.secret).toBe(first.secret);
    expect(readFileSync(join(dir, 'secret'), 'utf8').trim()).toBe(first.secret);
    expect(statSync(join(dir, 'secret')).mode & 0o077).toBe(0);
  });

  it('names every wrong variable', () => {
    try {
      loadConfig({
        GATEHOUSE_DATA_DIR: dataDir(),
        GATEHOUSE_PORT: 'eighty',
        GATEHOUSE_ACCESS_TOKEN_TTL: 'soon',
        GATEHOUSE_JWT_ALGORITHM: 'HS256',
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      expect(message).toContain('GATEHOUSE_PORT');
      expect(message).toContain('GATEHOUSE_ACCESS_TOKEN_TTL');
      expect(message).toContain('GATEHOUSE_JWT_ALGORITHM');
    }
  });

  it('keeps the public URL without a trailing slash, so links and the issuer built from it are one string', () => {
    const config = loadConfig({ GATEHOUSE_DATA_DIR: dataDir(), GATEHOUSE_PUBLIC_URL: 'https://auth.example.com/' });
    expect(config.publicUrl).toBe('https://auth.example.com');
  });

  it('refuses production without a secret or with an http public URL', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', GATEHOUSE_DATA_DIR: dataDir() })).toThrow(
      /GATEHOUSE_SECRET is required/,
    );
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        GATEHOUSE_DATA_DIR: dataDir(),
        GATEHOUSE_SECRET: 'x'.repeat(40),
        GATEHOUSE_PUBLIC_URL: 'http://auth.example.com',
      }),
    ).toThrow(/GATEHOUSE_PUBLIC_URL must be https/);
    const config = loadConfig({
      NODE_ENV: 'production',
      GATEHOUSE_DATA_DIR: dataDir(),
      GATEHOUSE_SECRET: 'x'.repeat(40),
      GATEHOUSE_PUBLIC_URL: 'https://auth.example.com',
    });
    expect(config.secureCookies).toBe(true);
  });

  it('wants the admin e-mail and password together', () => {
    expect(() => loadConfig({ GATEHOUSE_DATA_DIR: dataDir(), GATEHOUSE_ADMIN_EMAIL: 'a@example.com' })).toThrow(
      /together/,
    );
  });
});

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['10s', 10_000],
    ['15m', 900_000],
    ['12h', 43_200_000],
    ['7d', 604_800_000],
    ['250', 250],
  ])('%s is %i ms', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(['', '10 minutes', '-5s', '1.5h'])('%j is refused', (text) => expect(parseDuration(text)).toBeNull());
});
