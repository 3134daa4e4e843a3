export { MAX_ATTEMPTS, RETRY_DELAYS, RETRY_JITTER, retryDelay, WebhookDeliveryWorker } from './delivery.js';
export { webhookRoutes } from './routes.js';
export { type Actor, WebhookService } from './service.js';
export {
  newWebhookSecret,
  signWebhook,
  verifyWebhookSignature,
  WEBHOOK_ID_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  type WebhookVerification,
} from './signature.js';
