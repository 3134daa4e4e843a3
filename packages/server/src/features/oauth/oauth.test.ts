import { generateKeyPairSync } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTotp } from '../../crypto/totp.js';
import { startGithubServer, type TestGithub } from '../../testing/github-server.js';
import { startOidcProvider, type TestOidcProvider, type TestProxy } from '../../testing/oidc-server.js';
import { createTestServer, PUBLIC_URL, type TestServer } from '../../testing/test-server.js';

/**
 * Provider sign-in against real servers on 127.0.0.1: an OpenID provider (oidc-provider, code flow with PKCE,
 * signed ID tokens) and a GitHub-style OAuth 2 server. The browser is played by following redirects by hand:
 * Gatehouse through `app.inject`, the providers over HTTP with their own cookie jar.
 */

const FLOW = 'gatehouse_oauth_flow';
const APP = 'https://app.example.com/done';
const OIDC_PROVIDERS = ['corp', 'corpjson', 'corpsession', 'evil', 'off', 'apicorp', 'apple'];
const callbackOf = (name: string) => `${PUBLIC_URL}/auth/login/${name}/callback`;
const CLIENT = {
  client_id: 'gatehouse',
  client_secret: 'oidc-client-secret-7b1f0c2e9a',
  redirect_uris: OIDC_PROVIDERS.map(callbackOf),
  grant_types: ['authorization_code'],
  response_types: ['code' as const],
  token_endpoint_auth_method: 'client_secret_post' as const,
};
const OTHER_CLIENT = { ...CLIENT, client_id: 'other-app', client_secret: 'other-app-secret-55d0e3' };

/** Apple signs client secrets with a team key: the test key, its public half checked at the provider. */
const appleKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const APPLE_PEM = appleKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

let oidc: TestOidcProvider;
let evil: TestProxy;
let github: TestGithub;
let server: TestServer;
let accountCounter = 0;
/** Every secret the tests saw: none may end up in the logs or the database. */
const seen = new Set<string>();

function oidcEnv(name: string, issuer: string, extra: Record<string, string> = {}): Record<string, string> {
  const upper = name.toUpperCase();
  return {
    [`GATEHOUSE_OAUTH_${upper}_DRIVER`]: 'oidc',
    [`GATEHOUSE_OAUTH_${upper}_CLIENT_ID`]: CLIENT.client_id,
    [`GATEHOUSE_OAUTH_${upper}_CLIENT_SECRET`]: CLIENT.client_secret,
    [`GATEHOUSE_OAUTH_${upper}_ISSUER`]: issuer,
    ...Object.fromEntries(Object.entries(extra).map(([key, value]) => [`GATEHOUSE_OAUTH_${upper}_${key}`, value])),
  };
}

function githubEnv(): Record<string, string> {
  return {
    GATEHOUSE_OAUTH_GITHUB_DRIVER: 'github',
    GATEHOUSE_OAUTH_GITHUB_CLIENT_ID: github.clientId,
    GATEHOUSE_OAUTH_GITHUB_CLIENT_SECRET: github.clientSecret,
    GATEHOUSE_OAUTH_GITHUB_AUTHORIZATION_URL: `${github.url}/login/oauth/authorize`,
    GATEHOUSE_OAUTH_GITHUB_TOKEN_URL: `${github.url}/login/oauth/access_token`,
    GATEHOUSE_OAUTH_GITHUB_USERINFO_URL: github.url,
    GATEHOUSE_OAUTH_GITHUB_MODE: 'json',
  };
}

function serverEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    GATEHOUSE_REDIRECT_ALLOW_LIST: APP,
    ...oidcEnv('corp', oidc.issuer, { LABEL: 'Corp SSO' }),
    ...oidcEnv('corpjson', oidc.issuer, { MODE: 'json' }),
    ...oidcEnv('corpsession', oidc.issuer, { MODE: 'session' }),
    ...oidcEnv('evil', evil.url),
    ...oidcEnv('off', oidc.issuer, { ENABLED: 'false' }),
    // Nothing listens on port 1: discovery fails at once.
    ...oidcEnv('down', 'http://127.0.0.1:1'),
    ...githubEnv(),
    // Presets that are only configuration: listed, and the OAuth 2 ones start without a network call.
    ...Object.fromEntries(
      ['google', 'microsoft', 'gitlab', 'discord', 'facebook'].flatMap((name) => [
        [`GATEHOUSE_OAUTH_${name.toUpperCase()}_DRIVER`, name],
        [`GATEHOUSE_OAUTH_${name.toUpperCase()}_CLIENT_ID`, `${name}-client`],
      ]),
    ),
    ...oidcEnv('apple', oidc.issuer, {
      DRIVER: 'apple',
      CLIENT_SECRET: APPLE_PEM.replaceAll('\n', '\\n'),
      TEAM_ID: 'TEAM123456',
      KEY_ID: 'KEY7654321',
      MODE: 'json',
    }),
    ...extra,
  };
}

beforeAll(async () => {
  oidc = await startOidcProvider([CLIENT, OTHER_CLIENT]);
  // A mix-up: discovery at this address claims to be this issuer, but the ID tokens come from the real one.
  let evilUrl = '';
  // It does not announce RFC 9207 `iss` in authorization responses, so the ID token is what must be caught.
  evil = await oidc.proxy({
    response: ({ path, text }) => {
      if (!path.startsWith('/.well-known/openid-configuration')) return text;
      const metadata = JSON.parse(text.replaceAll(oidc.issuer, evilUrl));
      delete metadata.authorization_response_iss_parameter_supported;
      return JSON.stringify(metadata);
    },
  });
  evilUrl = evil.url;
  github = await startGithubServer();
  server = await createTestServer(serverEnv());
});

afterAll(async () => {
  await server?.close();
  await github?.close();
  await oidc?.close();
});

/** A fresh account at the OpenID provider; the next interaction signs in as it. */
function oidcAccount(claims: { email_verified?: boolean; email?: string } = {}): { sub: string; email: string } {
  const sub = `acct-${++accountCounter}-${Date.now()}`;
  const email = claims.email ?? `${sub}@corp.example`;
  oidc.accounts.set(sub, {
    email,
    email_verified: claims.email_verified ?? true,
    given_name: 'Ada',
    family_name: 'Lovelace',
    picture: 'https://img.example/ada.png',
  });
  oidc.signInAs(sub);
  return { sub, email };
}

function githubAccount(emails: { email: string; primary: boolean; verified: boolean }[]): number {
  const id = 1000 + ++accountCounter;
  github.accounts.set(id, {
    id,
    login: `octo${id}`,
    name: 'Octo Cat',
    avatar_url: 'https://img.example/o.png',
    emails,
  });
  github.signInAs(id);
  return id;
}

interface Started {
  location: string;
  cookie: string;
  response: LightMyRequestResponse;
}

