import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Kysely } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deriveKey } from '../../crypto/secret-box.js';
import type { Tables } from '../../db/types.js';
import { createTestServer, PUBLIC_URL, type TestServer } from '../../testing/test-server.js';
import { MAX_ATTEMPTS, RETRY_DELAYS, RETRY_JITTER, retryDelay, WebhookDeliveryWorker } from './delivery.js';
import {
  signWebhook,
  verifyWebhookSignature,
  WEBHOOK_ID_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  type WebhookVerification,
} from './signature.js';
import { checkWebhookUrl } from './url.js';

/** What reached the receiver, and whether it verified under the secret the receiver was given. */
interface Arrival {
  headers: IncomingHttpHeaders;
  body: string;
  verification: WebhookVerification;
}

/**
 * A real HTTP receiver on 127.0.0.1, as a subscriber would run one: it checks every request's signature with the
 * secret Gatehouse showed at creation (against the server's clock, which the tests move) and records it.
 */
class Receiver {
  readonly arrivals: Arrival[] = [];
  /** Status codes to answer, in order; 200 once they run out (or `fallback`). */
  answers: number[] = [];
  fallback = 200;
  secret = '';
  private readonly server: Server;

  constructor(private readonly now: () => number) {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const verification = verifyWebhookSignature(this.secret, request.headers, body, this.now());
        this.arrivals.push({ headers: request.headers, body, verification });
        const status = this.answers.shift() ?? this.fallback;
        if (status >= 300 && status < 400) response.setHeader('location', 'http://127.0.0.1:1/elsewhere');
        response.writeHead(status).end(status < 300 ? 'ok' : 'nope');
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks/gatehouse`;
  }

  reset(): void {
    this.arrivals.length = 0;
    this.answers = [];
    this.fallback = 200;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

let server: TestServer;
let receiver: Receiver;
let receiverUrl: string;
let admin: { id: string; accessToken: string };

beforeAll(async () => {
  server = await createTestServer();
  receiver = new Receiver(() => server.clock.now());
  receiverUrl = await receiver.listen();
});
beforeEach(async () => {
  // A fresh admin each time: tests move the clock past the access token's lifetime.
  admin = await server.admin();
});
afterEach(async () => {
  // Each test starts without subscriptions, so events of one test never reach another's receiver.
  // (Straight in the database: a test may have moved the clock past the admin's token.)
  await server.database.db.deleteFrom('webhooks').execute();
  receiver.reset();
});
afterAll(async () => {
  await receiver.close();
  await server.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object, token = admin.accessToken) {
  return server.app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });
}

interface CreatedWebhook {
  id: string;
  secret: string;
  url: string;
  events: string[];
  enabled: boolean;
}

async function subscribe(body: Record<string, unknown>): Promise<CreatedWebhook> {
  const response = await call('POST', '/webhooks', { url: receiverUrl, ...body });
  expect(response.statusCode, response.body).toBe(201);
  const { data } = response.json() as { data: CreatedWebhook };
  receiver.secret = data.secret;
  return data;
}

async function deliveries(webhookId: string, query = '') {
  const response = await call('GET', `/webhooks/${webhookId}/deliveries${query}`);
  expect(response.statusCode, response.body).toBe(200);
  return response.json() as {
    data: {
      id: string;
      event: string;
      status: string;
      attempts: number;
      response_status: number | null;
      last_error: string | null;
      next_attempt_at: string | null;
      delivered_at: string | null;
    }[];
    meta: { next_cursor: string | null };
  };
}

describe('webhook deliveries', () => {
  it('delivers a subscribed event, signed, with the audit event as GET /audit shows it', async () => {
    const webhook = await subscribe({ events: ['auth.login'], description: 'SIEM' });
    expect(webhook.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(webhook).toMatchObject({ url: receiverUrl, events: ['auth.login'], enabled: true, description: 'SIEM' });

    const user = await server.user();
    expect(await server.webhookDelivery.deliverDue()).toBe(1);

    expect(receiver.arrivals).toHaveLength(1);
    const [arrival] = receiver.arrivals;
    expect(arrival?.verification).toMatchObject({ valid: true });
    expect(arrival?.headers['content-type']).toBe('application/json');
    const body = JSON.parse(arrival?.body ?? '');
    expect(body.id).toBe(arrival?.headers[WEBHOOK_ID_HEADER.toLowerCase()]);
    expect(body.event).toBe('auth.login');
    const audit = await call('GET', `/audit?event=auth.login&subject=${user.id}`);
    const [event] = audit.json().data;
    expect(body.data).toEqual(event);
    expect(body.created_at).toBe(event.created_at);

    const list = await deliveries(webhook.id);
    expect(list.data).toHaveLength(1);
    expect(list.data[0]).toMatchObject({
      id: body.id,
      event: 'auth.login',
      status: 'succeeded',
      attempts: 1,
      response_status: 200,
      last_error: null,
      next_attempt_at: null,
    });
    expect(list.data[0]?.delivered_at).toEqual(expect.stringMatching(/Z$/));
  });

  it('does not deliver events the webhook is not subscribed to', async () => {
    const webhook = await subscribe({ events: ['auth.logout'] });
    await server.user(); // auth.signup and auth.login
    expect(await server.webhookDelivery.deliverDue()).toBe(0);
    expect(receiver.arrivals).toHaveLength(0);
    expect((await deliveries(webhook.id)).data).toHaveLength(0);
  });

  it('delivers every event to a `*` subscription', async () => {
    await subscribe({ events: ['*'] });
    await server.user();
    await server.webhookDelivery.deliverDue();
    const events = receiver.arrivals.map((arrival) => JSON.parse(arrival.body).event);
    expect(events).toEqual(expect.arrayContaining(['auth.signup', 'auth.login']));
    expect(receiver.arrivals.every((arrival) => arrival.verification.valid)).toBe(true);
  });

  it('retries a failed delivery with backoff, and sends the same body and id each time', async () => {
    const webhook = await subscribe({ events: ['auth.login'] });
    receiver.answers = [500, 500, 200];
    await server.user();

    expect(await server.webhookDelivery.deliverDue()).toBe(1);
    let [delivery] = (await deliveries(webhook.id)).data;
    expect(delivery).toMatchObject({ status: 'pending', attempts: 1, response_status: 500, last_error: 'HTTP 500' });
    const firstRetryAt = Date.parse(delivery?.next_attempt_at ?? '');
    const firstDelay = firstRetryAt - server.clock.now();
    expect(firstDelay).toBeGreaterThanOrEqual(RETRY_DELAYS[0] ?? 0);
    expect(firstDelay).toBeLessThanOrEqual((RETRY_DELAYS[0] ?? 0) * (1 + RETRY_JITTER));

    // Not before the backoff has elapsed.
    expect(await server.webhookDelivery.deliverDue()).toBe(0);
    server.clock.advance(firstDelay - 1000);
    expect(await server.webhookDelivery.deliverDue()).toBe(0);
    expect(receiver.arrivals).toHaveLength(1);

    server.clock.advance(1000);
    expect(await server.webhookDelivery.deliverDue()).toBe(1);
    [delivery] = (await deliveries(webhook.id)).data;
    expect(delivery).toMatchObject({ status: 'pending', attempts: 2, response_status: 500 });
    const secondDelay = Date.parse(delivery?.next_attempt_at ?? '') - server.clock.now();
    expect(secondDelay).toBeGreaterThanOrEqual(RETRY_DELAYS[1] ?? 0);
    server.clock.advance(secondDelay - 1000);
    expect(await server.webhookDelivery.deliverDue()).toBe(0);
    server.clock.advance(1000);
    expect(await server.webhookDelivery.deliverDue()).toBe(1);

    [delivery] = (await deliveries(webhook.id)).data;
    expect(delivery).toMatchObject({ status: 'succeeded', attempts: 3, response_status: 200, last_error: null });
    expect(receiver.arrivals).toHaveLength(3);
    expect(new Set(receiver.arrivals.map((arrival) => arrival.body)).size).toBe(1);
    expect(new Set(receiver.arrivals.map((arrival) => arrival.headers['gatehouse-webhook-id'])).size).toBe(1);
    expect(receiver.arrivals.every((arrival) => arrival.verification.valid)).toBe(true);
    // Each attempt is signed with its own timestamp.
    const stamps = receiver.arrivals.map((arrival) => Number(arrival.headers['gatehouse-webhook-timestamp']));
    expect(new Set(stamps).size).toBe(3);
  });

  it('gives up after the last attempt, shows the failure, and can be queued again', async () => {
    const webhook = await subscribe({ events: ['auth.logout'] });
    receiver.fallback = 503;
    await call('POST', `/webhooks/${webhook.id}/test`);

    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      expect(await server.webhookDelivery.deliverDue(), `attempt ${attempt}`).toBe(1);
      server.clock.advance(27 * 60 * 60 * 1000); // past the longest delay with jitter
    }
    expect(await server.webhookDelivery.deliverDue()).toBe(0);
    expect(receiver.arrivals).toHaveLength(MAX_ATTEMPTS);
    admin = await server.admin(); // two days later: the first token has long expired

    const failed = await deliveries(webhook.id, '?status=failed');
    expect(failed.data).toHaveLength(1);
    const [delivery] = failed.data;
    expect(delivery).toMatchObject({
      status: 'failed',
      attempts: MAX_ATTEMPTS,
      response_status: 503,
      last_error: 'HTTP 503',
      next_attempt_at: null,
      delivered_at: null,
    });
    expect((await deliveries(webhook.id, '?status=pending')).data).toHaveLength(0);

    receiver.fallback = 200;
    const retry = await call('POST', `/webhooks/${webhook.id}/deliveries/${delivery?.id}/retry`);
    expect(retry.statusCode, retry.body).toBe(202);
    expect(retry.json().data).toMatchObject({ status: 'pending', attempts: 0 });
    expect(await server.webhookDelivery.deliverDue()).toBe(1);
    expect((await deliveries(webhook.id)).data[0]).toMatchObject({ status: 'succeeded', attempts: 1 });

    // Only a failed delivery can be queued again.
    const again = await call('POST', `/webhooks/${webhook.id}/deliveries/${delivery?.id}/retry`);
    expect(again.statusCode).toBe(400);
    expect(again.json().errors[0].extensions.code).toBe('INVALID_PAYLOAD');
    const audit = await call('GET', '/audit?event=webhook.delivery_retried');
    expect(audit.json().data[0]).toMatchObject({ actor_id: admin.id, details: { delivery_id: delivery?.id } });
  });

  it('does not follow redirects, and records a refused connection without throwing', async () => {
    const webhook = await subscribe({ events: ['auth.login'] });
    receiver.answers = [302];
    await server.user();
    await server.webhookDelivery.deliverDue();
    expect(receiver.arrivals).toHaveLength(1);
    expect((await deliveries(webhook.id)).data[0]).toMatchObject({
      status: 'pending',
      response_status: 302,
      last_error: 'HTTP 302 (redirects are not followed)',
    });

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const patch = await call('PATCH', `/webhooks/${webhook.id}`, { url: `http://127.0.0.1:${port}/gone` });
    expect(patch.statusCode, patch.body).toBe(200);
    server.clock.advance(60_000);
    expect(await server.webhookDelivery.deliverDue()).toBe(1);
    expect((await deliveries(webhook.id)).data[0]).toMatchObject({
      status: 'pending',
      attempts: 2,
      response_status: null,
      last_error: 'request failed: ECONNREFUSED',
    });
  });

  it('sends nothing to a disabled webhook, and queued deliveries wait until it is enabled again', async () => {
    const off = await subscribe({ events: ['auth.login'], enabled: false });
    expect(off.enabled).toBe(false);
    await server.user();
    expect(await server.webhookDelivery.deliverDue()).toBe(0);
    expect((await deliveries(off.id)).data).toHaveLength(0);

    const on = await subscribe({ events: ['auth.login'] });
    await server.user();
    await call('PATCH', `/webhooks/${on.id}`, { enabled: false });
    expect(await server.webhookDelivery.deliverDue()).toBe(0);
    expect(receiver.arrivals).toHaveLength(0);
    await call('PATCH', `/webhooks/${on.id}`, { enabled: true });
    expect(await server.webhookDelivery.deliverDue()).toBe(1);
    expect(receiver.arrivals[0]?.verification.valid).toBe(true);
  });

  it('signs deliveries with the new secret after a rotation', async () => {
    const webhook = await subscribe({ events: ['auth.login'] });
    const rotated = await call('POST', `/webhooks/${webhook.id}/rotate-secret`);
    expect(rotated.statusCode, rotated.body).toBe(200);
    const { secret } = rotated.json().data as { secret: string };
    expect(secret).toMatch(/^whsec_/);
    expect(secret).not.toBe(webhook.secret);

    await server.user();
    await server.webhookDelivery.deliverDue();
    const [arrival] = receiver.arrivals;
    expect(arrival?.verification).toEqual({ valid: false, reason: 'bad_signature' }); // still the old secret
    expect(verifyWebhookSignature(secret, arrival?.headers ?? {}, arrival?.body ?? '', server.clock.now()).valid).toBe(
      true,
    );
  });

  it('sends a webhook.test ping on request, whatever the subscription', async () => {
    const webhook = await subscribe({ events: ['auth.logout'] });
    const ping = await call('POST', `/webhooks/${webhook.id}/test`);
    expect(ping.statusCode, ping.body).toBe(202);
    expect(ping.json().data).toMatchObject({ event: 'webhook.test', status: 'pending' });
    await server.webhookDelivery.deliverDue();
    expect(receiver.arrivals).toHaveLength(1);
    expect(receiver.arrivals[0]?.verification.valid).toBe(true);
    expect(JSON.parse(receiver.arrivals[0]?.body ?? '')).toMatchObject({
      event: 'webhook.test',
      data: { webhook_id: webhook.id },
    });
  });

  it('sends each delivery once when several workers run at the same time', async () => {
    const webhook = await subscribe({ events: ['webhook.updated'] });
    for (let i = 0; i < 6; i++) await call('PATCH', `/webhooks/${webhook.id}`, { description: `change ${i}` });
    const counts = await Promise.all([
      server.webhookDelivery.deliverDue(),
      server.webhookDelivery.deliverDue(),
      server.webhookDelivery.deliverDue(),
      server.webhookDelivery.deliverDue(),
    ]);
    expect(counts.reduce((sum, count) => sum + count, 0)).toBe(6);
    expect(receiver.arrivals).toHaveLength(6);
    expect(new Set(receiver.arrivals.map((arrival) => arrival.headers['gatehouse-webhook-id'])).size).toBe(6);
    const list = await deliveries(webhook.id);
    expect(list.data.every((delivery) => delivery.status === 'succeeded' && delivery.attempts === 1)).toBe(true);
  });

  it('pages through deliveries, newest first', async () => {
    const webhook = await subscribe({ events: ['auth.login'] });
    for (let i = 0; i < 5; i++) {
      await call('POST', `/webhooks/${webhook.id}/test`);
      if (i % 2 === 0) server.clock.advance(1); // some share a millisecond, some do not
    }
    const first = await deliveries(webhook.id, '?limit=2');
    expect(first.data).toHaveLength(2);
    expect(first.meta.next_cursor).not.toBeNull();
    const second = await deliveries(webhook.id, `?limit=2&cursor=${first.meta.next_cursor}`);
    const third = await deliveries(webhook.id, `?limit=2&cursor=${second.meta.next_cursor}`);
    const ids = [...first.data, ...second.data, ...third.data].map((delivery) => delivery.id);
    expect(ids).toHaveLength(5);
    expect(new Set(ids).size).toBe(5);
    expect(third.meta.next_cursor).toBeNull();
    const bad = await call('GET', `/webhooks/${webhook.id}/deliveries?cursor=abc`);
    expect(bad.statusCode).toBe(400);
  });
});

