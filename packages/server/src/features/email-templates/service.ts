import type { EmailTemplate as ApiTemplate, EmailTemplateBody } from '@gatehouse/protocol';
import type { Kysely } from 'kysely';
import type { Caller, RequestMeta } from '../../caller.js';
import type { Clock } from '../../clock.js';
import type { Tables } from '../../db/types.js';
import { AuthError, invalidPayload } from '../../errors/auth-error.js';
import {
  checkTemplate,
  type EmailTemplate,
  localeChain,
  type RenderedMail,
  renderTemplate,
  TEMPLATE_KIND_NAMES,
  TEMPLATE_KINDS,
  type TemplateKindName,
  type TemplateVariables,
} from '../../mail/index.js';
import type { AuditLog } from '../audit/index.js';

const notFound = () => new AuthError('RECORD_NOT_FOUND', 'No such e-mail template kind.');

function kindOf(name: string): TemplateKindName {
  if (!(TEMPLATE_KIND_NAMES as string[]).includes(name)) throw notFound();
  return name as TemplateKindName;
}

/**
 * Each project may replace any built-in e-mail template, per locale. Rendering walks the recipient's locale
 * chain (`pt-br`, `pt`, `en`) and falls back to the built-in English template.
 */
export class EmailTemplateService {
  constructor(
    private readonly db: Kysely<Tables>,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
  ) {}

  async render(
    projectId: string,
    kind: TemplateKindName,
    locale: string | null,
    variables: TemplateVariables,
  ): Promise<RenderedMail> {
    const chain = localeChain(locale);
    const rows = await this.db
      .selectFrom('email_templates')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('kind', '=', kind)
      .where('locale', 'in', chain)
      .execute();
    const row = chain.map((tag) => rows.find((candidate) => candidate.locale === tag)).find(Boolean);
    return renderTemplate(row ?? TEMPLATE_KINDS[kind].default, variables);
  }

  async list(projectId: string) {
    const rows = await this.db
      .selectFrom('email_templates')
      .select(['kind', 'locale'])
      .where('project_id', '=', projectId)
      .execute();
    return TEMPLATE_KIND_NAMES.map((kind) => ({
      kind,
      description: TEMPLATE_KINDS[kind].description,
      custom_locales: rows
        .filter((row) => row.kind === kind)
        .map((row) => row.locale)
        .sort(),
    }));
  }

  /** The template used for exactly this locale: the project's own, or the built-in one. */
  async get(projectId: string, kindName: string, locale = 'en'): Promise<ApiTemplate> {
    const kind = kindOf(kindName);
    const row = await this.db
      .selectFrom('email_templates')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('kind', '=', kind)
      .where('locale', '=', locale)
      .executeTakeFirst();
    const template: EmailTemplate = row ?? TEMPLATE_KINDS[kind].default;
    return {
      kind,
      locale,
      custom: row !== undefined,
      description: TEMPLATE_KINDS[kind].description,
      variables: TEMPLATE_KINDS[kind].variables,
      subject: template.subject,
      text: template.text,
      html: template.html,
    };
  }

  /** Stores the project's version; a template that does not parse, uses unknown variables or fails to render is refused. */
  async put(
    caller: Caller,
    kindName: string,
    locale: string,
    body: EmailTemplateBody,
    meta: RequestMeta,
  ): Promise<ApiTemplate> {
    const kind = kindOf(kindName);
    const problem = checkTemplate(kind, body);
    if (problem) throw invalidPayload(problem);
    const values = { ...body, updated_at: this.clock.now() };
    await this.db
      .insertInto('email_templates')
      .values({ project_id: caller.projectId, kind, locale, ...values })
      .onConflict((conflict) => conflict.columns(['project_id', 'kind', 'locale']).doUpdateSet(values))
      .execute();
    await this.audit.record(caller.projectId, {
      event: 'email_template.updated',
      actorId: caller.actorId ?? caller.userId,
      ...meta,
      details: { kind, locale },
    });
    return this.get(caller.projectId, kind, locale);
  }

  /** Drops the project's version for a locale, so the built-in (or a broader locale's) template applies again. */
  async reset(caller: Caller, kindName: string, locale: string, meta: RequestMeta): Promise<void> {
    const kind = kindOf(kindName);
    await this.db
      .deleteFrom('email_templates')
      .where('project_id', '=', caller.projectId)
      .where('kind', '=', kind)
      .where('locale', '=', locale)
      .execute();
    await this.audit.record(caller.projectId, {
      event: 'email_template.reset',
      actorId: caller.actorId ?? caller.userId,
      ...meta,
      details: { kind, locale },
    });
  }
}