async function start(target: TestServer, provider: string, query = ''): Promise<Started> {
  const response = await target.app.inject({ method: 'GET', url: `/auth/login/${provider}${query}` });
  expect(response.statusCode, response.body).toBe(302);
  const cookie = response.cookies.find((c) => c.name === FLOW);
  expect(cookie).toBeDefined();
  seen.add(cookie?.value ?? '');
  return { location: String(response.headers.location), cookie: cookie?.value ?? '', response };
}

/** Plays the browser at the provider: follows its redirects (keeping its cookies) until it sends us back. */
async function authorize(location: string): Promise<string> {
  const jar = new Map<string, string>();
  let url = location;
  for (let step = 0; step < 20; step++) {
    const response = await fetch(url, {
      redirect: 'manual',
      headers: { cookie: [...jar].map(([name, value]) => `${name}=${value}`).join('; ') },
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const index = pair.indexOf('=');
      jar.set(pair.slice(0, index), pair.slice(index + 1));
    }
    const next = response.headers.get('location');
    if (!next) throw new Error(`the provider stopped at ${url}: ${response.status} ${await response.text()}`);
    const resolved = new URL(next, url).toString();
    if (resolved.startsWith(PUBLIC_URL)) {
      const code = new URL(resolved).searchParams.get('code');
      if (code) seen.add(code);
      return resolved;
    }
    url = resolved;
  }
  throw new Error('too many redirects at the provider');
}

/** Like `authorize`, for a provider that answers with an auto-submitting form (response_mode=form_post). */
async function authorizeFormPost(location: string): Promise<{ action: string; body: string }> {
  const jar = new Map<string, string>();
  let url = location;
  for (let step = 0; step < 20; step++) {
    const response = await fetch(url, {
      redirect: 'manual',
      headers: { cookie: [...jar].map(([name, value]) => `${name}=${value}`).join('; ') },
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const index = pair.indexOf('=');
      jar.set(pair.slice(0, index), pair.slice(index + 1));
    }
    const next = response.headers.get('location');
    if (next) {
      url = new URL(next, url).toString();
      continue;
    }
    const html = await response.text();
    const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
    if (!action) throw new Error(`the provider stopped at ${url}: ${response.status} ${html}`);
    const form = new URLSearchParams();
    for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/>/g)) {
      form.set(match[1] as string, (match[2] as string).replaceAll('&amp;', '&'));
    }
    const code = form.get('code');
    if (code) seen.add(code);
    return { action: action.replaceAll('&amp;', '&'), body: form.toString() };
  }
  throw new Error('too many redirects at the provider');
}

function callback(target: TestServer, url: string, cookie: string | null) {
  const { pathname, search } = new URL(url);
  return target.app.inject({
    method: 'GET',
    url: `${pathname}${search}`,
    headers: cookie === null ? {} : { cookie: `${FLOW}=${cookie}` },
  });
}

async function signIn(target: TestServer, provider: string, query = '') {
  const started = await start(target, provider, query);
  const back = await authorize(started.location);
  return callback(target, back, started.cookie);
}

function reasonOf(response: LightMyRequestResponse): string | null {
  expect(response.statusCode, response.body).toBe(302);
  return new URL(String(response.headers.location)).searchParams.get('reason');
}

async function lastFailure(target: TestServer): Promise<Record<string, unknown>> {
  const row = await target.database.db
    .selectFrom('audit_events')
    .select(['details'])
    .where('event', '=', 'auth.login')
    .where('outcome', '=', 'failure')
    .orderBy('seq', 'desc')
    .executeTakeFirstOrThrow();
  return JSON.parse(row.details) as Record<string, unknown>;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const userByEmail = (target: TestServer, email: string) =>
  target.database.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();

describe('GET /auth', () => {
  it('lists the enabled providers with name, label, driver and icon', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/auth' });
    expect(response.statusCode).toBe(200);
    const { data, disableDefault } = response.json();
    expect(disableDefault).toBe(false);
    expect(data.map((p: { name: string }) => p.name).sort()).toEqual(
      [
        'apple',
        'corp',
        'corpjson',
        'corpsession',
        'down',
        'evil',
        'github',
        'google',
        'microsoft',
        'gitlab',
        'discord',
        'facebook',
      ].sort(),
    );
    expect(data.find((p: { name: string }) => p.name === 'corp')).toEqual({
      name: 'corp',
      label: 'Corp SSO',
      driver: 'oidc',
      icon: 'oidc',
    });
    expect(data.find((p: { name: string }) => p.name === 'github')).toMatchObject({
      label: 'GitHub',
      driver: 'github',
    });
  });
});

describe('OpenID sign-in', () => {
  it('starts with a sealed, HttpOnly, callback-scoped flow cookie and PKCE, state and nonce', async () => {
    const { location, response } = await start(server, 'corp', `?redirect=${encodeURIComponent(APP)}`);
    const url = new URL(location);
    expect(url.origin).toBe(oidc.issuer);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('state')).toBeTruthy();
    expect(url.searchParams.get('nonce')).toBeTruthy();
    expect(url.searchParams.get('redirect_uri')).toBe(callbackOf('corp'));
    const cookie = response.cookies.find((c) => c.name === FLOW);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/auth/login/corp/callback', maxAge: 600 });
    // The cookie is sealed: neither the state nor the verifier can be read from it.
    expect(cookie?.value).not.toContain(url.searchParams.get('state'));
  });

  it('creates the account on first sign-in (cookie mode) and redirects with the refresh cookie', async () => {
    const account = oidcAccount();
    const response = await signIn(server, 'corp', `?redirect=${encodeURIComponent(APP)}`);
    expect(response.statusCode, response.body).toBe(302);
    expect(response.headers.location).toBe(APP);
    const refresh = response.cookies.find((c) => c.name === 'gatehouse_refresh_token');
    expect(refresh).toMatchObject({ httpOnly: true, path: '/auth' });
    seen.add(refresh?.value ?? '');
    expect(response.cookies.find((c) => c.name === FLOW)?.value).toBe('');

    const user = await userByEmail(server, account.email);
    expect(user).toMatchObject({ first_name: 'Ada', last_name: 'Lovelace', provider: 'corp', password_hash: null });
    expect(user?.avatar).toBe('https://img.example/ada.png');
    expect(user?.email_verified_at).not.toBeNull();
    const identity = await server.database.db
      .selectFrom('identities')
      .selectAll()
      .where('user_id', '=', user?.id ?? '')
      .executeTakeFirstOrThrow();
    expect(identity).toMatchObject({ provider: 'corp', subject: account.sub });

    // The single-page app exchanges the cookie for tokens, as with Directus.
    const refreshed = await server.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      headers: { origin: PUBLIC_URL, cookie: `gatehouse_refresh_token=${refresh?.value}` },
      payload: { mode: 'json' },
    });
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    const { access_token } = refreshed.json().data;
    const me = await server.app.inject({
      method: 'GET',
      url: '/users/me',
      headers: { authorization: `Bearer ${access_token}` },
    });
    expect(me.json().data).toMatchObject({ email: account.email, provider: 'corp', email_verified: true });
    const claims = JSON.parse(Buffer.from(access_token.split('.')[1], 'base64url').toString());
    expect(claims.amr).toEqual(['fed']);

    const login = await server.database.db
      .selectFrom('audit_events')
      .select(['details', 'outcome'])
      .where('event', '=', 'auth.login')
      .where('subject_id', '=', user?.id ?? '')
      .executeTakeFirstOrThrow();
    expect(JSON.parse(login.details)).toMatchObject({ method: 'oauth:corp', mode: 'cookie' });
  });

  it('signs the same provider account into the same user the next time', async () => {
    const account = oidcAccount();
    expect((await signIn(server, 'corp', '?redirect=/welcome')).headers.location).toBe(`${PUBLIC_URL}/welcome`);
    expect((await signIn(server, 'corp', '?redirect=/welcome')).headers.location).toBe(`${PUBLIC_URL}/welcome`);
    const users = await server.database.db
      .selectFrom('users')
      .select('id')
      .where('email', '=', account.email)
      .execute();
    expect(users).toHaveLength(1);
  });

  it('answers json mode without a redirect with both tokens', async () => {
    oidcAccount();
    const response = await signIn(server, 'corpjson');
    expect(response.statusCode, response.body).toBe(200);
    const { data } = response.json();
    expect(data.access_token).toBeTruthy();
    expect(data.refresh_token).toBeTruthy();
    expect(data.expires).toBeGreaterThan(0);
    seen.add(data.refresh_token);
  });

  it('answers session mode with the session cookie that authenticates requests', async () => {
    const account = oidcAccount();
    const response = await signIn(server, 'corpsession', `?redirect=${encodeURIComponent(APP)}`);
    expect(response.headers.location).toBe(APP);
    const session = response.cookies.find((c) => c.name === 'gatehouse_session_token');
    expect(session).toMatchObject({ httpOnly: true, path: '/' });
    const me = await server.app.inject({
      method: 'GET',
      url: '/users/me',
      headers: { cookie: `gatehouse_session_token=${session?.value}` },
    });
    expect(me.statusCode).toBe(200);
    expect(me.json().data.email).toBe(account.email);
  });
});

