import type { RequestMeta } from '../../caller.js';
import type { TemplateKindName, TemplateVariables } from '../../mail/index.js';
import type { LifecycleDeps } from './deps.js';

/** The recipient of an account message: the address, and the language the templates are chosen by. */
export interface Recipient {
  projectId: string;
  email: string;
  language: string | null;
}

/** Renders one of the account templates in the recipient's language (see mail/email-templates.ts) and queues it. */
export async function sendAccountMail(
  deps: Pick<LifecycleDeps, 'templates' | 'mailer' | 'publicUrl'>,
  to: Recipient,
  kind: TemplateKindName,
  variables: TemplateVariables,
): Promise<void> {
  const mail = await deps.templates.render(to.projectId, kind, to.language, {
    site: new URL(deps.publicUrl).host,
    ...variables,
  });
  await deps.mailer.send({ projectId: to.projectId, kind, to: to.email, ...mail });
}

/** A time as mail shows it: `Tue, 01 Dec 2026 12:00:00 GMT`. */
export const mailTime = (millis: number): string => new Date(millis).toUTCString();

/**
 * After a password was set by a change or a reset: the audit event (with how many sessions ended) and the
 * `password_changed` notice to the account's address.
 */
export async function passwordChanged(
  deps: Pick<LifecycleDeps, 'templates' | 'mailer' | 'publicUrl' | 'audit'>,
  user: { id: string; project_id: string; email: string; language: string | null },
  change: { via: 'change' | 'reset'; actorId: string; sessionsEnded: number; now: number; meta: RequestMeta },
): Promise<void> {
  await deps.audit.record(user.project_id, {
    event: 'user.password_changed',
    actorId: change.actorId,
    subjectId: user.id,
    ...change.meta,
    details: { via: change.via, sessions_ended: change.sessionsEnded },
  });
  await sendAccountMail(
    deps,
    { projectId: user.project_id, email: user.email, language: user.language },
    'password_changed',
    { time: mailTime(change.now), via: change.via },
  );
}
