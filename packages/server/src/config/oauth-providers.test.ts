import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './load.js';

const base = () => ({ GATEHOUSE_DATA_DIR: mkdtempSync(join(tmpdir(), 'gatehouse-oauth-config-')) });

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig({ ...base(), ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('GATEHOUSE_OAUTH_<NAME>_* providers', () => {
  it('reads one provider per <NAME>, with the defaults', () => {
    const config = loadConfig({
      ...base(),
      GATEHOUSE_OAUTH_CORP_DRIVER: 'oidc',
      GATEHOUSE_OAUTH_CORP_CLIENT_ID: 'gatehouse',
      GATEHOUSE_OAUTH_CORP_CLIENT_SECRET: 's3cret',
      GATEHOUSE_OAUTH_CORP_ISSUER: 'https://id.corp.example',
      GATEHOUSE_OAUTH_CORP_SCOPES: 'openid, email profile',
      GATEHOUSE_OAUTH_GITHUB_DRIVER: 'github',
      GATEHOUSE_OAUTH_GITHUB_CLIENT_ID: 'abc',
      GATEHOUSE_OAUTH_GITHUB_MODE: 'session',
      GATEHOUSE_OAUTH_GITHUB_ENABLED: 'false',
    });
    expect(config.oauthLinkByEmail).toBe(false);
    expect(config.oauthProviders).toEqual([
      expect.objectContaining({
        name: 'corp',
        driver: 'oidc',
        clientId: 'gatehouse',
        clientSecret: 's3cret',
        issuer: 'https://id.corp.example',
        scopes: ['openid', 'email', 'profile'],
        mode: 'cookie',
        enabled: true,
      }),
      expect.objectContaining({
        name: 'github',
        driver: 'github',
        clientSecret: null,
        mode: 'session',
        enabled: false,
      }),
    ]);
    expect(Object.isFrozen(config.oauthProviders)).toBe(true);
  });

  it('names every wrong variable', () => {
    expect(
      problems({
        GATEHOUSE_OAUTH_A_DRIVER: 'myspace',
        GATEHOUSE_OAUTH_B_DRIVER: 'oidc',
        GATEHOUSE_OAUTH_C_DRIVER: 'google',
        GATEHOUSE_OAUTH_C_CLIENT_ID: 'x',
        GATEHOUSE_OAUTH_C_MODE: 'jwt',
        GATEHOUSE_OAUTH_C_ENABLED: 'yes',
        GATEHOUSE_OAUTH_C_ISSUER: 'ftp://x',
        GATEHOUSE_OAUTH_D_DRIVER: 'apple',
        GATEHOUSE_OAUTH_D_CLIENT_ID: 'x',
        GATEHOUSE_OAUTH_LINK_BY_EMAIL: 'maybe',
        GATEHOUSE_OAUTH_MY_CORP_DRIVER: 'oidc',
      }),
    ).toEqual(
      expect.arrayContaining([
        'GATEHOUSE_OAUTH_LINK_BY_EMAIL must be true or false',
        expect.stringContaining('GATEHOUSE_OAUTH_A_DRIVER must be one of oidc, google, github'),
        'GATEHOUSE_OAUTH_B_CLIENT_ID is required with GATEHOUSE_OAUTH_B_DRIVER',
        'GATEHOUSE_OAUTH_B_ISSUER is required for the oidc driver',
        'GATEHOUSE_OAUTH_C_ISSUER must be an http or https URL',
        'GATEHOUSE_OAUTH_C_MODE must be json, cookie or session',
        'GATEHOUSE_OAUTH_C_ENABLED must be true or false',
        expect.stringContaining('GATEHOUSE_OAUTH_D_TEAM_ID'),
        'GATEHOUSE_OAUTH_MY_CORP_DRIVER: a provider <NAME> is upper-case letters and digits only (no _ or -)',
      ]),
    );
  });
});
