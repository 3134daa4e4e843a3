import type { AuthMode, ErrorCode, Identity } from '@gatehouse/protocol';
import type { Kysely } from 'kysely';
import * as client from 'openid-client';
import type { Caller, RequestMeta } from '../../caller.js';
import type { Clock } from '../../clock.js';
import type { Config } from '../../config/index.js';
import { sha256 } from '../../crypto/hash.js';
import { randomId, randomToken } from '../../crypto/random.js';
import type { Database } from '../../db/index.js';
import type { IdentityRow, Tables } from '../../db/types.js';
import { AuthError } from '../../errors/auth-error.js';
import type { AuditLog } from '../audit/index.js';
import type { AuthService, IssuedTokens } from '../auth/index.js';
import type { ProjectSettingsService } from '../projects/index.js';
import { findUserByEmail, findUserById, insertUser, iso, newUserRow, normalizeEmail } from '../users/index.js';
import { ProviderClients } from './client.js';
import { PRESETS, type ProviderProfile } from './drivers.js';
import { type FlowState, openFlow, sealFlow } from './flow-cookie.js';
import { listProviders, type ProviderSettings, scopesOf } from './providers.js';
import { describeError, redeem } from './redeem.js';
import { checkRedirect } from './redirect.js';
import * as store from './store.js';

/** How long a started provider flow may take until its callback. */
export const FLOW_TTL = 10 * 60_000;
/** How long a link ticket (from `POST /users/me/identities/:provider`) can start a link flow. */
export const LINK_TICKET_TTL = 5 * 60_000;

/**
 * Where multi-factor authentication plugs into provider sign-ins: called after the provider proved who the user
 * is and before a session starts. The MFA feature implements it with the project's MFA rules; without it every
 * provider sign-in completes (see docs/oauth.md, "MFA").
 */
export interface SecondFactorGate {
  afterFirstFactor(input: {
    userId: string;
    amr: string[];
    method: string;
  }): Promise<{ required: false } | { required: true; mfaToken: string }>;
}

export interface OAuthServiceDeps {
  database: Database;
  clock: Clock;
  config: Config;
  projectId: string;
  audit: AuditLog;
  auth: AuthService;
  settings: ProjectSettingsService;
  /** Opens client secrets stored by the admin API. */
  secretKey: Uint8Array;
  /** Seals the flow cookie. */
  stateKey: Uint8Array;
  secondFactor?: SecondFactorGate | null;
  /** Where a provider that cannot be reached is reported (its discovery document, say). */
  log?: { warn(details: Record<string, unknown>, message: string): void };
}

export type Failure = { ok: false; code: ErrorCode; message: string; redirect: string | null };

export type StartResult =
  | { ok: true; url: string; cookie: string; maxAge: number; formPost: boolean }
  | { ok: false; code: ErrorCode; message: string };

export type FinishResult =
  | { ok: true; kind: 'signed_in'; issued: IssuedTokens; redirect: string | null }
  | {
      ok: true;
      kind: 'mfa_required';
      mfaToken: string;
      /** The second step's extensions (`mfa_token`, `expires`, `methods`, `default`), for a json answer. */
      challenge: Record<string, unknown>;
      redirect: string | null;
    }
  | { ok: true; kind: 'linked'; identity: Identity; redirect: string | null }
  | Failure;

type Proven =
  | { ok: true; kind: 'sign_in'; userId: string }
  | { ok: true; kind: 'linked'; identity: IdentityRow }
  | { ok: false; code: ErrorCode; message: string; reason: string; userId?: string };

export function toIdentity(row: IdentityRow): Identity {
  return {
    provider: row.provider,
    email: row.email,
    email_verified: Number(row.email_verified) === 1,
    created_at: iso(Number(row.created_at)),
    last_used_at: row.last_used_at === null ? null : iso(Number(row.last_used_at)),
  };
}

const callbackPath = (name: string) => `/auth/login/${encodeURIComponent(name)}/callback`;