describe('OpenID sign-in failures', () => {
  it('refuses a callback whose state does not match the flow', async () => {
    oidcAccount();
    const started = await start(server, 'corp', `?redirect=${encodeURIComponent(APP)}`);
    const back = new URL(await authorize(started.location));
    back.searchParams.set('state', 'forged-state');
    const response = await callback(server, back.toString(), started.cookie);
    expect(reasonOf(response)).toBe('OAUTH_FAILED');
    expect(response.cookies.find((c) => c.name === 'gatehouse_refresh_token')).toBeUndefined();
    expect(await lastFailure(server)).toMatchObject({ method: 'oauth:corp', reason: 'response_rejected' });
  });

  it('refuses a callback without its flow cookie, and one for another provider', async () => {
    oidcAccount();
    const started = await start(server, 'corp');
    const back = await authorize(started.location);
    const bare = await callback(server, back, null);
    expect(bare.statusCode).toBe(401);
    expect(bare.json().errors[0].extensions.code).toBe('OAUTH_FAILED');
    const crossed = await callback(server, back.replace('/corp/', '/corpjson/'), started.cookie);
    expect(crossed.json().errors[0].extensions.code).toBe('OAUTH_FAILED');
  });

  it('uses a flow once: a replayed callback fails, also when both arrive at once', async () => {
    oidcAccount();
    const first = await start(server, 'corpjson');
    const back = await authorize(first.location);
    const answers = await Promise.all([callback(server, back, first.cookie), callback(server, back, first.cookie)]);
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 401]);
    const replay = await callback(server, back, first.cookie);
    expect(replay.statusCode).toBe(401);
    expect(replay.json().errors[0].extensions.code).toBe('OAUTH_FAILED');
    expect(await lastFailure(server)).toMatchObject({ reason: 'replayed' });
  });

  it('refuses a replayed code in a fresh flow (the provider redeems a code once)', async () => {
    oidcAccount();
    const first = await start(server, 'corpjson');
    const back = new URL(await authorize(first.location));
    expect((await callback(server, back.toString(), first.cookie)).statusCode).toBe(200);
    const second = await start(server, 'corpjson');
    back.searchParams.set('state', new URL(second.location).searchParams.get('state') ?? '');
    const replay = await callback(server, back.toString(), second.cookie);
    expect(replay.statusCode).toBe(401);
    expect(replay.json().errors[0].extensions.code).toBe('OAUTH_FAILED');
  });

  it('refuses an ID token whose nonce is not the flow’s', async () => {
    oidcAccount();
    const started = await start(server, 'corp', `?redirect=${encodeURIComponent(APP)}`);
    const tampered = new URL(started.location);
    tampered.searchParams.set('nonce', 'injected-nonce');
    const response = await callback(server, await authorize(tampered.toString()), started.cookie);
    expect(reasonOf(response)).toBe('OAUTH_FAILED');
    expect(await lastFailure(server)).toMatchObject({ claim: 'nonce' });
  });

  it('refuses an ID token from another issuer than the configured one', async () => {
    oidcAccount();
    const started = await start(server, 'evil', `?redirect=${encodeURIComponent(APP)}`);
    expect(new URL(started.location).origin).toBe(evil.url);
    const back = new URL(await authorize(started.location));
    back.searchParams.delete('iss');
    expect(reasonOf(await callback(server, back.toString(), started.cookie))).toBe('OAUTH_FAILED');
    expect(await lastFailure(server)).toMatchObject({ claim: 'iss' });
  });

  it('refuses an ID token issued to another client (audience)', async () => {
    oidcAccount();
    const started = await start(server, 'corp', `?redirect=${encodeURIComponent(APP)}`);
    // A provider that mixes up clients: the code is issued to and redeemed for another client.
    const crossed = new URL(started.location);
    crossed.searchParams.set('client_id', OTHER_CLIENT.client_id);
    oidc.rewrite({
      request: ({ path, body }) => {
        if (!path.startsWith('/token')) return { path, body };
        const form = new URLSearchParams(body.toString());
        form.set('client_id', OTHER_CLIENT.client_id);
        form.set('client_secret', OTHER_CLIENT.client_secret);
        return { path, body: Buffer.from(form.toString()) };
      },
    });
    try {
      const response = await callback(server, await authorize(crossed.toString()), started.cookie);
      expect(reasonOf(response)).toBe('OAUTH_FAILED');
      expect(await lastFailure(server)).toMatchObject({ claim: 'aud' });
    } finally {
      oidc.rewrite({});
    }
  });

  it('refuses to create an account from an unverified e-mail', async () => {
    const account = oidcAccount({ email_verified: false });
    const response = await signIn(server, 'corp', `?redirect=${encodeURIComponent(APP)}`);
    expect(reasonOf(response)).toBe('OAUTH_EMAIL_NOT_VERIFIED');
    expect(await userByEmail(server, account.email)).toBeUndefined();
  });

  it('passes the provider’s refusal on as OAUTH_FAILED', async () => {
    const started = await start(server, 'corp', `?redirect=${encodeURIComponent(APP)}`);
    const state = new URL(started.location).searchParams.get('state');
    const response = await callback(
      server,
      `${callbackOf('corp')}?error=access_denied&state=${state}&iss=${encodeURIComponent(oidc.issuer)}`,
      started.cookie,
    );
    expect(reasonOf(response)).toBe('OAUTH_FAILED');
    expect(await lastFailure(server)).toMatchObject({ reason: 'provider_refused' });
  });

  it('refuses a redirect outside the allow-list, the public origin and relative paths', async () => {
    for (const redirect of [
      'https://evil.test/',
      '//evil.test/x',
      '/\\evil.test',
      'https://app.example.com.evil.test/done',
      'https://app.example.com/elsewhere',
      'javascript:alert(1)',
      'http://localhost:4000@evil.test/',
    ]) {
      const response = await server.app.inject({
        method: 'GET',
        url: `/auth/login/corp?redirect=${encodeURIComponent(redirect)}`,
      });
      expect(response.statusCode, redirect).toBe(400);
      expect(response.json().errors[0].extensions.code).toBe('INVALID_PAYLOAD');
      expect(response.cookies).toHaveLength(0);
    }
    for (const redirect of ['/app', `${PUBLIC_URL}/ui/`, `${APP}/step?x=1`]) {
      await start(server, 'corp', `?redirect=${encodeURIComponent(redirect)}`);
    }
  });

  it('answers 503 when the provider cannot be reached, and tries again on the next start', async () => {
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await server.app.inject({ method: 'GET', url: '/auth/login/down' });
      expect(response.statusCode).toBe(503);
      expect(response.json().errors[0].extensions.code).toBe('SERVICE_UNAVAILABLE');
      expect(response.cookies).toHaveLength(0);
    }
    expect(server.logs()).toContain('sign-in provider cannot be reached');

    // A link ticket is not used up by a start that could not reach the provider.
    const owner = await server.user();
    const ticket = await server.app.inject({
      method: 'POST',
      url: '/users/me/identities/down',
      headers: bearer(owner.accessToken),
      payload: { redirect: APP },
    });
    expect(ticket.statusCode, ticket.body).toBe(200);
    const link = new URL(ticket.json().data.url);
    seen.add(link.searchParams.get('link') ?? '');
    const started = await server.app.inject({ method: 'GET', url: `${link.pathname}${link.search}` });
    expect(started.statusCode).toBe(503);
    const tickets = await server.database.db
      .selectFrom('oauth_flows')
      .select('used_at')
      .where('user_id', '=', owner.id)
      .where('purpose', '=', 'link_ticket')
      .execute();
    expect(tickets).toEqual([{ used_at: null }]);
  });

  it('answers garbage at the callback with OAUTH_FAILED, never a 500', async () => {
    oidcAccount();
    for (const query of [
      '?code=a&code=b&state=x',
      '?state=%FF%FE',
      '?error=x&error_description=%00',
      '?iss=javascript:1',
    ]) {
      const started = await start(server, 'corpjson');
      const response = await callback(server, `${callbackOf('corpjson')}${query}`, started.cookie);
      expect(response.statusCode, query).toBe(401);
      expect(response.json().errors[0].extensions.code).toBe('OAUTH_FAILED');
    }
  });

  it('refuses a disabled provider and an unknown one', async () => {
    for (const url of [
      '/auth/login/off',
      '/auth/login/off/callback',
      '/auth/login/nope',
      '/auth/login/nope/callback',
    ]) {
      const response = await server.app.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(404);
      expect(response.json().errors[0].extensions.code).toBe('RECORD_NOT_FOUND');
    }
  });

  it('does not sign in into an existing account with the same e-mail (no silent takeover)', async () => {
    const owner = await server.user();
    oidcAccount({ email: owner.email });
    const response = await signIn(server, 'corp', `?redirect=${encodeURIComponent(APP)}`);
    expect(reasonOf(response)).toBe('OAUTH_ACCOUNT_EXISTS');
    const identities = await server.database.db
      .selectFrom('identities')
      .selectAll()
      .where('user_id', '=', owner.id)
      .execute();
    expect(identities).toHaveLength(0);
  });

  it('refuses to create an account when sign-up is not open', async () => {
    const admin = await server.admin();
    const closed = await server.app.inject({
      method: 'PATCH',
      url: '/projects/default/settings',
      headers: { authorization: `Bearer ${admin.accessToken}` },
      payload: { signup: 'invite_only' },
    });
    expect(closed.statusCode, closed.body).toBe(200);
    try {
      const account = oidcAccount();
      expect(reasonOf(await signIn(server, 'corp', `?redirect=${encodeURIComponent(APP)}`))).toBe(
        'OAUTH_SIGNUP_DISABLED',
      );
      expect(await userByEmail(server, account.email)).toBeUndefined();
    } finally {
      await server.app.inject({
        method: 'PATCH',
        url: '/projects/default/settings',
        headers: { authorization: `Bearer ${admin.accessToken}` },
        payload: { signup: 'open' },
      });
    }
  });
});

