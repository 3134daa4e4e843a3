import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A GitHub account as the fake API reports it. */
export interface GithubAccount {
  id: number;
  login: string;
  name: string | null;
  avatar_url: string | null;
  emails: { email: string; primary: boolean; verified: boolean }[];
}

export interface TestGithub {
  url: string;
  clientId: string;
  clientSecret: string;
  accounts: Map<number, GithubAccount>;
  /** The account the next authorization signs in as. */
  signInAs(id: number): void;
  /** Every access token the server issued (to prove none is stored or logged). */
  issuedTokens: string[];
  close(): Promise<void>;
}

async function readForm(request: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/**
 * A small GitHub-style OAuth 2 server on 127.0.0.1: `/login/oauth/authorize` approves at once for the chosen
 * account, `/login/oauth/access_token` redeems a code once (client secret and PKCE checked; errors answered
 * with 200 and an `error` field, as GitHub does), and `/user` and `/user/emails` answer for a bearer token.
 */
export async function startGithubServer(): Promise<TestGithub> {
  const clientId = 'github-client';
  const clientSecret = `gh-secret-${randomBytes(8).toString('hex')}`;
  const accounts = new Map<number, GithubAccount>();
  const codes = new Map<string, { account: number; redirectUri: string; challenge: string | null }>();
  const tokens = new Map<string, number>();
  const issuedTokens: string[] = [];
  let current = 0;
  const json = (response: import('node:http').ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
  const server: Server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/login/oauth/authorize') {
      const redirectUri = url.searchParams.get('redirect_uri') ?? '';
      if (url.searchParams.get('client_id') !== clientId || !redirectUri) return json(response, 400, { error: 'bad' });
      const code = randomBytes(10).toString('hex');
      codes.set(code, { account: current, redirectUri, challenge: url.searchParams.get('code_challenge') });
      const back = new URL(redirectUri);
      back.searchParams.set('code', code);
      const state = url.searchParams.get('state');
      if (state !== null) back.searchParams.set('state', state);
      response.writeHead(302, { location: back.toString() });
      return response.end();
    }
    if (url.pathname === '/login/oauth/access_token' && request.method === 'POST') {
      const form = await readForm(request);
      const code = form.get('code') ?? '';
      const grant = codes.get(code);
      codes.delete(code);
      if (form.get('client_id') !== clientId || form.get('client_secret') !== clientSecret) {
        return json(response, 200, { error: 'incorrect_client_credentials' });
      }
      if (!grant || grant.redirectUri !== form.get('redirect_uri'))
        return json(response, 200, { error: 'bad_verification_code' });
      const verifier = form.get('code_verifier') ?? '';
      const { createHash } = await import('node:crypto');
      if (grant.challenge !== null && createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) {
        return json(response, 200, { error: 'bad_verification_code' });
      }
      const token = `gho_${randomBytes(16).toString('hex')}`;
      tokens.set(token, grant.account);
      issuedTokens.push(token);
      return json(response, 200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
    }
    const bearer = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const account = bearer === undefined ? undefined : accounts.get(tokens.get(bearer) ?? -1);
    if (!account) return json(response, 401, { message: 'Bad credentials' });
    if (url.pathname === '/user') {
      const { emails: _emails, ...user } = account;
      return json(response, 200, { ...user, email: null });
    }
    if (url.pathname === '/user/emails') return json(response, 200, account.emails);
    return json(response, 404, { message: 'Not Found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    clientId,
    clientSecret,
    accounts,
    issuedTokens,
    signInAs: (id) => {
      current = id;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
