import { type Static, Type } from '@sinclair/typebox';

/** A lower-case BCP 47 language tag such as `en`, `de` or `pt-br`. */
export const TemplateLocale = Type.String({ minLength: 2, maxLength: 35, pattern: '^[a-z]{2,8}(-[a-z0-9]{1,8})*$' });

export const EmailTemplateBody = Type.Object(
  {
    subject: Type.String({ minLength: 1, maxLength: 500 }),
    text: Type.String({ minLength: 1, maxLength: 50_000 }),
    html: Type.String({ minLength: 1, maxLength: 200_000 }),
  },
  { additionalProperties: false },
);
export type EmailTemplateBody = Static<typeof EmailTemplateBody>;

export const EmailTemplate = Type.Object({
  kind: Type.String(),
  locale: Type.String(),
  /** False when this is the built-in template (no project version for this locale). */
  custom: Type.Boolean(),
  description: Type.String(),
  variables: Type.Record(Type.String(), Type.String()),
  subject: Type.String(),
  text: Type.String(),
  html: Type.String(),
});
export type EmailTemplate = Static<typeof EmailTemplate>;

export const EmailTemplateSummary = Type.Object({
  kind: Type.String(),
  description: Type.String(),
  /** Locales the project has its own version for. */
  custom_locales: Type.Array(Type.String()),
});

export const TemplateLocaleQuery = Type.Object(
  { locale: Type.Optional(TemplateLocale) },
  { additionalProperties: false },
);
