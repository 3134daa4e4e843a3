import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mailbox } from '../../testing/mailbox.js';
import { startSmtpServer, type TestSmtpServer } from '../../testing/smtp-server.js';
import { createTestServer, TEST_PASSWORD, type TestServer } from '../../testing/test-server.js';
import { describeUserAgent } from './user-agent.js';

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
const SAFARI =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';
const NOTICE = /^New sign-in to your account/;
const DAY = 24 * 60 * 60_000;

let smtp: TestSmtpServer;
let server: TestServer;
let mailbox: Mailbox;

beforeAll(async () => {
  smtp = await startSmtpServer();
  server = await createTestServer({ GATEHOUSE_SMTP_URL: smtp.url, GATEHOUSE_TRUST_PROXY: 'true' });
  mailbox = new Mailbox(() => server, smtp);
});
afterAll(async () => {
  await server.close();
  await smtp.close();
});

let counter = 0;
const newEmail = () => `notice${++counter}-${Date.now()}@example.com`;

function login(email: string, userAgent: string, ip = '203.0.113.7') {
  return server.app.inject({
    method: 'POST',
    url: '/auth/login',
    headers: { 'user-agent': userAgent, 'x-forwarded-for': ip },
    payload: { email, password: TEST_PASSWORD },
  });
}

describe('new sign-in notice', () => {
  it('mails after a sign-in from a user agent the account has not used lately, never after the first', async () => {
    const email = newEmail();
    await server.signup(email);
    expect((await login(email, FIREFOX)).statusCode).toBe(200);
    expect((await login(email, FIREFOX, '198.51.100.20')).statusCode).toBe(200);
    expect(await mailbox.to(email, NOTICE)).toHaveLength(0);

    expect((await login(email, SAFARI, '192.0.2.44')).statusCode).toBe(200);
    const notices = await mailbox.to(email, NOTICE);
    expect(notices).toHaveLength(1);
    const text = notices[0]?.parsed.text ?? '';
    expect(text).toContain('Device: Safari on iOS');
    expect(text).toContain('IP address: 192.0.2.44');
    expect(text).toContain(`Time: ${new Date(server.clock.now()).toUTCString()}`);

    expect((await login(email, SAFARI)).statusCode).toBe(200);
    expect(await mailbox.to(email, NOTICE)).toHaveLength(1);

    // Not seen for longer than the lookback (30 days): new again.
    server.clock.advance(31 * DAY);
    expect((await login(email, FIREFOX)).statusCode).toBe(200);
    expect(await mailbox.to(email, NOTICE)).toHaveLength(2);
  });

  it('sends nothing for a failed sign-in, or when the project turned notices off', async () => {
    const email = newEmail();
    await server.signup(email);
    await login(email, FIREFOX);
    const wrong = await server.app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'user-agent': SAFARI },
      payload: { email, password: 'not the password at all' },
    });
    expect(wrong.statusCode).toBe(401);
    expect(await mailbox.to(email, NOTICE)).toHaveLength(0);

    const admin = await server.admin();
    const patch = (body: object) =>
      server.app.inject({
        method: 'PATCH',
        url: '/projects/default/settings',
        headers: { authorization: `Bearer ${admin.accessToken}` },
        payload: body,
      });
    expect((await patch({ new_sign_in_notice: false })).statusCode).toBe(200);
    try {
      expect((await login(email, SAFARI)).statusCode).toBe(200);
      expect(await mailbox.to(email, NOTICE)).toHaveLength(0);
    } finally {
      await patch({ new_sign_in_notice: true });
    }
    expect((await patch({ new_sign_in_notice: 'yes' })).statusCode).toBe(400);
  });
});

describe('describeUserAgent', () => {
  it.each([
    [FIREFOX, 'Firefox on Linux'],
    [SAFARI, 'Safari on iOS'],
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
      'Edge on Windows',
    ],
    [
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
      'Chrome on macOS',
    ],
    ['curl/8.5.0', 'curl'],
    ['my-app/1.0', 'my-app/1.0'],
    [null, 'an unknown device'],
  ])('describes %s as %s', (userAgent, description) => {
    expect(describeUserAgent(userAgent)).toBe(description);
  });
});