/**
 * Sign-in with OAuth 2 and OpenID Connect providers: starting a flow, finishing it at the callback (creating or
 * linking the account), and the user's linked identities. Every protocol check (state, PKCE, nonce, ID token
 * signature, issuer, audience, expiry) is openid-client's; this class decides what a proven identity may do.
 */
export class OAuthService {
  readonly clients: ProviderClients;
  private secondFactor: SecondFactorGate | null;

  constructor(private readonly deps: OAuthServiceDeps) {
    this.clients = new ProviderClients({ production: deps.config.production });
    this.secondFactor = deps.secondFactor ?? null;
  }

  /** Plugs the project's MFA rules into provider sign-ins (the MFA feature calls this from app.ts). */
  useSecondFactor(gate: SecondFactorGate | null): void {
    this.secondFactor = gate;
  }

  private get db(): Kysely<Tables> {
    return this.deps.database.db;
  }

  async providers(): Promise<ProviderSettings[]> {
    const { config, projectId, secretKey } = this.deps;
    return listProviders(this.db, projectId, config.oauthProviders, secretKey);
  }

  /** An enabled provider by name, or null: a disabled provider answers like a missing one. */
  async enabledProvider(name: string): Promise<ProviderSettings | null> {
    return (await this.providers()).find((provider) => provider.name === name && provider.enabled) ?? null;
  }

  redirectUri(name: string): string {
    return new URL(callbackPath(name), this.deps.config.publicUrl).toString();
  }

  /** Checks a `redirect` against the public origin and the allow-list; null when it is refused. */
  checkRedirect(raw: string): string | null {
    return checkRedirect(raw, this.deps.config.publicUrl, this.deps.config.redirectAllowList);
  }

  /**
   * Starts a flow: fresh state, nonce (OpenID) and PKCE verifier, sealed into the cookie the callback needs, and a
   * single-use row for it. With a link ticket, the flow links the provider to the ticket's user instead.
   */
  async start(name: string, input: { redirect?: string; linkTicket?: string }): Promise<StartResult> {
    const { clock, projectId, stateKey } = this.deps;
    const provider = await this.enabledProvider(name);
    if (!provider) return { ok: false, code: 'RECORD_NOT_FOUND', message: 'Provider not found.' };
    let redirect: string | null = null;
    if (input.redirect !== undefined) {
      redirect = this.checkRedirect(input.redirect);
      if (redirect === null) {
        return { ok: false, code: 'INVALID_PAYLOAD', message: 'The redirect is not an allowed URL.' };
      }
    }
    let config: client.Configuration;
    try {
      config = await this.clients.configuration(provider);
    } catch (error) {
      this.deps.log?.warn({ provider: name, error: describeError(error) }, 'sign-in provider cannot be reached');
      return { ok: false, code: 'SERVICE_UNAVAILABLE', message: 'The provider cannot be reached.' };
    }
    // A link ticket is used up only once the provider can be reached, so an outage does not cost the user it.
    const now = clock.now();
    let linkUserId: string | null = null;
    if (input.linkTicket !== undefined) {
      const ticket = await store.consumeFlow(this.db, {
        projectId,
        provider: name,
        now,
        ticketHash: sha256(input.linkTicket),
      });
      if (!ticket?.user_id) {
        return { ok: false, code: 'INVALID_TOKEN', message: 'The link ticket is invalid, used or expired.' };
      }
      linkUserId = ticket.user_id;
    }
    const preset = PRESETS[provider.driver];
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = preset.kind === 'oidc' ? client.randomNonce() : null;
    const parameters: Record<string, string> = {
      redirect_uri: this.redirectUri(name),
      scope: scopesOf(provider).join(' '),
      state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    };
    if (nonce !== null) parameters.nonce = nonce;
    const formPost = preset.kind === 'oidc' && preset.formPost === true;
    if (formPost) parameters.response_mode = 'form_post';
    const url = client.buildAuthorizationUrl(config, parameters).toString();
    const flow: FlowState = {
      id: randomId(),
      provider: name,
      state,
      nonce,
      verifier,
      redirect,
      expiresAt: now + FLOW_TTL,
    };
    await store.pruneFlows(this.db, now - FLOW_TTL);
    await store.insertFlow(this.db, {
      id: flow.id,
      project_id: projectId,
      purpose: 'flow',
      provider: name,
      user_id: linkUserId,
      ticket_hash: null,
      created_at: now,
      expires_at: flow.expiresAt,
      used_at: null,
    });
    return { ok: true, url, cookie: sealFlow(stateKey, flow), maxAge: Math.floor(FLOW_TTL / 1000), formPost };
  }