describe('the delivery timer', () => {
  it('sends due deliveries on its own, and logs rather than throws when a run fails', async () => {
    const webhook = await subscribe({ events: ['auth.logout'] });
    await call('POST', `/webhooks/${webhook.id}/test`);
    const errors: unknown[] = [];
    const log = { info: () => undefined, error: (object: object) => errors.push(object) };
    const options = { clock: server.clock, sealKey: deriveKey(server.config.secret, 'webhooks'), log, interval: 10 };
    const worker = new WebhookDeliveryWorker({ ...options, db: server.database.db });
    worker.start();
    for (let i = 0; i < 200 && receiver.arrivals.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await worker.stop();
    expect(receiver.arrivals).toHaveLength(1);
    expect(receiver.arrivals[0]?.verification.valid).toBe(true);

    const broken = {
      selectFrom() {
        throw new Error('database unreachable');
      },
    } as unknown as Kysely<Tables>;
    const failing = new WebhookDeliveryWorker({ ...options, db: broken });
    failing.start();
    for (let i = 0; i < 200 && errors.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    await failing.stop();
    expect(errors.length).toBeGreaterThanOrEqual(2); // it kept running after the first failure
  });
});

describe('webhook signatures', () => {
  const secret = 'whsec_test-secret';
  const body = '{"id":"1","event":"auth.login"}';
  const now = 1_700_000_000_000;
  const headersAt = (timestamp: number, signed = body) => ({
    'gatehouse-webhook-id': 'delivery-1',
    'gatehouse-webhook-timestamp': String(timestamp),
    'gatehouse-webhook-signature': signWebhook(secret, timestamp, signed),
  });

  it('accepts the exact body, from plain header objects and from fetch Headers', () => {
    const headers = headersAt(now / 1000);
    expect(verifyWebhookSignature(secret, headers, body, now)).toEqual({
      valid: true,
      id: 'delivery-1',
      timestamp: now / 1000,
    });
    expect(verifyWebhookSignature(secret, new Headers(headers), Buffer.from(body), now).valid).toBe(true);
    expect(headers['gatehouse-webhook-signature']).toMatch(/^v1=[0-9a-f]{64}$/);
  });

  it('refuses a tampered body, a wrong secret, an old or future timestamp and missing headers', () => {
    const headers = headersAt(now / 1000);
    const tampered = body.replace('auth.login', 'auth.logout');
    expect(verifyWebhookSignature(secret, headers, tampered, now)).toEqual({ valid: false, reason: 'bad_signature' });
    expect(verifyWebhookSignature(`${secret}x`, headers, body, now).valid).toBe(false);
    expect(verifyWebhookSignature(secret, headersAt(now / 1000 - 301), body, now)).toEqual({
      valid: false,
      reason: 'stale_timestamp',
    });
    expect(verifyWebhookSignature(secret, headersAt(now / 1000 + 301), body, now).valid).toBe(false);
    expect(verifyWebhookSignature(secret, { 'gatehouse-webhook-id': 'x' }, body, now)).toEqual({
      valid: false,
      reason: 'missing_headers',
    });
    // A signature over another timestamp does not verify under the one sent (no timestamp swapping).
    const swapped = { ...headers, 'gatehouse-webhook-timestamp': String(now / 1000 - 10) };
    expect(verifyWebhookSignature(secret, swapped, body, now).valid).toBe(false);
  });

  it('names the headers it documents', () => {
    expect([WEBHOOK_ID_HEADER, WEBHOOK_TIMESTAMP_HEADER, WEBHOOK_SIGNATURE_HEADER]).toEqual([
      'Gatehouse-Webhook-Id',
      'Gatehouse-Webhook-Timestamp',
      'Gatehouse-Webhook-Signature',
    ]);
  });

  it('backs off 30 s, 2 min, 10 min, 1 h, 6 h, 12 h, 24 h, with up to 10% jitter, then gives up', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((attempts) => retryDelay(attempts, () => 0))).toEqual([
      30_000, 120_000, 600_000, 3_600_000, 21_600_000, 43_200_000, 86_400_000,
    ]);
    expect(retryDelay(1, () => 0.999)).toBeLessThanOrEqual(33_000);
    expect(retryDelay(MAX_ATTEMPTS)).toBeNull();
  });
});

