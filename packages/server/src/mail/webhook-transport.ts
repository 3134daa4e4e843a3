import type { TextTransport } from './mailer.js';

export interface WebhookTransportOptions {
  /** The gateway: `GATEHOUSE_SMS_WEBHOOK_URL` or `GATEHOUSE_PUSH_WEBHOOK_URL`. */
  url: string;
  /** Bound on the whole request, in milliseconds; a slower gateway fails the attempt, which is retried later. */
  timeout: number;
  userAgent: string;
  /**
   * Headers that let the gateway authenticate Gatehouse, for a message's id, the send time (unix seconds) and the
   * exact body; null sends none. app.ts hands in the webhook signature (features/webhooks/signature.ts), so a
   * gateway checks these requests with the same `verifyWebhookSignature` as event webhooks.
   */
  sign: ((id: string, timestamp: number, body: string) => Record<string, string>) | null;
  now(): number;
}

/**
 * Text messages (SMS, push) as an HTTPS POST of `{"to", "text", "purpose"}` to a gateway the operator runs (or a
 * provider's adapter). Any 2xx is delivered; anything else, a redirect, a network error or no answer within
 * `timeout` fails the attempt and the mailer retries it. The body and the URL never reach the error text: the
 * body holds the code.
 */
export function createWebhookTransport(options: WebhookTransportOptions): TextTransport {
  return {
    async send(message) {
      const body = JSON.stringify({ to: message.to, text: message.text, purpose: message.purpose });
      const timestamp = Math.floor(options.now() / 1000);
      let response: Response;
      try {
        response = await fetch(options.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': options.userAgent,
            ...(options.sign ? options.sign(message.id, timestamp, body) : {}),
          },
          body,
          // A redirect could lead anywhere (an internal host, say); the gateway must answer at its URL.
          redirect: 'manual',
          signal: AbortSignal.timeout(options.timeout),
        });
      } catch (error) {
        throw new Error(describe(error, options.timeout));
      }
      await response.body?.cancel().catch(() => undefined);
      if (response.status < 200 || response.status >= 300) {
        const redirect = response.status >= 300 && response.status < 400 ? ' (redirects are not followed)' : '';
        throw new Error(`HTTP ${response.status}${redirect}`);
      }
    },
    close() {},
  };
}

/** The network error code or a timeout, never the request (its URL may carry a gateway's token). */
function describe(error: unknown, timeout: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `no answer within ${timeout / 1000} s`;
  }
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === 'string') return `request failed: ${cause.code}`;
  return 'request failed';
}
