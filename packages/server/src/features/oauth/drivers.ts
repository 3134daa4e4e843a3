import type { OAuthDriver } from '@gatehouse/protocol';

/** What Gatehouse learns about the person from a provider, whatever the driver. */
export interface ProviderProfile {
  /** The provider's stable id of the account. */
  subject: string;
  email: string | null;
  /** True only when the provider says so explicitly. */
  emailVerified: boolean;
  firstName: string | null;
  lastName: string | null;
  avatar: string | null;
}

/** Reads a JSON document from the provider's API with the user's access token. */
export type FetchJson = (url: string) => Promise<unknown>;

export interface OidcPreset {
  kind: 'oidc';
  label: string;
  /** Default issuer; `oidc` has none and must be configured. */
  issuer: string | null;
  scopes: string[];
  /** Apple answers with a POST of the form (response_mode=form_post) and a client secret signed per client. */
  formPost?: boolean;
}

export interface OAuth2Preset {
  kind: 'oauth2';
  label: string;
  scopes: string[];
  authorizationUrl: string;
  tokenUrl: string;
  /** The user API base the profile reader starts from. */
  userinfoUrl: string;
  profile(fetchJson: FetchJson, userinfoUrl: string): Promise<ProviderProfile>;
}

export type Preset = OidcPreset | OAuth2Preset;

const record = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
const stringOrNull = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);
const idOf = (value: unknown): string | null =>
  typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : null;

/** Splits a display name into first and last name at the last space (good enough for a profile's start). */
function splitName(name: string | null): { firstName: string | null; lastName: string | null } {
  if (!name) return { firstName: null, lastName: null };
  const index = name.trim().lastIndexOf(' ');
  if (index <= 0) return { firstName: name.trim(), lastName: null };
  return { firstName: name.slice(0, index).trim(), lastName: name.slice(index + 1).trim() };
}

/** The profile in OpenID claims (ID token merged with userinfo). `email_verified` must be true (Apple: "true"). */
export function profileFromClaims(claims: Record<string, unknown>): ProviderProfile | null {
  const subject = stringOrNull(claims.sub);
  if (!subject) return null;
  const fallback = splitName(stringOrNull(claims.name));
  return {
    subject,
    email: stringOrNull(claims.email),
    emailVerified: claims.email_verified === true || claims.email_verified === 'true',
    firstName: stringOrNull(claims.given_name) ?? fallback.firstName,
    lastName: stringOrNull(claims.family_name) ?? fallback.lastName,
    avatar: stringOrNull(claims.picture),
  };
}

/**
 * GitHub: `/user` for the account, `/user/emails` for addresses with their verification (the `email` of `/user`
 * is only the public one, unverified as far as we can tell). Only the primary verified address counts, else any
 * verified one; with none, the profile has no verified e-mail.
 */
async function githubProfile(fetchJson: FetchJson, base: string): Promise<ProviderProfile> {
  const root = base.replace(/\/+$/, '');
  const user = record(await fetchJson(`${root}/user`));
  const subject = idOf(user.id);
  if (!subject) throw new Error('GitHub user without an id');
  const emails = await fetchJson(`${root}/user/emails`);
  const list = Array.isArray(emails) ? emails.map(record) : [];
  const verified = list.filter((entry) => entry.verified === true && stringOrNull(entry.email));
  const chosen = verified.find((entry) => entry.primary === true) ?? verified[0];
  return {
    subject,
    email: chosen ? (chosen.email as string) : null,
    emailVerified: chosen !== undefined,
    ...splitName(stringOrNull(user.name) ?? stringOrNull(user.login)),
    avatar: stringOrNull(user.avatar_url),
  };
}

/** Discord: `/users/@me` carries the e-mail and a `verified` flag. */
async function discordProfile(fetchJson: FetchJson, base: string): Promise<ProviderProfile> {
  const user = record(await fetchJson(`${base.replace(/\/+$/, '')}/users/@me`));
  const subject = idOf(user.id);
  if (!subject) throw new Error('Discord user without an id');
  const avatar = stringOrNull(user.avatar);
  return {
    subject,
    email: stringOrNull(user.email),
    emailVerified: user.verified === true,
    ...splitName(stringOrNull(user.global_name) ?? stringOrNull(user.username)),
    avatar: avatar ? `https://cdn.discordapp.com/avatars/${subject}/${avatar}.png` : null,
  };
}

/**
 * Facebook: the Graph API returns an e-mail only when the account has a confirmed one, and has no flag for it;
 * Gatehouse takes the address as verified (documented in docs/oauth.md, with the advice to leave linking by
 * e-mail off for Facebook-heavy projects).
 */
async function facebookProfile(fetchJson: FetchJson, base: string): Promise<ProviderProfile> {
  const user = record(await fetchJson(`${base.replace(/\/+$/, '')}/me?fields=id,first_name,last_name,email,picture`));
  const subject = idOf(user.id);
  if (!subject) throw new Error('Facebook user without an id');
  const email = stringOrNull(user.email);
  return {
    subject,
    email,
    emailVerified: email !== null,
    firstName: stringOrNull(user.first_name),
    lastName: stringOrNull(user.last_name),
    avatar: stringOrNull(record(record(user.picture).data).url),
  };
}

/** Every driver: `oidc` for any OpenID issuer, the rest presets over the oidc or oauth2 client. */
export const PRESETS: Record<OAuthDriver, Preset> = {
  oidc: { kind: 'oidc', label: 'OpenID Connect', issuer: null, scopes: ['openid', 'email', 'profile'] },
  google: {
    kind: 'oidc',
    label: 'Google',
    issuer: 'https://accounts.google.com',
    scopes: ['openid', 'email', 'profile'],
  },
  microsoft: {
    kind: 'oidc',
    label: 'Microsoft',
    // The personal-accounts ("consumers") tenant: `common` has no single issuer to check ID tokens against.
    issuer: 'https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0',
    scopes: ['openid', 'email', 'profile'],
  },
  gitlab: { kind: 'oidc', label: 'GitLab', issuer: 'https://gitlab.com', scopes: ['openid', 'email', 'profile'] },
  apple: {
    kind: 'oidc',
    label: 'Apple',
    issuer: 'https://appleid.apple.com',
    scopes: ['openid', 'email', 'name'],
    formPost: true,
  },
  github: {
    kind: 'oauth2',
    label: 'GitHub',
    scopes: ['read:user', 'user:email'],
    authorizationUrl: 'https://github.com/login/oauth/authorize',
    tokenUrl: 'https://github.com/login/oauth/access_token',
    userinfoUrl: 'https://api.github.com',
    profile: githubProfile,
  },
  discord: {
    kind: 'oauth2',
    label: 'Discord',
    scopes: ['identify', 'email'],
    authorizationUrl: 'https://discord.com/oauth2/authorize',
    tokenUrl: 'https://discord.com/api/oauth2/token',
    userinfoUrl: 'https://discord.com/api',
    profile: discordProfile,
  },
  facebook: {
    kind: 'oauth2',
    label: 'Facebook',
    scopes: ['email', 'public_profile'],
    authorizationUrl: 'https://www.facebook.com/v19.0/dialog/oauth',
    tokenUrl: 'https://graph.facebook.com/v19.0/oauth/access_token',
    userinfoUrl: 'https://graph.facebook.com/v19.0',
    profile: facebookProfile,
  },
};
