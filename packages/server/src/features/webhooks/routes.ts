import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  CreateWebhookBody,
  Data,
  PageMeta,
  UpdateWebhookBody,
  Webhook,
  WebhookDeliveriesQuery,
  WebhookDelivery,
  WebhookDeliveryParams,
  WebhookParams,
  WebhookWithSecret,
} from '@gatehouse/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Caller } from '../../caller.js';
import { AuthError, invalidCredentials, invalidPayload } from '../../errors/auth-error.js';
import { requestMeta } from '../../http/request-meta.js';
import type { Actor, Outcome, WebhookService } from './service.js';

export interface WebhookRoutesOptions {
  webhooks: WebhookService;
}

function callerOf(request: { caller: Caller | null }): Caller {
  if (!request.caller) throw invalidCredentials();
  return request.caller;
}

function actorOf(request: FastifyRequest, caller: Caller): Actor {
  return { actorId: caller.actorId ?? caller.userId, ...requestMeta(request) };
}

const notFound = () => new AuthError('RECORD_NOT_FOUND', 'Webhook not found.');

/** A webhook of another project answers exactly like a missing one. */
function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value;
  if (outcome.reason === 'invalid') throw invalidPayload(outcome.message);
  throw notFound();
}

function found<T>(value: T | null): T {
  if (value === null) throw notFound();
  return value;
}

const read = { access: { permission: 'webhooks:read' } } as const;
const write = { access: { permission: 'webhooks:write' } } as const;
const tags = ['webhooks'];

/** Webhook subscriptions of the caller's project and their deliveries, for admins. */
export async function webhookRoutes(app: FastifyInstance, options: WebhookRoutesOptions): Promise<void> {
  const { webhooks } = options;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/webhooks',
    {
      config: read,
      schema: { tags, summary: "The project's webhooks", response: { 200: Data(Type.Array(Webhook)) } },
    },
    async (request) => ({ data: await webhooks.list(callerOf(request).projectId) }),
  );

  r.post(
    '/webhooks',
    {
      config: write,
      schema: {
        tags,
        summary: 'Subscribe a URL to events; the answer holds the signing secret, shown this once',
        body: CreateWebhookBody,
        response: { 201: Data(WebhookWithSecret) },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const created = await webhooks.create(caller.projectId, request.body, actorOf(request, caller));
      return reply.status(201).send({ data: unwrap(created) });
    },
  );

  r.get(
    '/webhooks/:id',
    {
      config: read,
      schema: { tags, summary: 'One webhook', params: WebhookParams, response: { 200: Data(Webhook) } },
    },
    async (request) => ({ data: found(await webhooks.get(callerOf(request).projectId, request.params.id)) }),
  );

  r.patch(
    '/webhooks/:id',
    {
      config: write,
      schema: {
        tags,
        summary: "Change a webhook's URL, events, description or enabled flag",
        params: WebhookParams,
        body: UpdateWebhookBody,
        response: { 200: Data(Webhook) },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const updated = await webhooks.update(
        caller.projectId,
        request.params.id,
        request.body,
        actorOf(request, caller),
      );
      return { data: unwrap(updated) };
    },
  );

  r.delete(
    '/webhooks/:id',
    {
      config: write,
      schema: {
        tags,
        summary: 'Delete a webhook and its delivery history',
        params: WebhookParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      if (!(await webhooks.remove(caller.projectId, request.params.id, actorOf(request, caller)))) throw notFound();
      return reply.status(204).send(null);
    },
  );

  r.post(
    '/webhooks/:id/rotate-secret',
    {
      config: write,
      schema: {
        tags,
        summary: 'Replace the signing secret; the answer holds the new one, shown this once',
        params: WebhookParams,
        response: { 200: Data(WebhookWithSecret) },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const rotated = await webhooks.rotateSecret(caller.projectId, request.params.id, actorOf(request, caller));
      return { data: found(rotated) };
    },
  );

  r.post(
    '/webhooks/:id/test',
    {
      config: write,
      schema: {
        tags,
        summary: 'Queue a `webhook.test` ping to this webhook',
        params: WebhookParams,
        response: { 202: Data(WebhookDelivery) },
      },
    },
    async (request, reply) => {
      const delivery = await webhooks.ping(callerOf(request).projectId, request.params.id);
      return reply.status(202).send({ data: found(delivery) });
    },
  );

  r.get(
    '/webhooks/:id/deliveries',
    {
      config: read,
      schema: {
        tags,
        summary: "A webhook's deliveries, newest first, with their status",
        params: WebhookParams,
        querystring: WebhookDeliveriesQuery,
        response: { 200: Type.Object({ data: Type.Array(WebhookDelivery), meta: PageMeta }) },
      },
    },
    async (request) => {
      const page = found(await webhooks.deliveries(callerOf(request).projectId, request.params.id, request.query));
      return { data: page.deliveries, meta: { next_cursor: page.nextCursor } };
    },
  );

  r.post(
    '/webhooks/:id/deliveries/:deliveryId/retry',
    {
      config: write,
      schema: {
        tags,
        summary: 'Queue a failed delivery again, now, with a fresh set of attempts',
        params: WebhookDeliveryParams,
        response: { 202: Data(WebhookDelivery) },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const { id, deliveryId } = request.params;
      const retried = await webhooks.retry(caller.projectId, id, deliveryId, actorOf(request, caller));
      return reply.status(202).send({ data: unwrap(retried) });
    },
  );
}
