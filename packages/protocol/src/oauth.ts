import { type Static, Type } from '@sinclair/typebox';
import { AuthMode, NullableString, StringEnum } from './schemas.js';

/** Drivers a provider can use: `oidc` for any OpenID issuer, or a preset over the oidc or oauth2 driver. */
export const OAUTH_DRIVERS = [
  'oidc',
  'google',
  'github',
  'apple',
  'facebook',
  'microsoft',
  'gitlab',
  'discord',
] as const;
export const OAuthDriver = StringEnum(OAUTH_DRIVERS);
export type OAuthDriver = Static<typeof OAuthDriver>;

/** A provider name: lower-case letters, digits, `-` and `_`; it appears in URLs and in `users.provider`. */
export const ProviderName = Type.String({ minLength: 1, maxLength: 40, pattern: '^[a-z0-9][a-z0-9_-]*$' });

export const ProviderParams = Type.Object({ provider: Type.String({ minLength: 1, maxLength: 64 }) });
export type ProviderParams = Static<typeof ProviderParams>;

export const OAuthStartQuery = Type.Object(
  {
    redirect: Type.Optional(
      Type.String({
        maxLength: 2048,
        description:
          'Where the browser goes after the callback: a relative path, a URL on the public origin, or one in GATEHOUSE_REDIRECT_ALLOW_LIST.',
      }),
    ),
    link: Type.Optional(
      Type.String({ maxLength: 128, description: 'A link ticket from `POST /users/me/identities/:provider`.' }),
    ),
  },
  { additionalProperties: true },
);
export type OAuthStartQuery = Static<typeof OAuthStartQuery>;

/** The provider's answer; everything is checked by the OAuth client, so the schema only bounds sizes. */
export const OAuthCallbackQuery = Type.Record(Type.String({ maxLength: 64 }), Type.Unknown());

const Scopes = Type.Array(Type.String({ minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7e]+$' }), {
  maxItems: 50,
});

/** A provider as admins see it: never its client secret. */
export const ProviderConfig = Type.Object({
  name: Type.String(),
  label: Type.String(),
  driver: OAuthDriver,
  icon: NullableString(),
  client_id: Type.String(),
  /** True when a client secret is stored; the secret itself is never returned. */
  has_client_secret: Type.Boolean(),
  issuer: NullableString(),
  scopes: Type.Array(Type.String()),
  mode: AuthMode,
  enabled: Type.Boolean(),
  authorization_url: NullableString(),
  token_url: NullableString(),
  userinfo_url: NullableString(),
  /** `env` providers come from GATEHOUSE_OAUTH_* variables and cannot be changed through the API. */
  source: StringEnum(['env', 'api']),
  created_at: NullableString({ format: 'date-time' }),
  updated_at: NullableString({ format: 'date-time' }),
});
export type ProviderConfig = Static<typeof ProviderConfig>;

const ProviderFields = {
  label: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  icon: Type.Optional(NullableString({ maxLength: 100 })),
  client_secret: Type.Optional(NullableString({ minLength: 1, maxLength: 8192 })),
  issuer: Type.Optional(NullableString({ maxLength: 2048 })),
  scopes: Type.Optional(Scopes),
  mode: Type.Optional(AuthMode),
  enabled: Type.Optional(Type.Boolean()),
  authorization_url: Type.Optional(NullableString({ maxLength: 2048 })),
  token_url: Type.Optional(NullableString({ maxLength: 2048 })),
  userinfo_url: Type.Optional(NullableString({ maxLength: 2048 })),
};

export const CreateProviderBody = Type.Object(
  {
    name: ProviderName,
    driver: OAuthDriver,
    client_id: Type.String({ minLength: 1, maxLength: 512 }),
    ...ProviderFields,
  },
  { additionalProperties: false },
);
export type CreateProviderBody = Static<typeof CreateProviderBody>;

export const UpdateProviderBody = Type.Object(
  { client_id: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })), ...ProviderFields },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateProviderBody = Static<typeof UpdateProviderBody>;

/** A provider account linked to a user. */
export const Identity = Type.Object({
  provider: Type.String(),
  email: NullableString(),
  email_verified: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: NullableString({ format: 'date-time' }),
});
export type Identity = Static<typeof Identity>;

export const LinkIdentityBody = Type.Object(
  { redirect: Type.Optional(Type.String({ maxLength: 2048 })) },
  { additionalProperties: false },
);
export type LinkIdentityBody = Static<typeof LinkIdentityBody>;

/** Where the browser goes to link: `GET /auth/login/:provider?link=...`, valid for a few minutes, once. */
export const LinkIdentityAnswer = Type.Object({ url: Type.String(), expires: Type.Integer() });
export type LinkIdentityAnswer = Static<typeof LinkIdentityAnswer>;
