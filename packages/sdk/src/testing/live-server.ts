import pino from 'pino';
import { buildApp, type Gatehouse } from '../../../server/src/app.js';
import type { Config } from '../../../server/src/config/index.js';
import { freePort } from '../../../server/src/testing/ports.js';
import { createTestServer, TEST_PASSWORD, type TestServer } from '../../../server/src/testing/test-server.js';
import { createClient } from '../client.js';

export { freePort };

/** A real Gatehouse listening on 127.0.0.1, for the SDK to talk to over HTTP with the real `fetch`. */
export interface LiveServer {
  /** The public URL, which is also the token issuer and the trusted Origin. */
  url: string;
  server: TestServer;
  /** Stops the listening node and starts a new one on the same database and port with `changes` to its config. */
  restart(changes: Partial<Config>): Promise<void>;
  close(): Promise<void>;
}

export async function startLiveServer(
  env: Record<string, string> = {},
  options: Parameters<typeof createTestServer>[1] = {},
  fixedPort?: number,
): Promise<LiveServer> {
  const port = fixedPort ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const server = await createTestServer({ GATEHOUSE_PUBLIC_URL: url, ...env }, options);
  await server.app.listen({ port, host: '127.0.0.1' });
  let restarted: Gatehouse | null = null;
  return {
    url,
    server,
    async restart(changes) {
      if (restarted) await restarted.close();
      else await server.app.close();
      const config: Config = { ...server.config, ...changes };
      restarted = await buildApp(config, server.database, {
        clock: server.clock,
        logger: pino({ level: 'silent' }),
        webhookDelivery: 'manual',
        mailRetryInterval: 0,
      });
      await restarted.app.listen({ port, host: '127.0.0.1' });
    },
    async close() {
      if (restarted) await restarted.close();
      await server.close();
    },
  };
}

let accounts = 0;

/** A new account, signed up and signed in through the SDK itself: its access token and user id. */
export async function signedInUser(live: LiveServer, prefix = 'user'): Promise<{ token: string; id: string }> {
  const email = `${prefix}-${++accounts}-${Date.now()}@example.com`;
  const sdk = createClient({ url: live.url, crossTab: false });
  await sdk.signUp({ email, password: TEST_PASSWORD });
  const result = await sdk.auth({ email, password: TEST_PASSWORD });
  const me = await sdk.getProfile();
  return { token: result.access_token ?? '', id: me.id };
}
