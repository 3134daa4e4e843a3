import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config/index.js';
import { startGateway } from '../testing/gateway-server.js';
import { createTestServer, type TestServer } from '../testing/test-server.js';
import { RETRY_DELAYS } from './index.js';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const codeIn = (text: string) => /\b(\d{6})\b/.exec(text)?.[1] as string;

/** A new user who has asked for a sign-in code by push. */
async function pushCode(server: TestServer): Promise<{ email: string; id: string }> {
  const user = await server.user();
  const response = await server.app.inject({
    method: 'POST',
    url: '/auth/code/generate',
    payload: { identifier: user.email, channel: 'push', purpose: 'login' },
  });
  expect(response.statusCode).toBe(204);
  // The request's lookup and send run after the answer.
  await server.lifecycle.settled();
  return user;
}

describe('SMS and push without a gateway (development outbox)', () => {
  it('keeps the message for GET /outbox and logs one line without the code', async () => {
    const server = await createTestServer();
    try {
      const admin = await server.admin();
      const user = await server.user();
      const phone = '+3725559876';
      const added = await server.app.inject({
        method: 'POST',
        url: '/users/me/phone',
        headers: bearer(user.accessToken),
        payload: { phone },
      });
      expect(added.statusCode).toBe(204);
      const lines = server
        .logs()
        .split('\n')
        .filter((line) => line.includes('is in the outbox'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`sms message \\"code\\" to ${phone} is in the outbox (no sms webhook configured)`);
      const listed = await server.app.inject({
        method: 'GET',
        url: '/outbox?kind=code',
        headers: bearer(admin.accessToken),
      });
      const [message] = listed.json().data;
      expect(message).toMatchObject({ channel: 'sms', to: phone, status: 'held', attempts: 0 });
      const code = codeIn(message.text);
      expect(code).toMatch(/^\d{6}$/);
      expect(server.logs()).not.toMatch(new RegExp(`(^|[^0-9])${code}([^0-9]|$)`));
      // The code from the outbox is the way in without a gateway.
      const verified = await server.app.inject({
        method: 'POST',
        url: '/users/me/phone/verify',
        headers: bearer(user.accessToken),
        payload: { code },
      });
      expect(verified.json().data.phone).toBe(phone);
    } finally {
      await server.close();
    }
  });
});

describe('gateway failures', () => {
  it('records a failing gateway on the row, retries with backoff, and delivers once it answers', async () => {
    const gateway = await startGateway({ failFirst: 2 });
    const server = await createTestServer({ GATEHOUSE_PUSH_WEBHOOK_URL: gateway.url });
    try {
      const admin = await server.admin();
      const user = await pushCode(server);
      await server.mailer.settled();
      const row = () =>
        server.database.db.selectFrom('outbox').selectAll().where('to', '=', user.id).executeTakeFirstOrThrow();
      expect(await row()).toMatchObject({ channel: 'push', status: 'failed', attempts: 1, last_error: 'HTTP 503' });
      const listed = await server.app.inject({
        method: 'GET',
        url: '/outbox?status=failed',
        headers: bearer(admin.accessToken),
      });
      expect(listed.json().data[0]).toMatchObject({ to: user.id, channel: 'push', status: 'failed' });
      expect(server.logs()).toContain('push message delivery failed; will retry');

      server.clock.advance(RETRY_DELAYS[0] ?? 0);
      expect(await server.mailer.retryDue()).toBe(1);
      expect(await row()).toMatchObject({ status: 'failed', attempts: 2 });
      server.clock.advance(RETRY_DELAYS[1] ?? 0);
      expect(await server.mailer.retryDue()).toBe(1);
      const request = await gateway.next();
      expect(request.body).toMatchObject({ to: user.id, purpose: 'login' });
      // Unsigned without GATEHOUSE_MESSAGE_WEBHOOK_SECRET.
      expect(request.headers['gatehouse-webhook-signature']).toBeUndefined();
      const sent = await row();
      expect(sent).toMatchObject({ status: 'sent', text: null, html: null });
      const code = codeIn(request.body.text);
      const login = await server.app.inject({
        method: 'POST',
        url: '/auth/code/login',
        payload: { identifier: user.email, code },
      });
      expect(login.statusCode).toBe(200);
    } finally {
      await server.close();
      await gateway.close();
    }
  });

  it('fails the attempt when the gateway does not answer within GATEHOUSE_MESSAGE_WEBHOOK_TIMEOUT, without holding the request', async () => {
    const gateway = await startGateway({ hang: true });
    const server = await createTestServer({
      GATEHOUSE_PUSH_WEBHOOK_URL: gateway.url,
      GATEHOUSE_MESSAGE_WEBHOOK_TIMEOUT: '300ms',
    });
    try {
      const started = Date.now();
      const user = await pushCode(server);
      expect(Date.now() - started).toBeLessThan(2000);
      await server.mailer.settled();
      const row = await server.database.db
        .selectFrom('outbox')
        .selectAll()
        .where('to', '=', user.id)
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({ status: 'failed', attempts: 1, last_error: 'no answer within 0.3 s' });
    } finally {
      await server.close();
      await gateway.close();
    }
  });

  it('refuses plain-http gateways in production', () => {
    const base = {
      NODE_ENV: 'production',
      GATEHOUSE_SECRET: 'production-secret-production-secret-0123',
      GATEHOUSE_PUBLIC_URL: 'https://auth.example.com',
    };
    expect(() => loadConfig({ ...base, GATEHOUSE_SMS_WEBHOOK_URL: 'http://sms.internal/send' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, GATEHOUSE_PUSH_WEBHOOK_URL: 'http://push.internal/send' })).toThrow(
      /GATEHOUSE_PUSH_WEBHOOK_URL must be https/,
    );
    expect(loadConfig({ ...base, GATEHOUSE_SMS_WEBHOOK_URL: 'https://sms.example.com/send' }).smsWebhookUrl).toBe(
      'https://sms.example.com/send',
    );
    expect(() => loadConfig({ GATEHOUSE_MESSAGE_WEBHOOK_SECRET: 'short' })).toThrow(
      /GATEHOUSE_MESSAGE_WEBHOOK_SECRET must be at least 24 characters/,
    );
  });
});