describe('GitHub-style OAuth 2 sign-in', () => {
  it('creates the account from the primary verified e-mail (json mode)', async () => {
    const email = `octo-${Date.now()}@gh.example`;
    const id = githubAccount([
      { email: `unverified-${Date.now()}@gh.example`, primary: false, verified: false },
      { email, primary: true, verified: true },
    ]);
    const response = await signIn(server, 'github');
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().data.access_token).toBeTruthy();
    const user = await userByEmail(server, email);
    expect(user).toMatchObject({ provider: 'github', first_name: 'Octo', last_name: 'Cat' });
    const identity = await server.database.db
      .selectFrom('identities')
      .selectAll()
      .where('provider', '=', 'github')
      .where('subject', '=', String(id))
      .executeTakeFirst();
    expect(identity?.user_id).toBe(user?.id);
  });

  it('refuses an account whose e-mails are all unverified', async () => {
    githubAccount([{ email: `nope-${accountCounter}@gh.example`, primary: true, verified: false }]);
    const response = await signIn(server, 'github', `?redirect=${encodeURIComponent(APP)}`);
    expect(reasonOf(response)).toBe('OAUTH_EMAIL_NOT_VERIFIED');
  });

  it('refuses a used code in a fresh flow (GitHub answers such errors with 200 and an error field)', async () => {
    githubAccount([{ email: `code-${Date.now()}@gh.example`, primary: true, verified: true }]);
    const first = await start(server, 'github');
    const back = new URL(await authorize(first.location));
    expect((await callback(server, back.toString(), first.cookie)).statusCode).toBe(200);
    const second = await start(server, 'github');
    back.searchParams.set('state', new URL(second.location).searchParams.get('state') ?? '');
    const replay = await callback(server, back.toString(), second.cookie);
    expect(replay.statusCode).toBe(401);
    expect(replay.json().errors[0].extensions.code).toBe('OAUTH_FAILED');
  });

  it('refuses a replayed callback', async () => {
    githubAccount([{ email: `replay-${accountCounter}@gh.example`, primary: true, verified: true }]);
    const started = await start(server, 'github');
    const back = await authorize(started.location);
    expect((await callback(server, back, started.cookie)).statusCode).toBe(200);
    expect((await callback(server, back, started.cookie)).statusCode).toBe(401);
  });
});