  /**
   * Finishes a flow at the callback. The flow is used up before anything else is checked, so a replayed callback
   * fails even when everything in it is genuine. Then openid-client checks the answer and redeems the code,
   * and the proven identity signs in, links, or is refused.
   */
  async finish(
    name: string,
    input: {
      /** The callback as received: its URL, or for form_post providers the POST request with the form. */
      callback: URL | Request;
      cookie: string | undefined;
      meta: RequestMeta;
      /**
       * A name the browser passed along (Apple posts it once, in the form, outside the signed ID token). Used only
       * to fill an empty name of a new account, never for the e-mail or anything that decides who someone is.
       */
      nameHint?: { firstName: string | null; lastName: string | null } | null;
    },
  ): Promise<FinishResult> {
    const { clock, projectId, stateKey } = this.deps;
    const attempt = { method: `oauth:${name}`, meta: input.meta, redirect: null as string | null };
    const provider = await this.enabledProvider(name);
    if (!provider) {
      return this.fail(attempt, {
        code: 'RECORD_NOT_FOUND',
        message: 'Provider not found.',
        reason: 'unknown_provider',
      });
    }
    const now = clock.now();
    const flow = openFlow(stateKey, name, input.cookie, now);
    if (!flow) {
      return this.fail(attempt, {
        code: 'OAUTH_FAILED',
        message: 'The sign-in flow is missing or has expired.',
        reason: 'no_flow',
      });
    }
    attempt.redirect = flow.redirect;
    const consumed = await store.consumeFlow(this.db, { projectId, provider: name, now, id: flow.id });
    if (!consumed) {
      return this.fail(attempt, {
        code: 'OAUTH_FAILED',
        message: 'The sign-in flow was already used.',
        reason: 'replayed',
      });
    }
    const profile = await redeem(this.clients, provider, flow, input.callback);
    if (!profile.ok) {
      return this.fail(attempt, {
        code: 'OAUTH_FAILED',
        message: 'The provider sign-in did not succeed.',
        reason: profile.reason,
        details: { error: profile.error, ...(profile.claim ? { claim: profile.claim } : {}) },
      });
    }
    const hint = input.nameHint;
    const named: ProviderProfile = {
      ...profile.profile,
      firstName: profile.profile.firstName ?? hint?.firstName ?? null,
      lastName: profile.profile.lastName ?? hint?.lastName ?? null,
    };
    const proven = await this.prove(provider, named, consumed.user_id, input.meta);
    if (!proven.ok) return this.fail(attempt, { ...proven, subjectId: proven.userId ?? null });
    const { redirect } = flow;
    if (proven.kind === 'linked') return { ok: true, kind: 'linked', identity: toIdentity(proven.identity), redirect };
    const amr = ['fed'];
    const gate = await this.secondFactor?.afterFirstFactor({ userId: proven.userId, amr, method: attempt.method });
    if (gate?.required) {
      return {
        ok: true,
        kind: 'mfa_required',
        mfaToken: gate.mfaToken,
        challenge: { mfa_token: gate.mfaToken },
        redirect,
      };
    }
    // A browser that is sent on gets its tokens in a cookie: json mode answers with the refresh cookie, and the
    // application exchanges it at POST /auth/refresh (as Directus does).
    const mode: AuthMode = redirect === null ? provider.mode : provider.mode === 'session' ? 'session' : 'cookie';
    try {
      const issued = await this.deps.auth.signIn(proven.userId, {
        mode,
        amr,
        method: attempt.method,
        meta: input.meta,
      });
      return { ok: true, kind: 'signed_in', issued, redirect };
    } catch (error) {
      // signIn runs the project's MFA step: an account with a second factor is asked for it (INVALID_OTP with an
      // mfa_token), and the client finishes at POST /auth/mfa/verify. It refuses an account that is not active
      // (or one that must set up MFA first); anything else is not a sign-in failure.
      if (!(error instanceof AuthError)) throw error;
      const mfaToken = error.extensions.mfa_token;
      if (error.code === 'INVALID_OTP' && typeof mfaToken === 'string') {
        return { ok: true, kind: 'mfa_required', mfaToken, challenge: error.extensions, redirect };
      }
      return this.fail(attempt, {
        code: error.code,
        message: error.message,
        reason: 'not_active',
        subjectId: proven.userId,
      });
    }
  }

