import { WEBHOOK_URL_MAX_LENGTH } from '@gatehouse/protocol';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * Where a webhook may point. Deliveries carry security events, so they go over https only; plain http is allowed
 * to a loopback host outside production, for local receivers and tests. Credentials in the URL are refused: they
 * would show in every listing of the webhook (use a secret path or query parameter, or check the signature).
 *
 * Admins can point a webhook at any host the server can reach, internal ones included (SSRF by design, as with
 * every webhook system); docs/webhooks.md says how to contain that at the network level.
 *
 * Answers the normalized URL, or why it is refused.
 */
export function checkWebhookUrl(raw: string, options: { production: boolean }): { url: string } | { problem: string } {
  if (raw.length > WEBHOOK_URL_MAX_LENGTH)
    return { problem: `The URL is longer than ${WEBHOOK_URL_MAX_LENGTH} characters.` };
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    return { problem: 'The URL is not a valid absolute URL.' };
  }
  if (parsed.username !== '' || parsed.password !== '') return { problem: 'The URL must not contain credentials.' };
  if (parsed.protocol === 'http:') {
    if (options.production || !LOOPBACK_HOSTS.has(parsed.hostname)) {
      return { problem: 'The URL must be https (http is accepted only for a loopback host outside production).' };
    }
  } else if (parsed.protocol !== 'https:') {
    return { problem: 'The URL must be https.' };
  }
  if (parsed.href.length > WEBHOOK_URL_MAX_LENGTH) {
    return { problem: `The URL is longer than ${WEBHOOK_URL_MAX_LENGTH} characters.` };
  }
  return { url: parsed.href };
}