async function linkFlow(target: TestServer, token: string, provider: string) {
  const ticket = await target.app.inject({
    method: 'POST',
    url: `/users/me/identities/${provider}`,
    headers: bearer(token),
    payload: { redirect: APP },
  });
  expect(ticket.statusCode, ticket.body).toBe(200);
  const { url, expires } = ticket.json().data;
  expect(expires).toBe(300_000);
  const link = new URL(url);
  seen.add(link.searchParams.get('link') ?? '');
  const started = await target.app.inject({ method: 'GET', url: `${link.pathname}${link.search}` });
  expect(started.statusCode, started.body).toBe(302);
  const cookie = started.cookies.find((c) => c.name === FLOW)?.value ?? '';
  const back = await authorize(String(started.headers.location));
  return { response: await callback(target, back, cookie), ticketPath: `${link.pathname}${link.search}` };
}

const identitiesOf = async (target: TestServer, token: string) =>
  (await target.app.inject({ method: 'GET', url: '/users/me/identities', headers: bearer(token) })).json().data as {
    provider: string;
  }[];

describe('linking and unlinking (/users/me/identities)', () => {
  it('links a provider to the signed-in user, who then signs in with it', async () => {
    const owner = await server.user();
    const id = githubAccount([{ email: `link-${Date.now()}@gh.example`, primary: true, verified: true }]);
    const { response, ticketPath } = await linkFlow(server, owner.accessToken, 'github');
    expect(response.statusCode).toBe(302);
    expect(response.headers.location).toBe(APP);
    expect(response.cookies.find((c) => c.name === 'gatehouse_refresh_token')).toBeUndefined();
    expect(await identitiesOf(server, owner.accessToken)).toMatchObject([{ provider: 'github', email_verified: true }]);
    // The ticket was single-use.
    const again = await server.app.inject({ method: 'GET', url: ticketPath });
    expect(again.statusCode).toBe(403);
    expect(again.json().errors[0].extensions.code).toBe('INVALID_TOKEN');

    github.signInAs(id);
    const signedIn = await signIn(server, 'github');
    const token = signedIn.json().data.access_token;
    const me = await server.app.inject({ method: 'GET', url: '/users/me', headers: bearer(token) });
    expect(me.json().data.id).toBe(owner.id);
    const linked = await server.database.db
      .selectFrom('audit_events')
      .select('details')
      .where('event', '=', 'identity.linked')
      .where('subject_id', '=', owner.id)
      .executeTakeFirstOrThrow();
    expect(JSON.parse(linked.details)).toEqual({ provider: 'github', automatic: false });
  });

  it('refuses to link a provider account that belongs to another user', async () => {
    const first = await server.user();
    const second = await server.user();
    githubAccount([{ email: `shared-${Date.now()}@gh.example`, primary: true, verified: true }]);
    expect((await linkFlow(server, first.accessToken, 'github')).response.headers.location).toBe(APP);
    expect(reasonOf((await linkFlow(server, second.accessToken, 'github')).response)).toBe('IDENTITY_IN_USE');
    expect(await identitiesOf(server, second.accessToken)).toEqual([]);
  });

  it('refuses a link ticket for a disabled or unknown provider, and a redirect off the allow-list', async () => {
    const owner = await server.user();
    for (const provider of ['off', 'nope']) {
      const response = await server.app.inject({
        method: 'POST',
        url: `/users/me/identities/${provider}`,
        headers: bearer(owner.accessToken),
        payload: {},
      });
      expect(response.statusCode).toBe(404);
    }
    const evilRedirect = await server.app.inject({
      method: 'POST',
      url: '/users/me/identities/github',
      headers: bearer(owner.accessToken),
      payload: { redirect: 'https://evil.test/' },
    });
    expect(evilRedirect.statusCode).toBe(400);
  });

  it('unlinks, but never the last way to sign in, also when two unlinks race', async () => {
    const account = oidcAccount();
    const signedIn = await signIn(server, 'corpjson');
    const token = signedIn.json().data.access_token as string;
    const only = await server.app.inject({
      method: 'DELETE',
      url: '/users/me/identities/corpjson',
      headers: bearer(token),
    });
    expect(only.statusCode).toBe(409);
    expect(only.json().errors[0].extensions.code).toBe('LAST_SIGN_IN_METHOD');

    githubAccount([{ email: `second-${Date.now()}@gh.example`, primary: true, verified: true }]);
    expect((await linkFlow(server, token, 'github')).response.headers.location).toBe(APP);
    expect((await identitiesOf(server, token)).map((i) => i.provider).sort()).toEqual(['corpjson', 'github']);
    const [a, b] = await Promise.all([
      server.app.inject({ method: 'DELETE', url: '/users/me/identities/corpjson', headers: bearer(token) }),
      server.app.inject({ method: 'DELETE', url: '/users/me/identities/github', headers: bearer(token) }),
    ]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([204, 409]);
    expect(await identitiesOf(server, token)).toHaveLength(1);
    const user = await userByEmail(server, account.email);
    const unlinked = await server.database.db
      .selectFrom('audit_events')
      .select('details')
      .where('event', '=', 'identity.unlinked')
      .where('subject_id', '=', user?.id ?? '')
      .execute();
    expect(unlinked).toHaveLength(1);
  });

  it('does not link to an account suspended while the user was at the provider', async () => {
    const owner = await server.user();
    githubAccount([{ email: `susp-${Date.now()}@gh.example`, primary: true, verified: true }]);
    const ticket = await server.app.inject({
      method: 'POST',
      url: '/users/me/identities/github',
      headers: bearer(owner.accessToken),
      payload: { redirect: APP },
    });
    const link = new URL(ticket.json().data.url);
    seen.add(link.searchParams.get('link') ?? '');
    const started = await server.app.inject({ method: 'GET', url: `${link.pathname}${link.search}` });
    const cookie = started.cookies.find((c) => c.name === FLOW)?.value ?? '';
    const back = await authorize(String(started.headers.location));
    await server.database.db.updateTable('users').set({ status: 'suspended' }).where('id', '=', owner.id).execute();
    expect(reasonOf(await callback(server, back, cookie))).toBe('INVALID_CREDENTIALS');
    const identities = await server.database.db
      .selectFrom('identities')
      .selectAll()
      .where('user_id', '=', owner.id)
      .execute();
    expect(identities).toHaveLength(0);
  });

  it('lets a user with a password unlink their only provider; a missing one answers 404', async () => {
    const owner = await server.user();
    githubAccount([{ email: `pw-${Date.now()}@gh.example`, primary: true, verified: true }]);
    await linkFlow(server, owner.accessToken, 'github');
    const headers = bearer(owner.accessToken);
    expect(
      (await server.app.inject({ method: 'DELETE', url: '/users/me/identities/github', headers })).statusCode,
    ).toBe(204);
    const missing = await server.app.inject({ method: 'DELETE', url: '/users/me/identities/github', headers });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().errors[0].extensions.code).toBe('RECORD_NOT_FOUND');
  });
});

