import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestServer, TEST_PASSWORD, type TestServer } from '../testing/test-server.js';

const servers: TestServer[] = [];
async function server(env: Record<string, string>): Promise<TestServer> {
  const created = await createTestServer(env);
  servers.push(created);
  return created;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((created) => created.close()));
});

function login(app: TestServer, email: string, password: string, remoteAddress = '198.51.100.7') {
  return app.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password }, remoteAddress });
}

describe('rate limits', () => {
  it('limits public POST /auth/* per client IP, in parallel too, and answers 429 REQUESTS_EXCEEDED with Retry-After', async () => {
    const gatehouse = await server({ GATEHOUSE_RATE_LIMIT_IP: '5/1m' });
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => login(gatehouse, 'nobody@example.com', 'wrong password')),
    );
    expect(answers.filter((answer) => answer.statusCode === 401)).toHaveLength(5);
    const refused = answers.filter((answer) => answer.statusCode === 429);
    expect(refused).toHaveLength(15);
    expect(refused[0]?.json()).toEqual({
      errors: [{ message: expect.stringMatching(/Try again in \d+ s/), extensions: { code: 'REQUESTS_EXCEEDED' } }],
    });
    expect(Number(refused[0]?.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused[0]?.headers['retry-after'])).toBeLessThanOrEqual(60);

    // Another address has its own count; routes outside the public POST /auth/* set are not limited by it.
    expect((await login(gatehouse, 'nobody@example.com', 'wrong password', '203.0.113.9')).statusCode).toBe(401);
    const health = await gatehouse.app.inject({ method: 'GET', url: '/health', remoteAddress: '198.51.100.7' });
    expect(health.statusCode).toBe(200);
  });

  it('counts sign-in attempts per account from any IP, and leaves other accounts alone', async () => {
    const gatehouse = await server({ GATEHOUSE_RATE_LIMIT_LOGIN: '3/15m' });
    await gatehouse.signup('ada@example.com');
    await gatehouse.signup('grace@example.com');
    expect((await login(gatehouse, 'ada@example.com', TEST_PASSWORD, '192.0.2.1')).statusCode).toBe(200);
    for (const address of ['192.0.2.2', '192.0.2.3']) {
      expect((await login(gatehouse, 'ada@example.com', 'wrong password', address)).statusCode).toBe(401);
    }
    // The right password is refused too now, from a fresh address and another spelling, until the window ends.
    const locked = await login(gatehouse, 'ADA@Example.com', TEST_PASSWORD, '192.0.2.200');
    expect(locked.statusCode).toBe(429);
    expect(locked.json().errors[0].extensions.code).toBe('REQUESTS_EXCEEDED');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(14 * 60);
    expect((await login(gatehouse, 'grace@example.com', TEST_PASSWORD)).statusCode).toBe(200);

    // An e-mail without an account is counted the same way: the limit tells nothing about who has one.
    for (let attempt = 0; attempt < 3; attempt++) {
      expect((await login(gatehouse, 'ghost@example.com', 'wrong password')).statusCode).toBe(401);
    }
    expect((await login(gatehouse, 'ghost@example.com', 'wrong password')).statusCode).toBe(429);
  });

  it('lets no more parallel guesses through than the limit, and opens again when the window ends', async () => {
    const gatehouse = await server({ GATEHOUSE_RATE_LIMIT_LOGIN: '3/1s' });
    await gatehouse.signup('ada@example.com');
    const guesses = await Promise.all(
      Array.from({ length: 12 }, () => login(gatehouse, 'ada@example.com', 'wrong password')),
    );
    expect(guesses.map((answer) => answer.statusCode).sort()).toEqual([...Array(3).fill(401), ...Array(9).fill(429)]);
    // Only three passwords were ever checked.
    const checked = await gatehouse.database.db
      .selectFrom('audit_events')
      .select('id')
      .where('event', '=', 'auth.login')
      .where('outcome', '=', 'failure')
      .execute();
    expect(checked).toHaveLength(3);
    expect((await login(gatehouse, 'ada@example.com', TEST_PASSWORD)).statusCode).toBe(429);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await login(gatehouse, 'ada@example.com', TEST_PASSWORD)).statusCode).toBe(200);
  });

  it('lets requests through when Redis is unreachable, rather than taking sign-in down', async () => {
    const gatehouse = await server({
      GATEHOUSE_REDIS_URL: 'redis://127.0.0.1:1',
      GATEHOUSE_RATE_LIMIT_IP: '5/1m',
      GATEHOUSE_RATE_LIMIT_LOGIN: '3/15m',
    });
    await gatehouse.signup('ada@example.com');
    for (let attempt = 0; attempt < 8; attempt++) await login(gatehouse, 'ada@example.com', 'wrong password');
    expect((await login(gatehouse, 'ada@example.com', TEST_PASSWORD)).statusCode).toBe(200);
  });

  const redisUrl = process.env.GATEHOUSE_TEST_REDIS_URL;
  it.skipIf(!redisUrl)('shares the counts between nodes through Redis', async () => {
    const env = { GATEHOUSE_REDIS_URL: redisUrl as string, GATEHOUSE_RATE_LIMIT_LOGIN: '3/15m' };
    const first = await server(env);
    const second = await server(env);
    // Keys in Redis outlive a test run: a fresh address keeps runs apart.
    const email = `ada-${randomUUID()}@example.com`;
    await first.signup(email);
    for (let attempt = 0; attempt < 3; attempt++) await login(first, email, 'wrong password');
    const other = await second.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: 'x' } });
    expect(other.statusCode).toBe(429);
  });
});
