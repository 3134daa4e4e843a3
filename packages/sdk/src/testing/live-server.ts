import { createServer } from 'node:net';
import pino from 'pino';
import { buildApp, type Gatehouse } from '../../../server/src/app.js';
import type { Config } from '../../../server/src/config/index.js';
import { createTestServer, type TestServer } from '../../../server/src/testing/test-server.js';

/** A real Gatehouse listening on 127.0.0.1, for the SDK to talk to over HTTP with the real `fetch`. */
export interface LiveServer {
  /** The public URL, which is also the token issuer and the trusted Origin. */
  url: string;
  server: TestServer;
  /** Stops the listening node and starts a new one on the same database and port with `changes` to its config. */
  restart(changes: Partial<Config>): Promise<void>;
  close(): Promise<void>;
}

/** A port nothing listens on now, for a test that must know the server's URL before it starts. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
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