describe('webhook administration', () => {
  it('creates, reads, updates and deletes a webhook, with audit events', async () => {
    const webhook = await subscribe({ events: ['auth.login', 'user.deleted'] });
    const list = await call('GET', '/webhooks');
    expect(list.statusCode).toBe(200);
    expect(list.json().data.map((item: { id: string }) => item.id)).toContain(webhook.id);
    expect(list.body).not.toContain('secret');

    const one = await call('GET', `/webhooks/${webhook.id}`);
    expect(one.json().data).toMatchObject({ id: webhook.id, events: ['auth.login', 'user.deleted'] });
    expect(one.json().data.secret).toBeUndefined();

    const patch = await call('PATCH', `/webhooks/${webhook.id}`, { events: ['*'], description: null });
    expect(patch.statusCode, patch.body).toBe(200);
    expect(patch.json().data).toMatchObject({ events: ['*'], description: null, enabled: true });

    const removed = await call('DELETE', `/webhooks/${webhook.id}`);
    expect(removed.statusCode).toBe(204);
    expect((await call('GET', `/webhooks/${webhook.id}`)).statusCode).toBe(404);
    expect((await call('PATCH', `/webhooks/${webhook.id}`, { enabled: false })).statusCode).toBe(404);
    expect((await call('DELETE', `/webhooks/${webhook.id}`)).statusCode).toBe(404);
    expect((await call('GET', `/webhooks/${webhook.id}/deliveries`)).statusCode).toBe(404);

    const audit = (await call('GET', '/audit?limit=10')).json().data as {
      event: string;
      actor_id: string;
      details: Record<string, unknown>;
    }[];
    const ours = audit.filter((event) => event.details.webhook_id === webhook.id);
    expect(ours.map((event) => event.event)).toEqual(['webhook.deleted', 'webhook.updated', 'webhook.created']);
    expect(ours.every((event) => event.actor_id === admin.id)).toBe(true);
    expect(ours[1]?.details).toMatchObject({ fields: ['events', 'description'], events: ['*'] });
    expect(ours[2]?.details).toMatchObject({ host: new URL(receiverUrl).host, events: ['auth.login', 'user.deleted'] });
  });

  it('accepts https anywhere and http only to a loopback host outside production', async () => {
    const refused = [
      'http://example.com/hook',
      'ftp://example.com/hook',
      'https://user:pass@example.com/hook',
      'not a url',
      `https://example.com/${'a'.repeat(2040)}`,
      'javascript:alert(1)',
    ];
    for (const url of refused) {
      const response = await call('POST', '/webhooks', { url, events: ['auth.login'] });
      expect(response.statusCode, url).toBe(400);
      expect(response.json().errors[0].extensions.code, url).toBe('INVALID_PAYLOAD');
    }
    const created: string[] = [];
    for (const url of ['https://example.com/hook', 'http://127.0.0.1:9/hook', 'http://localhost/x', 'http://[::1]/']) {
      const response = await call('POST', '/webhooks', { url, events: ['auth.login'], enabled: false });
      expect(response.statusCode, url).toBe(201);
      created.push(response.json().data.id);
    }
    const patch = await call('PATCH', `/webhooks/${created[0]}`, { url: 'http://example.com/' });
    expect(patch.statusCode).toBe(400);

    expect(checkWebhookUrl('http://127.0.0.1/hook', { production: true })).toHaveProperty('problem');
    expect(checkWebhookUrl('https://hooks.example.com/a?b=c', { production: true })).toEqual({
      url: 'https://hooks.example.com/a?b=c',
    });
  });

  it('refuses unknown event names', async () => {
    for (const events of [['auth.logn'], [], ['webhook.test'], ['auth.login', 'auth.login']]) {
      const response = await call('POST', '/webhooks', { url: receiverUrl, events });
      expect(response.statusCode, JSON.stringify(events)).toBe(400);
      expect(response.json().errors[0].extensions.code).toBe('INVALID_PAYLOAD');
    }
  });

  it('stores the secret sealed and never logs it or a signature', async () => {
    const webhook = await subscribe({ events: ['auth.login'] });
    const rotated = (await call('POST', `/webhooks/${webhook.id}/rotate-secret`)).json().data.secret as string;
    receiver.secret = rotated;
    await server.user();
    await server.webhookDelivery.deliverDue();
    expect(receiver.arrivals[0]?.verification.valid).toBe(true);

    const row = await server.database.db
      .selectFrom('webhooks')
      .select('secret')
      .where('id', '=', webhook.id)
      .executeTakeFirstOrThrow();
    expect(row.secret).toMatch(/^v1\./);
    for (const secret of [webhook.secret, rotated]) expect(row.secret).not.toContain(secret.slice(6));
    const tables = JSON.stringify([
      await server.database.db.selectFrom('webhook_deliveries').selectAll().execute(),
      await server.database.db.selectFrom('audit_events').selectAll().execute(),
    ]);
    const logs = server.logs();
    const signature = String(receiver.arrivals[0]?.headers['gatehouse-webhook-signature']);
    for (const secret of [webhook.secret.slice(6), rotated.slice(6), signature.slice(3)]) {
      expect(logs).not.toContain(secret);
      expect(tables).not.toContain(secret);
    }
  });

  it('answers 403 to a plain user and 401 without a credential on every webhook route', async () => {
    const webhook = await subscribe({ events: ['auth.login'] });
    const user = await server.user();
    const id = webhook.id;
    const deliveryId = '00000000-0000-4000-8000-000000000000';
    const routes: [method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: object][] = [
      ['GET', '/webhooks'],
      ['POST', '/webhooks', { url: receiverUrl, events: ['*'] }],
      ['GET', `/webhooks/${id}`],
      ['PATCH', `/webhooks/${id}`, { enabled: false }],
      ['DELETE', `/webhooks/${id}`],
      ['POST', `/webhooks/${id}/rotate-secret`],
      ['POST', `/webhooks/${id}/test`],
      ['GET', `/webhooks/${id}/deliveries`],
      ['POST', `/webhooks/${id}/deliveries/${deliveryId}/retry`],
    ];
    expect(server.routes.filter((route) => route.url.startsWith('/webhooks'))).toHaveLength(routes.length);
    for (const [method, url, body] of routes) {
      const forbidden = await call(method, url, body, user.accessToken);
      expect(forbidden.statusCode, `${method} ${url}`).toBe(403);
      expect(forbidden.json().errors[0].extensions.code).toBe('FORBIDDEN');
      const anonymous = await server.app.inject({
        method,
        url,
        headers: { origin: PUBLIC_URL },
        ...(body ? { payload: body } : {}),
      });
      expect(anonymous.statusCode, `${method} ${url}`).toBe(401);
    }
    const still = await call('GET', `/webhooks/${id}`);
    expect(still.json().data).toMatchObject({ enabled: true });
    expect(await server.webhookDelivery.deliverDue()).toBe(1); // the user's sign-in; nothing from the refusals
  });
});
