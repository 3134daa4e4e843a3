import { type Static, Type } from '@sinclair/typebox';
import { Limit } from './audit.js';
import { NullableString, StringEnum } from './schemas.js';

/**
 * `held`: no SMTP server is configured, the message stays in the outbox. `pending`: the first attempt is under
 * way. `sent`: the SMTP server took it. `failed`: the last attempt failed; `next_attempt_at` says when it is
 * tried again, and is null once Gatehouse has given up.
 */
export const OutboxStatus = StringEnum(['held', 'pending', 'sent', 'failed']);
export type OutboxStatus = Static<typeof OutboxStatus>;

/** A keyset cursor over rows ordered by creation time and id: `<created_at millis>.<id>`. */
export const TimeCursor = Type.String({
  maxLength: 100,
  pattern: '^[0-9]{1,16}\\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
  description: 'The `next_cursor` of the previous page.',
});

export const OutboxMessage = Type.Object({
  id: Type.String(),
  kind: Type.String({ description: 'What the message is for, e.g. `invitation`, `magic_link`, `code`.' }),
  to: Type.String(),
  subject: Type.String(),
  text: NullableString({ description: 'Null once an SMTP-sent message has been delivered or given up.' }),
  html: NullableString(),
  status: OutboxStatus,
  attempts: Type.Integer(),
  next_attempt_at: NullableString({ format: 'date-time' }),
  last_error: NullableString(),
  created_at: Type.String({ format: 'date-time' }),
  sent_at: NullableString({ format: 'date-time' }),
  channel: StringEnum(['email', 'sms', 'push']),
});
export type OutboxMessage = Static<typeof OutboxMessage>;

export const OutboxQuery = Type.Object(
  {
    status: Type.Optional(OutboxStatus),
    kind: Type.Optional(Type.String({ maxLength: 64 })),
    limit: Type.Optional(Limit),
    cursor: Type.Optional(TimeCursor),
  },
  { additionalProperties: false },
);
export type OutboxQuery = Static<typeof OutboxQuery>;