describe('linking by verified e-mail (GATEHOUSE_OAUTH_LINK_BY_EMAIL=true)', () => {
  let linking: TestServer;
  beforeAll(async () => {
    linking = await createTestServer(serverEnv({ GATEHOUSE_OAUTH_LINK_BY_EMAIL: 'true' }));
  });
  afterAll(async () => {
    await linking?.close();
  });

  it('links and signs in when both e-mails are verified', async () => {
    const owner = await linking.user();
    await linking.database.db.updateTable('users').set({ email_verified_at: 1 }).where('id', '=', owner.id).execute();
    oidcAccount({ email: owner.email });
    const response = await signIn(linking, 'corpjson');
    expect(response.statusCode, response.body).toBe(200);
    const me = await linking.app.inject({
      method: 'GET',
      url: '/users/me',
      headers: bearer(response.json().data.access_token),
    });
    expect(me.json().data.id).toBe(owner.id);
    const linked = await linking.database.db
      .selectFrom('audit_events')
      .select('details')
      .where('event', '=', 'identity.linked')
      .where('subject_id', '=', owner.id)
      .executeTakeFirstOrThrow();
    expect(JSON.parse(linked.details)).toEqual({ provider: 'corpjson', automatic: true });
  });

  it('refuses when the account’s own e-mail is not verified, and when the provider’s is not', async () => {
    const unverified = await linking.user();
    oidcAccount({ email: unverified.email });
    expect(reasonOf(await signIn(linking, 'corp', `?redirect=${encodeURIComponent(APP)}`))).toBe(
      'OAUTH_ACCOUNT_EXISTS',
    );

    const verified = await linking.user();
    await linking.database.db
      .updateTable('users')
      .set({ email_verified_at: 1 })
      .where('id', '=', verified.id)
      .execute();
    oidcAccount({ email: verified.email, email_verified: false });
    expect(reasonOf(await signIn(linking, 'corp', `?redirect=${encodeURIComponent(APP)}`))).toBe(
      'OAUTH_EMAIL_NOT_VERIFIED',
    );
    const identities = await linking.database.db.selectFrom('identities').selectAll().execute();
    expect(identities.map((i) => i.user_id)).not.toContain(unverified.id);
    expect(identities.map((i) => i.user_id)).not.toContain(verified.id);
  });
});

