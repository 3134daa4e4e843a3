import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type ClientMetadata } from 'oidc-provider';

/** Claims of a test account at the OpenID provider (besides `sub`). */
export interface TestAccount {
  email?: string;
  email_verified?: boolean;
  given_name?: string;
  family_name?: string;
  name?: string;
  picture?: string;
}

export interface RewriteRules {
  /** Changes a request before it is forwarded (path and form body). */
  request?(input: { method: string; path: string; body: Buffer }): { path: string; body: Buffer };
  /** Changes the text of an answer before the caller sees it. */
  response?(input: { path: string; text: string }): string;
}

export interface TestProxy {
  url: string;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * An HTTP proxy on 127.0.0.1 in front of `target`, which may rewrite requests and answers: a provider whose
 * documents or token endpoint misbehave, for the tests of what the client must refuse.
 */
export async function startProxy(
  initial: RewriteRules = {},
): Promise<TestProxy & { setTarget(target: string): void; setRules(rules: RewriteRules): void }> {
  let target = '';
  let rules = initial;
  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    try {
      const method = request.method ?? 'GET';
      let path = request.url ?? '/';
      let body = await readBody(request);
      if (rules.request) ({ path, body } = rules.request({ method, path, body }));
      // The provider builds its URLs from the forwarded host: every address it hands out is the proxy's.
      const headers = new Headers({ 'x-forwarded-host': request.headers.host ?? '', 'x-forwarded-proto': 'http' });
      for (const [key, value] of Object.entries(request.headers)) {
        if (value === undefined || ['host', 'content-length', 'connection'].includes(key)) continue;
        headers.set(key, Array.isArray(value) ? value.join(', ') : value);
      }
      const answer = await fetch(`${target}${path}`, {
        method,
        headers,
        body: method === 'GET' || method === 'HEAD' ? undefined : new Uint8Array(body),
        redirect: 'manual',
      });
      let payload = Buffer.from(await answer.arrayBuffer());
      if (rules.response) payload = Buffer.from(rules.response({ path, text: payload.toString('utf8') }));
      const out: Record<string, string | string[]> = {};
      answer.headers.forEach((value, key) => {
        if (!['content-length', 'content-encoding', 'transfer-encoding', 'set-cookie', 'connection'].includes(key)) {
          out[key] = value;
        }
      });
      const cookies = answer.headers.getSetCookie();
      if (cookies.length > 0) out['set-cookie'] = cookies;
      response.writeHead(answer.status, out);
      response.end(payload);
    } catch (error) {
      response.writeHead(502);
      response.end(String(error));
    }
  });
  const url = await listen(server);
  return {
    url,
    setTarget: (value) => {
      target = value;
    },
    setRules: (value) => {
      rules = value;
    },
    close: () => closeServer(server),
  };
}

export interface TestOidcProvider {
  /** The issuer: the address of the proxy in front of the provider. */
  issuer: string;
  provider: Provider;
  /** The account the next interaction signs in as. */
  signInAs(accountId: string): void;
  accounts: Map<string, TestAccount>;
  /** A proxy in front of the same provider with its own rules (its URL is a different issuer). */
  proxy(rules: RewriteRules): Promise<TestProxy>;
  /** Rules for the issuer's own front (a provider that misbehaves); `{}` restores plain forwarding. */
  rewrite(rules: RewriteRules): void;
  close(): Promise<void>;
}

/**
 * A real OpenID provider (`oidc-provider`) on 127.0.0.1: authorization code with PKCE required, signed ID tokens,
 * the given clients. Its interactions sign in as the account chosen with `signInAs` and grant what is asked, so
 * a test drives a whole sign-in with plain HTTP requests. It is reached through a forwarding proxy whose address
 * is the issuer, so another proxy with rewriting rules can stand in front of the same provider.
 *
 * oidc-provider 9 warns that it wants Node 22 ("Unsupported runtime"); it runs on Node 20.19, and it is only a
 * test dependency.
 */
export async function startOidcProvider(clients: ClientMetadata[]): Promise<TestOidcProvider> {
  const accounts = new Map<string, TestAccount>();
  let current = '';
  const front = await startProxy();
  // A signing key of its own (RS256, the ID token default), instead of oidc-provider's development keys.
  const signing = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const provider = new Provider(front.url, {
    clients,
    jwks: { keys: [{ ...signing, kid: 'test-signing-key', alg: 'RS256', use: 'sig' }] },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    claims: { email: ['email', 'email_verified'], profile: ['name', 'given_name', 'family_name', 'picture'] },
    conformIdTokenClaims: false,
    cookies: { keys: ['oidc-test-cookie-key'] },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: async (_ctx, id) => ({
      accountId: id,
      claims: async () => ({ sub: id, ...(accounts.get(id) ?? {}) }),
    }),
  });
  provider.proxy = true;
  const callback = provider.callback();
  const server = createServer(async (request, response) => {
    if (!request.url?.startsWith('/interaction/')) {
      callback(request, response);
      return;
    }
    try {
      const details = await provider.interactionDetails(request, response);
      if (details.prompt.name === 'login') {
        await provider.interactionFinished(request, response, { login: { accountId: current } });
        return;
      }
      const accountId = details.session?.accountId ?? current;
      const grant = details.grantId
        ? ((await provider.Grant.find(details.grantId)) as InstanceType<typeof provider.Grant>)
        : new provider.Grant({ accountId, clientId: String(details.params.client_id) });
      const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      const grantId = await grant.save();
      await provider.interactionFinished(
        request,
        response,
        { consent: { grantId } },
        { mergeWithLastSubmission: true },
      );
    } catch (error) {
      response.writeHead(500);
      response.end(String(error));
    }
  });
  const origin = await listen(server);
  front.setTarget(origin);
  const proxies: TestProxy[] = [];
  return {
    issuer: front.url,
    provider,
    accounts,
    signInAs: (accountId) => {
      current = accountId;
    },
    rewrite: (rules) => front.setRules(rules),
    async proxy(rules) {
      const proxy = await startProxy(rules);
      proxy.setTarget(origin);
      proxies.push(proxy);
      return proxy;
    },
    async close() {
      for (const proxy of proxies) await proxy.close();
      await front.close();
      await closeServer(server);
    },
  };
}
