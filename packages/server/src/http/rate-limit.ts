import { createRequire } from 'node:module';
import rateLimit, { type FastifyRateLimitStore, type RateLimitPluginOptions } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { Rate } from '../config/schema.js';
import { sha256 } from '../crypto/hash.js';
import { AuthError } from '../errors/auth-error.js';

export interface RateLimitOptions {
  /** Requests per client IP to the public `POST /auth/*` routes; null turns it off. */
  ip: Rate | null;
  /** Failed password sign-ins per account; null turns it off. */
  login: Rate | null;
  /** Shared counters across nodes; without it each process counts for itself. */
  redis: Redis | null;
  onStoreError(error: unknown): void;
}

/** Counts password sign-in attempts for one account and refuses them once the limit is reached. */
export interface LoginThrottle {
  /** Counts one attempt; throws 429 REQUESTS_EXCEEDED (with Retry-After) when it is over the limit. */
  attempt(request: FastifyRequest, reply: FastifyReply, email: string): Promise<void>;
}

type Counted = (error: Error | null, result?: { current: number; ttl: number }) => void;
interface StoreLike {
  incr(key: string, callback: Counted, timeWindow: number, max: number): void;
  read(key: string, callback: Counted, timeWindow: number, max: number): void;
}
const LocalStore = createRequire(import.meta.url)('@fastify/rate-limit/store/LocalStore.js') as new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  cache: number,
) => StoreLike;

/** Per process: enough entries that flooding it with other keys to evict one takes far more than the IP rule allows. */
const LOCAL_ENTRIES = 50_000;

/**
 * The plugin's in-process store, answering a copy of each count. Its own answers the live entry, which the
 * plugin reads only after an `await`: twenty parallel requests then all read twenty, and all are refused
 * although the first ones were within the limit.
 */
class SnapshotStore implements FastifyRateLimitStore {
  private readonly inner = new LocalStore(false, false, LOCAL_ENTRIES);

  incr(key: string, callback: Counted, timeWindow: number, max: number): void {
    this.inner.incr(key, (error, result) => callback(error, result && { ...result }), timeWindow, max);
  }

  read(key: string, callback: Counted, timeWindow: number, max: number): void {
    this.inner.read(key, (error, result) => callback(error, result && { ...result }), timeWindow, max);
  }

  child(): FastifyRateLimitStore {
    return new SnapshotStore();
  }
}

function exceeded(seconds: number): AuthError {
  return new AuthError('REQUESTS_EXCEEDED', `Too many requests. Try again in ${seconds} s.`);
}

/**
 * Rate limits through `@fastify/rate-limit` (fixed windows, in process or in Redis). Two rules:
 * - per client IP on every public `POST /auth/*` route (sign-in, sign-up, refresh, reset and code requests),
 *   checked in `onRequest`, before the body is even parsed;
 * - per account on password sign-in attempts, whatever the IP, so that guessing one account's password from
 *   many addresses is slowed as well. The attempt is counted before the password is checked, so parallel
 *   guesses cannot slip past the count while the hashes are being computed; an attacker who reaches the limit
 *   holds password sign-in for that e-mail shut only until the window ends (other ways in stay open).
 *
 * Must be registered before the routes. A Redis that stops answering lets requests through (and is logged):
 * an unreachable cache should not take sign-in down with it.
 */
export async function registerRateLimits(app: FastifyInstance, options: RateLimitOptions): Promise<LoginThrottle> {
  const { ip, login } = options;
  if (ip) {
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      if (!methods.includes('POST') || !route.url.startsWith('/auth/') || route.config?.access !== 'public') return;
      route.config = { ...route.config, rateLimit: { max: ip.max, timeWindow: ip.window } };
    });
  }
  await app.register(rateLimit, {
    global: false,
    ...(options.redis ? { redis: options.redis } : { store: SnapshotStore as RateLimitPluginOptions['store'] }),
    nameSpace: 'gatehouse:rate:',
    skipOnError: true,
    errorResponseBuilder: (_request, context) => exceeded(Math.ceil(context.ttl / 1000)),
    // The limit is not a secret, but a header on every answer is noise; Retry-After comes with the 429.
    addHeadersOnExceeding: {
      'x-ratelimit-limit': false,
      'x-ratelimit-remaining': false,
      'x-ratelimit-reset': false,
    },
    addHeaders: {
      'x-ratelimit-limit': false,
      'x-ratelimit-remaining': false,
      'x-ratelimit-reset': false,
      'retry-after': true,
    },
  });
  if (!login) return { attempt: async () => {} };

  const counter = app.createRateLimit({
    max: login.max,
    timeWindow: login.window,
    keyGenerator: (request) => `login:${(request as { throttleKey?: string }).throttleKey ?? ''}`,
    skipOnError: true,
  });
  return {
    async attempt(request, reply, email) {
      // Hashed, so no e-mail address sits in Redis keys.
      (request as { throttleKey?: string }).throttleKey = sha256(email);
      const state = await counter(request).catch((error: unknown) => {
        options.onStoreError(error);
        return null;
      });
      if (!state || state.isAllowed || !state.isExceeded) return;
      const seconds = Math.max(1, state.ttlInSeconds);
      reply.header('retry-after', String(seconds));
      throw exceeded(seconds);
    },
  };
}
