import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Data, EmailTemplate, EmailTemplateBody, EmailTemplateSummary, TemplateLocaleQuery } from '@gatehouse/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Caller } from '../../caller.js';
import { invalidCredentials } from '../../errors/auth-error.js';
import { requestMeta } from '../../http/request-meta.js';
import type { EmailTemplateService } from './service.js';

const Kind = Type.Object({ kind: Type.String({ minLength: 1, maxLength: 64 }) });

function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw invalidCredentials();
  return request.caller;
}

/** `/email-templates`: read and replace the project's e-mail templates, per kind and locale. */
export async function emailTemplateRoutes(app: FastifyInstance, options: { templates: EmailTemplateService }) {
  const { templates } = options;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/email-templates',
    {
      config: { access: { permission: 'templates:read' } },
      schema: {
        tags: ['email templates'],
        summary: 'Template kinds, and the locales the project has its own version for',
        response: { 200: Data(Type.Array(EmailTemplateSummary)) },
      },
    },
    async (request) => ({ data: await templates.list(callerOf(request).projectId) }),
  );

  r.get(
    '/email-templates/:kind',
    {
      config: { access: { permission: 'templates:read' } },
      schema: {
        tags: ['email templates'],
        summary: 'The template of a kind for a locale (en by default), with the variables it may use',
        params: Kind,
        querystring: TemplateLocaleQuery,
        response: { 200: Data(EmailTemplate) },
      },
    },
    async (request) => ({
      data: await templates.get(callerOf(request).projectId, request.params.kind, request.query.locale),
    }),
  );

  r.put(
    '/email-templates/:kind',
    {
      config: { access: { permission: 'templates:write' } },
      schema: {
        tags: ['email templates'],
        summary: "Replace the project's template of a kind for a locale",
        description:
          'Mustache: `{{variable}}` and sections over the listed variables. A template that does not parse, uses an unknown variable, uses unescaped output or partials, or does not render is refused with 400.',
        params: Kind,
        querystring: TemplateLocaleQuery,
        body: EmailTemplateBody,
        response: { 200: Data(EmailTemplate) },
      },
    },
    async (request) => ({
      data: await templates.put(
        callerOf(request),
        request.params.kind,
        request.query.locale ?? 'en',
        request.body,
        requestMeta(request),
      ),
    }),
  );

  r.delete(
    '/email-templates/:kind',
    {
      config: { access: { permission: 'templates:write' } },
      schema: {
        tags: ['email templates'],
        summary: "Drop the project's template of a kind for a locale; the built-in one applies again",
        params: Kind,
        querystring: TemplateLocaleQuery,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await templates.reset(callerOf(request), request.params.kind, request.query.locale ?? 'en', requestMeta(request));
      return reply.status(204).send(null);
    },
  );
}