describe('admin API (/providers)', () => {
  it('adds a provider with a sealed secret that is never returned, and signs in with it', async () => {
    const admin = await server.admin();
    const headers = bearer(admin.accessToken);
    const created = await server.app.inject({
      method: 'POST',
      url: '/providers',
      headers,
      payload: {
        name: 'apicorp',
        driver: 'oidc',
        label: 'API Corp',
        client_id: CLIENT.client_id,
        client_secret: CLIENT.client_secret,
        issuer: oidc.issuer,
        mode: 'json',
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().data).toMatchObject({
      name: 'apicorp',
      has_client_secret: true,
      source: 'api',
      enabled: true,
    });
    expect(created.body).not.toContain(CLIENT.client_secret);
    const row = await server.database.db
      .selectFrom('providers')
      .selectAll()
      .where('name', '=', 'apicorp')
      .executeTakeFirstOrThrow();
    expect(row.client_secret).toMatch(/^v1\./);

    const list = await server.app.inject({ method: 'GET', url: '/providers', headers });
    expect(list.json().data.map((p: { name: string }) => p.name)).toContain('apicorp');
    expect(list.json().data.find((p: { name: string }) => p.name === 'corp')).toMatchObject({
      source: 'env',
      has_client_secret: true,
    });
    expect(list.body).not.toContain(CLIENT.client_secret);
    const publicList = await server.app.inject({ method: 'GET', url: '/auth' });
    expect(publicList.json().data).toContainEqual({ name: 'apicorp', label: 'API Corp', driver: 'oidc', icon: 'oidc' });

    oidcAccount();
    const signedIn = await signIn(server, 'apicorp');
    expect(signedIn.statusCode, signedIn.body).toBe(200);
    expect(signedIn.json().data.refresh_token).toBeTruthy();
    seen.add(signedIn.json().data.refresh_token);

    const disabled = await server.app.inject({
      method: 'PATCH',
      url: '/providers/apicorp',
      headers,
      payload: { enabled: false },
    });
    expect(disabled.statusCode, disabled.body).toBe(200);
    expect(disabled.json().data.enabled).toBe(false);
    expect((await server.app.inject({ method: 'GET', url: '/auth/login/apicorp' })).statusCode).toBe(404);
    expect(
      (await server.app.inject({ method: 'GET', url: '/auth' })).json().data.map((p: { name: string }) => p.name),
    ).not.toContain('apicorp');

    expect((await server.app.inject({ method: 'DELETE', url: '/providers/apicorp', headers })).statusCode).toBe(204);
    expect((await server.app.inject({ method: 'GET', url: '/providers/apicorp', headers })).statusCode).toBe(404);
    const events = await server.database.db
      .selectFrom('audit_events')
      .select('event')
      .where('event', 'like', 'provider.%')
      .orderBy('seq')
      .execute();
    expect(events.map((e) => e.event)).toEqual(['provider.created', 'provider.updated', 'provider.deleted']);
  });

  it('uses a replaced client secret from the next sign-in on', async () => {
    const admin = await server.admin();
    const headers = bearer(admin.accessToken);
    const created = await server.app.inject({
      method: 'POST',
      url: '/providers',
      headers,
      payload: {
        name: 'apicorp',
        driver: 'oidc',
        client_id: CLIENT.client_id,
        client_secret: 'a-wrong-secret-123',
        issuer: oidc.issuer,
        mode: 'json',
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    oidcAccount();
    const refused = await signIn(server, 'apicorp');
    expect(refused.statusCode).toBe(401);
    expect(await lastFailure(server)).toMatchObject({ method: 'oauth:apicorp', reason: 'token_request_refused' });

    const fixed = await server.app.inject({
      method: 'PATCH',
      url: '/providers/apicorp',
      headers,
      payload: { client_secret: CLIENT.client_secret },
    });
    expect(fixed.statusCode, fixed.body).toBe(200);
    expect(fixed.body).not.toContain(CLIENT.client_secret);
    const accepted = await signIn(server, 'apicorp');
    expect(accepted.statusCode, accepted.body).toBe(200);
    seen.add(accepted.json().data.refresh_token);

    const cleared = await server.app.inject({
      method: 'PATCH',
      url: '/providers/apicorp',
      headers,
      payload: { client_secret: null },
    });
    expect(cleared.json().data.has_client_secret).toBe(false);
    const row = await server.database.db
      .selectFrom('providers')
      .selectAll()
      .where('name', '=', 'apicorp')
      .executeTakeFirstOrThrow();
    expect(row.client_secret).toBeNull();
    expect((await server.app.inject({ method: 'DELETE', url: '/providers/apicorp', headers })).statusCode).toBe(204);
  });

  it('refuses to change providers from the environment, duplicate names and unsafe settings', async () => {
    const admin = await server.admin();
    const headers = bearer(admin.accessToken);
    const patchEnv = await server.app.inject({
      method: 'PATCH',
      url: '/providers/corp',
      headers,
      payload: { enabled: false },
    });
    expect(patchEnv.statusCode).toBe(403);
    expect((await server.app.inject({ method: 'DELETE', url: '/providers/corp', headers })).statusCode).toBe(403);
    const base = { driver: 'oidc', client_id: 'x', issuer: 'https://issuer.example' };
    const duplicate = await server.app.inject({
      method: 'POST',
      url: '/providers',
      headers,
      payload: { ...base, name: 'corp' },
    });
    expect(duplicate.statusCode).toBe(409);
    for (const payload of [
      { ...base, name: 'p1', issuer: 'ftp://issuer.example' },
      { ...base, name: 'p2', issuer: 'http://issuer.example' },
      { driver: 'oidc', client_id: 'x', name: 'p3' },
      { ...base, name: 'Bad Name' },
      { ...base, name: 'p4', driver: 'apple' },
      { ...base, name: 'p5', extra: true },
    ]) {
      const response = await server.app.inject({ method: 'POST', url: '/providers', headers, payload });
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      expect(response.json().errors[0].extensions.code).toBe('INVALID_PAYLOAD');
    }
  });
});

describe('expiry and account state', () => {
  it('refuses a callback after the flow expired', async () => {
    oidcAccount();
    const started = await start(server, 'corp', `?redirect=${encodeURIComponent(APP)}`);
    const back = await authorize(started.location);
    server.clock.advance(11 * 60_000);
    const response = await callback(server, back, started.cookie);
    expect(response.statusCode).toBe(401);
    expect(response.json().errors[0].extensions.code).toBe('OAUTH_FAILED');
    expect(await lastFailure(server)).toMatchObject({ reason: 'no_flow' });
  });

  it('refuses an expired link ticket', async () => {
    const owner = await server.user();
    const ticket = await server.app.inject({
      method: 'POST',
      url: '/users/me/identities/github',
      headers: bearer(owner.accessToken),
      payload: {},
    });
    const link = new URL(ticket.json().data.url);
    seen.add(link.searchParams.get('link') ?? '');
    server.clock.advance(6 * 60_000);
    const response = await server.app.inject({ method: 'GET', url: `${link.pathname}${link.search}` });
    expect(response.statusCode).toBe(403);
    expect(response.json().errors[0].extensions.code).toBe('INVALID_TOKEN');
  });

  it('refuses a suspended account like a wrong credential', async () => {
    const account = oidcAccount();
    expect((await signIn(server, 'corpjson')).statusCode).toBe(200);
    await server.database.db
      .updateTable('users')
      .set({ status: 'suspended' })
      .where('email', '=', account.email)
      .execute();
    const response = await signIn(server, 'corpjson');
    expect(response.statusCode).toBe(401);
    expect(response.json().errors[0].extensions.code).toBe('INVALID_CREDENTIALS');
    expect(await lastFailure(server)).toMatchObject({ reason: 'not_active' });
  });
});

describe('concurrency and one account per provider', () => {
  it('signs two parallel first sign-ins of one provider account into one new user', async () => {
    const account = oidcAccount();
    const first = await start(server, 'corpjson');
    const firstBack = await authorize(first.location);
    const second = await start(server, 'corpjson');
    const secondBack = await authorize(second.location);
    const answers = await Promise.all([
      callback(server, firstBack, first.cookie),
      callback(server, secondBack, second.cookie),
    ]);
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200]);
    const ids = await Promise.all(
      answers.map(async (answer) => {
        const me = await server.app.inject({
          method: 'GET',
          url: '/users/me',
          headers: bearer(answer.json().data.access_token),
        });
        return me.json().data.id;
      }),
    );
    expect(ids[0]).toBe(ids[1]);
    const users = await server.database.db
      .selectFrom('users')
      .select('id')
      .where('email', '=', account.email)
      .execute();
    expect(users).toHaveLength(1);
  });

  it('links one account per provider: a second one of the same provider is refused', async () => {
    const owner = await server.user();
    githubAccount([{ email: `one-${Date.now()}@gh.example`, primary: true, verified: true }]);
    expect((await linkFlow(server, owner.accessToken, 'github')).response.headers.location).toBe(APP);
    githubAccount([{ email: `two-${Date.now()}@gh.example`, primary: true, verified: true }]);
    expect(reasonOf((await linkFlow(server, owner.accessToken, 'github')).response)).toBe('RECORD_NOT_UNIQUE');
    expect(await identitiesOf(server, owner.accessToken)).toHaveLength(1);
  });
});

describe('MFA hook', () => {
  it('hands a proven provider sign-in to the second-factor gate before any session starts', async () => {
    const account = oidcAccount();
    const asked: { userId: string; amr: string[]; method: string }[] = [];
    server.oauth.useSecondFactor({
      afterFirstFactor: async (input) => {
        asked.push(input);
        return { required: true, mfaToken: 'mfa-token-for-test' };
      },
    });
    try {
      const redirected = await signIn(server, 'corp', `?redirect=${encodeURIComponent(APP)}`);
      expect(redirected.statusCode).toBe(302);
      const location = new URL(String(redirected.headers.location));
      expect(location.searchParams.get('reason')).toBe('INVALID_OTP');
      expect(location.searchParams.get('mfa_token')).toBe('mfa-token-for-test');
      expect(redirected.cookies.find((c) => c.name === 'gatehouse_refresh_token')).toBeUndefined();

      const user = await userByEmail(server, account.email);
      oidcAccount();
      const answered = await signIn(server, 'corpjson');
      expect(answered.statusCode).toBe(401);
      expect(answered.json().errors[0].extensions).toMatchObject({
        code: 'INVALID_OTP',
        mfa_token: 'mfa-token-for-test',
      });

      expect(asked[0]).toEqual({ userId: user?.id, amr: ['fed'], method: 'oauth:corp' });
      const sessions = await server.database.db
        .selectFrom('sessions')
        .selectAll()
        .where('user_id', '=', user?.id ?? '')
        .execute();
      expect(sessions).toHaveLength(0);
    } finally {
      server.oauth.useSecondFactor(null);
    }
  });

  it("applies the account's MFA: a provider sign-in asks for the second factor, which POST /auth/mfa/verify takes", async () => {
    const account = oidcAccount();
    const first = await signIn(server, 'corpjson');
    expect(first.statusCode, first.body).toBe(200);
    const accessToken = first.json().data.access_token as string;
    const started = await server.app.inject({
      method: 'POST',
      url: '/users/me/mfa/totp',
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(started.statusCode, started.body).toBe(200);
    const { id, secret } = started.json().data as { id: string; secret: string };
    const activated = await server.app.inject({
      method: 'POST',
      url: '/users/me/mfa/activate',
      headers: { authorization: `Bearer ${accessToken}` },
      payload: { factor_id: id, code: generateTotp(secret, server.clock.now()) },
    });
    expect(activated.statusCode, activated.body).toBe(200);
    server.clock.advance(30_000);

    oidc.signInAs(account.sub);
    const asked = await signIn(server, 'corpjson');
    expect(asked.statusCode, asked.body).toBe(401);
    const extensions = asked.json().errors[0].extensions;
    expect(extensions).toMatchObject({ code: 'INVALID_OTP', methods: ['totp', 'recovery_code'], default: 'totp' });
    const user = await userByEmail(server, account.email);
    const sessionsBefore = await server.database.db
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', user?.id ?? '')
      .execute();

    oidc.signInAs(account.sub);
    const redirected = await signIn(server, 'corpjson', `?redirect=${encodeURIComponent(APP)}`);
    const location = new URL(String(redirected.headers.location));
    expect(location.searchParams.get('reason')).toBe('INVALID_OTP');
    expect(location.searchParams.get('mfa_token')).toBeTruthy();
    expect(redirected.cookies.find((c) => c.name === 'gatehouse_refresh_token')).toBeUndefined();

    const verified = await server.app.inject({
      method: 'POST',
      url: '/auth/mfa/verify',
      // The newest challenge is the live one: each sign-in's mfa_token ends the one before it.
      payload: {
        mfa_token: location.searchParams.get('mfa_token'),
        method: 'totp',
        code: generateTotp(secret, server.clock.now()),
        mode: 'json',
      },
    });
    expect(verified.statusCode, verified.body).toBe(200);
    const claims = JSON.parse(
      Buffer.from(String(verified.json().data.access_token).split('.')[1] ?? '', 'base64url').toString('utf8'),
    ) as { amr: string[] };
    expect(claims.amr).toEqual(expect.arrayContaining(['fed', 'otp', 'mfa']));
    // Only the verified sign-in opened a session; the two asked-for ones did not.
    const sessionsAfter = await server.database.db
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', user?.id ?? '')
      .execute();
    expect(sessionsAfter).toHaveLength(sessionsBefore.length + 1);
  });
});

describe('account deletion', () => {
  it('removes the identities with the account; the provider account can then start afresh', async () => {
    const account = oidcAccount();
    expect((await signIn(server, 'corpjson')).statusCode).toBe(200);
    const user = await userByEmail(server, account.email);
    const admin = await server.admin();
    const deleted = await server.app.inject({
      method: 'DELETE',
      url: `/users/${user?.id}`,
      headers: bearer(admin.accessToken),
    });
    expect(deleted.statusCode, deleted.body).toBe(204);
    const left = await server.database.db
      .selectFrom('identities')
      .selectAll()
      .where('user_id', '=', user?.id ?? '')
      .execute();
    expect(left).toHaveLength(0);
    expect((await signIn(server, 'corpjson')).statusCode).toBe(200);
    const again = await userByEmail(server, account.email);
    expect(again?.id).not.toBe(user?.id);
  });
});

describe('rate limit', () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await createTestServer(serverEnv({ GATEHOUSE_RATE_LIMIT_IP: '3/1m' }));
  });
  afterAll(async () => {
    await limited?.close();
  });

  it('counts starts per client IP, since every start writes a flow', async () => {
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => limited.app.inject({ method: 'GET', url: '/auth/login/github' })),
    );
    expect(answers.map((a) => a.statusCode).sort()).toEqual([302, 302, 302, 429, 429]);
    const refused = answers.find((a) => a.statusCode === 429);
    expect(refused?.json().errors[0].extensions.code).toBe('REQUESTS_EXCEEDED');
    expect(refused?.headers['retry-after']).toBeDefined();
    const flows = await limited.database.db.selectFrom('oauth_flows').selectAll().execute();
    expect(flows).toHaveLength(3);
  });
});

