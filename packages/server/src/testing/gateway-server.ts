import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GatewayRequest {
  headers: IncomingHttpHeaders;
  /** The raw body as received (what a signature covers). */
  raw: string;
  body: { to: string; text: string; purpose: string };
}

export interface TestGateway {
  /** `http://127.0.0.1:<port>/send` for GATEHOUSE_SMS_WEBHOOK_URL / GATEHOUSE_PUSH_WEBHOOK_URL. */
  url: string;
  received: GatewayRequest[];
  /** The next request not yet taken, waiting up to `timeout` ms for it. */
  next(timeout?: number): Promise<GatewayRequest>;
  close(): Promise<void>;
}

export interface GatewayOptions {
  /** Answer the first this many requests with 503, to exercise retries. */
  failFirst?: number;
  /** Never answer (to exercise the timeout). */
  hang?: boolean;
}

/** A real HTTP server on 127.0.0.1 standing in for an SMS or push gateway: it records what Gatehouse posts. */
export async function startGateway(options: GatewayOptions = {}): Promise<TestGateway> {
  const received: GatewayRequest[] = [];
  const waiters = new Set<() => void>();
  let failures = options.failFirst ?? 0;
  let taken = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (options.hang) return;
      if (failures > 0) {
        failures--;
        response.writeHead(503).end();
        return;
      }
      const raw = Buffer.concat(chunks).toString('utf8');
      received.push({ headers: request.headers, raw, body: JSON.parse(raw) });
      for (const wake of waiters) wake();
      response.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/send`,
    received,
    async next(timeout = 5000) {
      const deadline = Date.now() + timeout;
      while (received.length <= taken) {
        if (Date.now() > deadline) throw new Error('no gateway request arrived');
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            resolve();
          };
          waiters.add(wake);
          setTimeout(wake, 50);
        });
      }
      return received[taken++] as GatewayRequest;
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
