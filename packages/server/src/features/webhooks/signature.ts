import { createHmac, timingSafeEqual } from 'node:crypto';
import { randomToken } from '../../crypto/random.js';

/**
 * How a delivery is signed, in the Stripe / Standard Webhooks style:
 *
 *   Gatehouse-Webhook-Id:        <delivery id>        (the same on every retry: receivers de-duplicate on it)
 *   Gatehouse-Webhook-Timestamp: <unix seconds>       (when this attempt was sent)
 *   Gatehouse-Webhook-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
 *
 * The key is the secret string exactly as shown (`whsec_...`, UTF-8). The timestamp is inside the signed text, so
 * a receiver that refuses old timestamps also refuses a captured request replayed later.
 */
export const WEBHOOK_ID_HEADER = 'Gatehouse-Webhook-Id';
export const WEBHOOK_TIMESTAMP_HEADER = 'Gatehouse-Webhook-Timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'Gatehouse-Webhook-Signature';

/** How far a timestamp may be from the receiver's clock, either way, by default. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

const SECRET_PREFIX = 'whsec_';

/** A new signing secret: `whsec_` and 32 random bytes, base64url. */
export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomToken(32)}`;
}

/** The `v1=` signature of a body sent at `timestamp` (unix seconds). */
export function signWebhook(secret: string, timestamp: number, body: string | Uint8Array): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

export type WebhookHeaders = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

export type WebhookVerification =
  | { valid: true; id: string; timestamp: number }
  | { valid: false; reason: 'missing_headers' | 'stale_timestamp' | 'bad_signature' };

/**
 * Checks a delivery as a receiver should: the three headers are present, the timestamp is within `tolerance`
 * seconds of `now` (milliseconds, e.g. `Date.now()`), and one of the `v1=` signatures is the HMAC of
 * `<timestamp>.<raw body>`, compared in constant time. Pass the raw body as received, before any JSON parsing:
 * re-serialized JSON does not verify. Self-contained (node:crypto only), so receivers can copy it.
 *
 * @example
 *   const result = verifyWebhookSignature(process.env.GATEHOUSE_WEBHOOK_SECRET, req.headers, rawBody, Date.now());
 *   if (!result.valid) return res.writeHead(400).end();
 */
export function verifyWebhookSignature(
  secret: string,
  headers: WebhookHeaders,
  body: string | Uint8Array,
  now: number,
  tolerance = DEFAULT_TOLERANCE_SECONDS,
): WebhookVerification {
  const id = header(headers, WEBHOOK_ID_HEADER);
  const timestampText = header(headers, WEBHOOK_TIMESTAMP_HEADER);
  const signatures = header(headers, WEBHOOK_SIGNATURE_HEADER);
  if (!id || !timestampText || !signatures || !/^[0-9]{1,12}$/.test(timestampText)) {
    return { valid: false, reason: 'missing_headers' };
  }
  const timestamp = Number(timestampText);
  if (Math.abs(now / 1000 - timestamp) > tolerance) return { valid: false, reason: 'stale_timestamp' };
  const expected = Buffer.from(signWebhook(secret, timestamp, body), 'utf8');
  // Space-separated, so a sender may list several (e.g. during a key change); one match is enough.
  for (const candidate of signatures.split(' ')) {
    const given = Buffer.from(candidate, 'utf8');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { valid: true, id, timestamp };
  }
  return { valid: false, reason: 'bad_signature' };
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const value = (headers as Record<string, string | readonly string[] | undefined>)[name.toLowerCase()];
  return typeof value === 'string' ? value : undefined;
}
