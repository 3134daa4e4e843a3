import { type Static, Type } from '@sinclair/typebox';
import { Limit } from './audit.js';
import { NullableInteger, NullableString, StringEnum } from './schemas.js';

/** Subscribing to `*` delivers every event, including ones added to the catalog later. */
export const WEBHOOK_ALL_EVENTS = '*';
/** The event name of the ping sent by `POST /webhooks/:id/test`; it is not an audit event. */
export const WEBHOOK_TEST_EVENT = 'webhook.test';
export const WEBHOOK_URL_MAX_LENGTH = 2048;

const Uuid = Type.String({
  pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
});

export const WebhookParams = Type.Object({ id: Uuid });
export type WebhookParams = Static<typeof WebhookParams>;
export const WebhookDeliveryParams = Type.Object({ id: Uuid, deliveryId: Uuid });
export type WebhookDeliveryParams = Static<typeof WebhookDeliveryParams>;

const WebhookUrl = Type.String({
  minLength: 1,
  maxLength: WEBHOOK_URL_MAX_LENGTH,
  description: 'Where deliveries are POSTed: https (http only to a loopback host outside production).',
});
const WebhookEvents = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
  minItems: 1,
  maxItems: 100,
  uniqueItems: true,
  description: 'Audit event names (see AUDIT_EVENTS), or `["*"]` for every event.',
});
const WebhookDescription = NullableString({ maxLength: 500 });

export const CreateWebhookBody = Type.Object(
  {
    url: WebhookUrl,
    events: WebhookEvents,
    description: Type.Optional(WebhookDescription),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type CreateWebhookBody = Static<typeof CreateWebhookBody>;

export const UpdateWebhookBody = Type.Object(
  {
    url: Type.Optional(WebhookUrl),
    events: Type.Optional(WebhookEvents),
    description: Type.Optional(WebhookDescription),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateWebhookBody = Static<typeof UpdateWebhookBody>;

export const Webhook = Type.Object({
  id: Type.String(),
  url: Type.String(),
  description: NullableString(),
  events: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});
export type Webhook = Static<typeof Webhook>;

/** The answer of create and rotate-secret: the only times the signing secret is shown. */
export const WebhookWithSecret = Type.Object({
  ...Webhook.properties,
  secret: Type.String({ description: 'The signing secret (`whsec_...`). Shown once; store it now.' }),
});
export type WebhookWithSecret = Static<typeof WebhookWithSecret>;

export const WebhookDeliveryStatus = StringEnum(['pending', 'succeeded', 'failed']);
export type WebhookDeliveryStatus = Static<typeof WebhookDeliveryStatus>;

export const WebhookDelivery = Type.Object({
  id: Type.String(),
  webhook_id: Type.String(),
  event_id: Type.String(),
  event: Type.String(),
  status: WebhookDeliveryStatus,
  attempts: Type.Integer(),
  next_attempt_at: NullableString({ format: 'date-time' }),
  last_attempt_at: NullableString({ format: 'date-time' }),
  response_status: NullableInteger(),
  last_error: NullableString(),
  created_at: Type.String({ format: 'date-time' }),
  delivered_at: NullableString({ format: 'date-time' }),
});
export type WebhookDelivery = Static<typeof WebhookDelivery>;

export const WebhookDeliveriesQuery = Type.Object(
  {
    status: Type.Optional(WebhookDeliveryStatus),
    limit: Type.Optional(Limit),
    cursor: Type.Optional(
      Type.String({
        maxLength: 64,
        pattern: '^[0-9]{1,16}\\.[0-9a-fA-F-]{36}$',
        description: 'The `next_cursor` of the previous page.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type WebhookDeliveriesQuery = Static<typeof WebhookDeliveriesQuery>;