describe('Apple (form_post, signed client secret)', () => {
  it('answers with a form POST and redeems the code with a client secret signed by the team key', async () => {
    const account = oidcAccount();
    const secrets: Record<string, unknown>[] = [];
    const pending: Promise<unknown>[] = [];
    oidc.rewrite({
      request: ({ path, body }) => {
        if (!path.startsWith('/token')) return { path, body };
        const form = new URLSearchParams(body.toString());
        const assertion = form.get('client_secret') ?? '';
        seen.add(assertion);
        pending.push(
          jwtVerify(assertion, appleKey.publicKey, {
            issuer: 'TEAM123456',
            subject: CLIENT.client_id,
            audience: 'https://appleid.apple.com',
          }).then((verified) => secrets.push({ ...verified.protectedHeader, ...verified.payload })),
        );
        form.set('client_secret', CLIENT.client_secret);
        return { path, body: Buffer.from(form.toString()) };
      },
    });
    try {
      const started = await start(server, 'apple', `?redirect=${encodeURIComponent(APP)}`);
      expect(new URL(started.location).searchParams.get('response_mode')).toBe('form_post');
      const form = await authorizeFormPost(started.location);
      expect(form.action).toBe(callbackOf('apple'));
      const response = await server.app.inject({
        method: 'POST',
        url: '/auth/login/apple/callback',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `${FLOW}=${started.cookie}` },
        payload: `${form.body}&user=${encodeURIComponent(JSON.stringify({ name: { firstName: 'Tim', lastName: 'Cook' } }))}`,
      });
      expect(response.statusCode, response.body).toBe(302);
      expect(response.headers.location).toBe(APP);
      await Promise.all(pending);
      expect(secrets).toHaveLength(1);
      expect(secrets[0]).toMatchObject({ alg: 'ES256', kid: 'KEY7654321' });
      // Apple's ID token carries no name (its `name` scope is not OpenID's `profile`): the posted one fills it.
      expect(await userByEmail(server, account.email)).toMatchObject({
        provider: 'apple',
        first_name: 'Tim',
        last_name: 'Cook',
      });
    } finally {
      oidc.rewrite({});
    }
  });

  it('refuses a garbage form post', async () => {
    const response = await server.app.inject({
      method: 'POST',
      url: '/auth/login/apple/callback',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: '%%%&&&=',
    });
    expect(response.statusCode).toBe(401);
    expect(response.json().errors[0].extensions.code).toBe('OAUTH_FAILED');
  });
});

describe('never stores or logs a secret', () => {
  it('keeps codes, tokens, cookies and client secrets out of the logs and the database', async () => {
    const secrets = [...seen, ...github.issuedTokens, CLIENT.client_secret, github.clientSecret].filter(
      (s) => s.length >= 8,
    );
    expect(secrets.length).toBeGreaterThan(10);
    const logs = server.logs();
    const { db } = server.database;
    const tables = ['users', 'identities', 'oauth_flows', 'providers', 'audit_events', 'sessions'] as const;
    const dump = JSON.stringify(await Promise.all(tables.map((table) => db.selectFrom(table).selectAll().execute())));
    for (const secret of secrets) {
      expect(logs).not.toContain(secret);
      expect(dump).not.toContain(secret);
    }
  });
});