  /** The identities linked to the caller's account. */
  async identities(caller: Caller): Promise<Identity[]> {
    return (await store.listIdentities(this.db, caller.userId)).map(toIdentity);
  }

  /**
   * A single-use ticket that lets the caller's browser start a link flow: the browser navigates to the provider
   * without the caller's bearer token, so the ticket carries who is linking, for a few minutes.
   */
  async linkTicket(
    caller: Caller,
    name: string,
    redirect: string | undefined,
  ): Promise<{ ok: true; url: string; expires: number } | { ok: false; code: ErrorCode; message: string }> {
    const provider = await this.enabledProvider(name);
    if (!provider) return { ok: false, code: 'RECORD_NOT_FOUND', message: 'Provider not found.' };
    if (redirect !== undefined && this.checkRedirect(redirect) === null) {
      return { ok: false, code: 'INVALID_PAYLOAD', message: 'The redirect is not an allowed URL.' };
    }
    const now = this.deps.clock.now();
    const ticket = randomToken(32);
    await store.insertFlow(this.db, {
      id: randomId(),
      project_id: caller.projectId,
      purpose: 'link_ticket',
      provider: name,
      user_id: caller.userId,
      ticket_hash: sha256(ticket),
      created_at: now,
      expires_at: now + LINK_TICKET_TTL,
      used_at: null,
    });
    const url = new URL(`/auth/login/${encodeURIComponent(name)}`, this.deps.config.publicUrl);
    url.searchParams.set('link', ticket);
    if (redirect !== undefined) url.searchParams.set('redirect', redirect);
    return { ok: true, url: url.toString(), expires: LINK_TICKET_TTL };
  }

  /**
   * Unlinks a provider from the caller. The last way to sign in (no password and no other identity) stays: the
   * check and the delete run in one transaction that holds the user's row, so two parallel unlinks cannot each
   * leave the other as the last one and then both succeed.
   */
  async unlink(
    caller: Caller,
    name: string,
    meta: RequestMeta,
  ): Promise<{ ok: true } | { ok: false; code: ErrorCode; message: string }> {
    const { database, audit } = this.deps;
    const outcome = await database.db.transaction().execute(async (trx) => {
      let userQuery = trx.selectFrom('users').select(['id', 'password_hash']).where('id', '=', caller.userId);
      if (database.dialect === 'postgres') userQuery = userQuery.forUpdate();
      const user = await userQuery.executeTakeFirst();
      if (!user) return 'not_found' as const;
      const identities = await store.listIdentities(trx, caller.userId);
      const target = identities.filter((identity) => identity.provider === name);
      if (target.length === 0) return 'not_found' as const;
      if (user.password_hash === null && identities.length - target.length === 0) return 'last' as const;
      await trx.deleteFrom('identities').where('user_id', '=', caller.userId).where('provider', '=', name).execute();
      return 'unlinked' as const;
    });
    if (outcome === 'not_found') return { ok: false, code: 'RECORD_NOT_FOUND', message: 'Identity not found.' };
    if (outcome === 'last') {
      return {
        ok: false,
        code: 'LAST_SIGN_IN_METHOD',
        message: 'This is the last way to sign in to the account: set a password or link another provider first.',
      };
    }
    await audit.record(caller.projectId, {
      event: 'identity.unlinked',
      actorId: caller.actorId ?? caller.userId,
      subjectId: caller.userId,
      ...meta,
      details: { provider: name },
    });
    return { ok: true };
  }

  /**
   * Decides what a proven provider account may do. Known identity: sign in its user. Linking: attach it to the
   * linking user unless another user has it. Otherwise the provider's e-mail must be verified; an account with
   * that e-mail is only joined when both sides are verified and linking by e-mail is enabled (never a silent
   * takeover), and a new account is only created when the project's sign-up is open.
   */
  private async prove(
    provider: ProviderSettings,
    profile: ProviderProfile,
    linkUserId: string | null,
    meta: RequestMeta,
  ): Promise<Proven> {
    const { clock, projectId, config, settings, audit } = this.deps;
    const now = clock.now();
    const email = profile.email === null ? null : normalizeEmail(profile.email);
    const verified = profile.emailVerified && email !== null;
    const identity = await store.findIdentity(this.db, projectId, provider.name, profile.subject);
    const touch = (row: IdentityRow) =>
      store.touchIdentity(this.db, row.id, { last_used_at: now, email, email_verified: verified ? 1 : 0 });
    const identityRow = (userId: string): IdentityRow => ({
      id: randomId(),
      project_id: projectId,
      user_id: userId,
      provider: provider.name,
      subject: profile.subject,
      email,
      email_verified: verified ? 1 : 0,
      created_at: now,
      last_used_at: now,
    });
    const recordLink = (userId: string, automatic: boolean) =>
      audit.record(projectId, {
        event: 'identity.linked',
        actorId: userId,
        subjectId: userId,
        ...meta,
        details: { provider: provider.name, automatic },
      });
    /** Links unless the user already has another account of this provider (one per provider and user). */
    const link = async (userId: string, automatic: boolean): Promise<IdentityRow | 'in_use' | 'has_other'> => {
      const own = await store.listIdentities(this.db, userId);
      if (own.some((row) => row.provider === provider.name && row.subject !== profile.subject)) return 'has_other';
      const row = identityRow(userId);
      if (!(await store.insertIdentity(this.db, row))) return 'in_use';
      await recordLink(userId, automatic);
      return row;
    };
    const hasOther = {
      ok: false,
      code: 'RECORD_NOT_UNIQUE',
      message: 'Another account of this provider is linked already: unlink it first.',
      reason: 'provider_already_linked',
    } as const;
    const inUse = {
      ok: false,
      code: 'IDENTITY_IN_USE',
      message: 'This provider account is linked to another user.',
      reason: 'identity_in_use',
    } as const;

    if (linkUserId !== null) {
      // The ticket was issued minutes ago: the account may have been suspended since.
      if ((await findUserById(this.db, linkUserId))?.status !== 'active') {
        return {
          ok: false,
          code: 'INVALID_CREDENTIALS',
          message: 'Invalid user credentials.',
          reason: 'not_active',
          userId: linkUserId,
        };
      }
      if (identity && identity.user_id !== linkUserId) return { ...inUse, userId: linkUserId };
      if (identity) {
        await touch(identity);
        return { ok: true, kind: 'linked', identity };
      }
      const row = await link(linkUserId, false);
      if (row === 'has_other') return { ...hasOther, userId: linkUserId };
      return row === 'in_use' ? { ...inUse, userId: linkUserId } : { ok: true, kind: 'linked', identity: row };
    }
    if (identity) {
      await touch(identity);
      return { ok: true, kind: 'sign_in', userId: identity.user_id };
    }
    if (!verified || email === null) {
      return {
        ok: false,
        code: 'OAUTH_EMAIL_NOT_VERIFIED',
        message: 'The provider did not give a verified e-mail address.',
        reason: 'email_not_verified',
      };
    }
    const existing = await findUserByEmail(this.db, projectId, email);
    if (existing) {
      if (config.oauthLinkByEmail && existing.email_verified_at !== null) {
        const row = await link(existing.id, true);
        if (row === 'has_other') return { ...hasOther, userId: existing.id };
        return row === 'in_use' ? inUse : { ok: true, kind: 'sign_in', userId: existing.id };
      }
      return {
        ok: false,
        code: 'OAUTH_ACCOUNT_EXISTS',
        message: 'An account with this e-mail exists: sign in to it first, then link the provider.',
        reason: 'account_exists',
        userId: existing.id,
      };
    }
    const project = await settings.get(projectId);
    if (project.signup !== 'open') {
      return {
        ok: false,
        code: 'OAUTH_SIGNUP_DISABLED',
        message:
          project.signup === 'invite_only' ? 'Sign-up is by invitation only.' : 'Sign-up is closed for this project.',
        reason: 'signup_disabled',
      };
    }
    const row = newUserRow({
      projectId,
      email,
      passwordHash: null,
      role: 'user',
      now,
      emailVerifiedAt: now,
      profile: { first_name: clip(profile.firstName), last_name: clip(profile.lastName) },
    });
    row.provider = provider.name;
    row.avatar = profile.avatar !== null && /^https:\/\//.test(profile.avatar) ? profile.avatar.slice(0, 2048) : null;
    // The account and its identity are written together: a parallel first sign-in of the same provider account
    // waits for this one (the e-mail's unique index) and then finds the identity and signs in the same user.
    const created = await this.db
      .transaction()
      .execute(async (trx) => {
        if (!(await insertUser(trx, row))) return false;
        // Rolls the new account back: an account without its identity could not be signed in to.
        if (!(await store.insertIdentity(trx, identityRow(row.id)))) throw new IdentityTaken();
        return true;
      })
      .catch((error: unknown) => {
        if (error instanceof IdentityTaken) return false;
        throw error;
      });
    if (!created) {
      const winner = await store.findIdentity(this.db, projectId, provider.name, profile.subject);
      if (winner) return { ok: true, kind: 'sign_in', userId: winner.user_id };
      return {
        ok: false,
        code: 'OAUTH_ACCOUNT_EXISTS',
        message: 'An account with this e-mail exists: sign in to it first, then link the provider.',
        reason: 'account_exists',
      };
    }
    await audit.record(projectId, {
      event: 'auth.signup',
      actorId: row.id,
      subjectId: row.id,
      ...meta,
      details: { method: `oauth:${provider.name}` },
    });
    await recordLink(row.id, false);
    return { ok: true, kind: 'sign_in', userId: row.id };
  }

  /** Records a failed provider sign-in (`auth.login`, failure) and answers it with the flow's redirect, if any. */
  private async fail(
    attempt: { method: string; meta: RequestMeta; redirect: string | null },
    failure: {
      code: ErrorCode;
      message: string;
      reason: string;
      details?: Record<string, unknown>;
      subjectId?: string | null;
    },
  ): Promise<Failure> {
    await this.deps.audit.record(this.deps.projectId, {
      event: 'auth.login',
      outcome: 'failure',
      subjectId: failure.subjectId ?? null,
      ...attempt.meta,
      details: { method: attempt.method, reason: failure.reason, ...failure.details },
    });
    return { ok: false, code: failure.code, message: failure.message, redirect: attempt.redirect };
  }
}

/** Thrown inside the sign-up transaction to roll it back when a parallel sign-in took the identity. */
class IdentityTaken extends Error {}

const clip = (value: string | null): string | null => (value === null ? null : value.slice(0, 100));
