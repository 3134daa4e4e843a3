import type { AuthMode, LoginBody, SignupBody } from '@gatehouse/protocol';
import type { Kysely } from 'kysely';
import type { Caller, Credential, RequestMeta } from '../../caller.js';
import type { Clock } from '../../clock.js';
import type { Config } from '../../config/index.js';
import type { JwtClaims, JwtVerifier } from '../../crypto/jwt.js';
import { hashPassword, type PasswordParams, verifyPassword } from '../../crypto/password.js';
import type { SessionRow, Tables, UserProfile, UserUpdate } from '../../db/types.js';
import { AuthError, forbidden, invalidCredentials } from '../../errors/auth-error.js';
import type { AuditLog } from '../audit/index.js';
import { checkPasswordPolicy, type ProjectSettingsService } from '../projects/index.js';
import { effectivePermissions } from '../roles/index.js';
import type { SessionService } from '../sessions/index.js';
import type { KeyRing } from '../signing-keys/index.js';
import {
  findUserByEmail,
  findUserWithPermissions,
  insertUser,
  newUserRow,
  normalizeEmail,
  updateUser,
} from '../users/index.js';

/** What a successful login or refresh hands back before the route shapes it for the requested mode. */
export interface IssuedTokens {
  mode: AuthMode;
  /** Access JWT (json, cookie) or session JWT (session). */
  token: string;
  /** Lifetime of `token` in milliseconds. */
  expires: number;
  refreshToken: string | null;
  refreshExpires: number;
}

export type TokenUse = 'access' | 'session';

/** A user and their role's permissions: what a token is issued for. */
interface Subject {
  user: UserProfile;
  permissions: string[];
}

/**
 * The step after a first factor (password, magic link, code, passkey; features/mfa): answers the `amr` of the
 * sign-in, or throws what the client must do next (INVALID_OTP with an mfa_token, MFA_SETUP_REQUIRED). An `amr`
 * that already holds `mfa` (a passkey with user verification) passes as it is: only a flow that has itself proven
 * two factors may put `mfa` in it.
 */
export interface SecondFactorGate {
  afterFirstFactor(
    user: { id: string; email: string; role: string; language: string | null },
    input: { amr: string[]; method: string; otp?: string; mode: AuthMode; meta: RequestMeta },
  ): Promise<string[]>;
}

/** Lifetime of the setup token MFA_SETUP_REQUIRED hands out (it admits only the MFA enrolment routes). */
const SETUP_TOKEN_TTL = 10 * 60 * 1000;

/**
 * What the account-lifecycle feature does around sign-up and sign-in, handed over by app.ts. Both notices run
 * in the background: neither the answer nor its timing depends on them.
 */
export interface AccountEvents {
  /** Throws INVALID_PAYLOAD when a caller-chosen verification link target is not allowed. */
  checkVerificationUrl(url: string | undefined): void;
  /** A new account was stored by sign-up (mails the verification link unless the project turned it off). */
  signedUp(user: UserProfile, verificationUrl: string | undefined): void;
  /** A password sign-in opened `session` (mails a notice when its user agent is new on the account). */
  signedIn(user: UserProfile, session: SessionRow): void;
}

export interface AuthServiceDeps {
  db: Kysely<Tables>;
  clock: Clock;
  config: Config;
  projectId: string;
  keyRing: KeyRing;
  verifier: JwtVerifier;
  sessions: SessionService;
  passwordParams: PasswordParams;
  audit: AuditLog;
  settings: ProjectSettingsService;
  secondFactor?: SecondFactorGate;
  accountEvents?: AccountEvents;
}

export class AuthService {
  constructor(private readonly deps: AuthServiceDeps) {}

  /**
   * Creates an account. Answers nothing either way: a taken e-mail costs the same hashing work and gives the
   * same answer, so sign-up cannot be used to find out who has an account.
   */
  async signup(body: SignupBody, meta: RequestMeta): Promise<void> {
    const { db, clock, projectId, passwordParams } = this.deps;
    const settings = await this.deps.settings.get(projectId);
    if (settings.signup !== 'open') {
      throw forbidden(
        settings.signup === 'invite_only' ? 'Sign-up is by invitation only.' : 'Sign-up is closed for this project.',
      );
    }
    checkPasswordPolicy(settings, body.password, normalizeEmail(body.email));
    this.deps.accountEvents?.checkVerificationUrl(body.verification_url);
    const passwordHash = await hashPassword(body.password, passwordParams);
    const { email: _email, password: _password, verification_url: verificationUrl, ...profile } = body;
    const row = newUserRow({ projectId, email: body.email, passwordHash, role: 'user', now: clock.now(), profile });
    // Both outcomes write one event, so a taken e-mail costs the same as a new one.
    if (await insertUser(db, row)) {
      await this.deps.audit.record(projectId, { event: 'auth.signup', actorId: row.id, subjectId: row.id, ...meta });
      const { password_hash: _hash, ...user } = row;
      this.deps.accountEvents?.signedUp(user as UserProfile, verificationUrl);
    } else {
      const existing = await findUserByEmail(db, projectId, row.email);
      await this.deps.audit.record(projectId, {
        event: 'auth.signup',
        outcome: 'failure',
        subjectId: existing?.id ?? null,
        ...meta,
        details: { reason: 'email_taken' },
      });
    }
  }

  /**
   * Checks e-mail and password. Unknown e-mail, wrong password and a suspended account all do one argon2id
   * verification (against a fixed dummy hash when there is no account) and fail alike.
   */
  async login(body: LoginBody, mode: AuthMode, meta: RequestMeta): Promise<IssuedTokens> {
    const { db, projectId, passwordParams } = this.deps;
    const email = normalizeEmail(body.email);
    const user = await findUserByEmail(db, projectId, email);
    const result = await verifyPassword(user?.password_hash ?? null, body.password, passwordParams);
    if (!user || !result.valid || user.status !== 'active') {
      const reason = !user
        ? 'unknown_user'
        : !result.valid
          ? 'wrong_password'
          : user.status === 'suspended'
            ? 'suspended'
            : 'not_active';
      await this.deps.audit.record(projectId, {
        event: 'auth.login',
        outcome: 'failure',
        subjectId: user?.id ?? null,
        ...meta,
        details: { reason, email },
      });
      throw invalidCredentials();
    }
    const settings = await this.deps.settings.get(projectId);
    // Only once the password checked out, so this answer tells nothing to someone without it.
    if (settings.email_verification === 'required' && user.email_verified_at === null) {
      await this.deps.audit.record(projectId, {
        event: 'auth.login',
        outcome: 'failure',
        subjectId: user.id,
        ...meta,
        details: { reason: 'email_not_verified', email },
      });
      throw new AuthError('EMAIL_NOT_VERIFIED', 'Verify your e-mail address before signing in.');
    }
    return this.signIn(user.id, {
      mode,
      amr: ['pwd'],
      method: 'password',
      otp: body.otp,
      meta,
      ...(result.needsRehash ? { update: { password_hash: await hashPassword(body.password, passwordParams) } } : {}),
    });
  }

  /**
   * Opens a session for a user whose identity a flow has already proven (password, magic link, code, passkey,
   * provider), records the sign-in and issues tokens for `mode`. Every way in ends here, so sessions, the
   * audit trail and token claims are the same whichever door was used. A user who is not active is refused.
   */
  async signIn(
    userId: string,
    input: {
      mode: AuthMode;
      /** RFC 8176 authentication method references for the session (`pwd`, `otp`, `hwk`, ...). */
      amr: string[];
      /** How the user proved who they are, for the audit trail (`password`, `magic_link`, ...). */
      method: string;
      meta: RequestMeta;
      /** Extra columns written with the sign-in's `last_access` (one write). */
      update?: UserUpdate;
      /** A second-factor code sent along with the first factor (`otp` of POST /auth/login). */
      otp?: string;
      /** `verified`: the flow has checked the second factor itself (POST /auth/mfa/verify). */
      secondFactor?: 'verified';
    },
  ): Promise<IssuedTokens> {
    const { db, projectId, clock } = this.deps;
    const subject = await this.activeUser(userId);
    // Whichever door the first factor came through, an account with MFA (or required to have it) passes the second
    // step here: it answers the sign-in's amr, or throws INVALID_OTP with an mfa_token or MFA_SETUP_REQUIRED.
    const gate = input.secondFactor === 'verified' ? undefined : this.deps.secondFactor;
    const amr = gate ? await gate.afterFirstFactor(subject.user, input) : input.amr;
    const lifetimes = this.deps.settings.lifetimes(await this.deps.settings.get(projectId));
    // The session, the account's last access and the audit event: one commit.
    const { session, refreshToken } = await db.transaction().execute(async (trx) => {
      const started = await this.deps.sessions.start(
        {
          refreshTokenTtl: lifetimes.refreshTokenTtl,
          projectId,
          userId,
          mode: input.mode,
          amr,
          ip: input.meta.ip,
          userAgent: input.meta.userAgent,
        },
        trx,
      );
      await updateUser(trx, userId, { last_access: clock.now(), ...input.update });
      await this.deps.audit.record(
        projectId,
        {
          event: 'auth.login',
          actorId: userId,
          subjectId: userId,
          ...input.meta,
          details: { method: input.method, mode: input.mode, session_id: started.session.id },
        },
        trx,
      );
      return started;
    });
    // A notice about a browser or app new on the account, after password sign-ins (see account-lifecycle).
    if (input.amr.includes('pwd')) this.deps.accountEvents?.signedIn(subject.user, session);
    return this.issue(subject, session, input.mode, refreshToken);
  }

  /** Rotates a refresh token and issues tokens for `mode`. Replays after the grace window end the session. */
  async refresh(refreshToken: string, mode: AuthMode, meta: RequestMeta): Promise<IssuedTokens> {
    const { settings } = this.deps;
    const lifetimes = settings.lifetimes(await settings.get(this.deps.projectId));
    const rotated = await this.deps.sessions.rotate(refreshToken, mode, lifetimes.refreshTokenTtl);
    if (!rotated.ok) {
      if (rotated.reason === 'reused') {
        await this.deps.audit.record(rotated.session.project_id, {
          event: 'auth.refresh_reuse',
          outcome: 'failure',
          subjectId: rotated.session.user_id,
          ...meta,
          details: { session_id: rotated.session.id },
        });
      }
      if (rotated.reason === 'expired') throw new AuthError('TOKEN_EXPIRED', 'The refresh token has expired.');
      throw new AuthError('INVALID_CREDENTIALS', 'Invalid user credentials.', { detail: `refresh ${rotated.reason}` });
    }
    // The user as read with the token, in the same query: one who is not active (suspended, say) gets no tokens.
    if (rotated.subject.user.status !== 'active') throw invalidCredentials();
    return this.issue(rotated.subject, rotated.session, mode, rotated.refreshToken);
  }

  /** Session mode: a valid session token cookie is exchanged for a fresh one while its session lives. */
  async refreshSessionToken(sessionToken: string): Promise<IssuedTokens> {
    const claims = await this.verify(sessionToken, 'session');
    const session = await this.liveSession(String(claims.sid));
    return this.issue(await this.activeUser(session.user_id), session, 'session', null);
  }

  /** Answers the session a refresh token belongs to, without using the token (for logout). */
  async sessionOfRefreshToken(refreshToken: string): Promise<string | undefined> {
    return (await this.deps.sessions.findByRefreshToken(refreshToken))?.id;
  }

  /** Answers the session a token belongs to, or null when it is not a valid token of ours. */
  async sessionOfToken(token: string, use: TokenUse): Promise<string | null> {
    const result = await this.deps.verifier.verify(token);
    if (!result.ok || result.claims.token_use !== use || typeof result.claims.sid !== 'string') return null;
    return result.claims.sid;
  }

  /**
   * An access token for `userId` that an admin (`actorId`) uses to act as the user, for support. It belongs to a
   * session of its own, opened with the admin as actor, so it shows in the user's session list and can be
   * revoked; the session ends when the token expires and there is no refresh token. The token carries
   * `act: { sub: actorId }` (RFC 8693) and `amr: ["impersonation"]`, so nothing takes it for the user's own
   * sign-in. Answers null when the user is missing or not active. Who may impersonate whom is the caller's rule.
   */
  async impersonate(input: {
    userId: string;
    actorId: string;
    lifetime: number;
    meta: RequestMeta;
  }): Promise<{ token: string; expires: number; sessionId: string } | null> {
    const found = await findUserWithPermissions(this.deps.db, input.userId);
    if (found?.user.status !== 'active' || found.user.project_id !== this.deps.projectId) return null;
    const { session } = await this.deps.sessions.start({
      projectId: this.deps.projectId,
      userId: found.user.id,
      mode: 'json',
      amr: ['impersonation'],
      ip: input.meta.ip,
      userAgent: input.meta.userAgent,
      actorId: input.actorId,
      lifetime: input.lifetime,
    });
    const issued = await this.issue(found, session, 'json', null, { act: { sub: input.actorId } });
    return { token: issued.token, expires: issued.expires, sessionId: session.id };
  }

  /** Resolves a request credential to a caller, or throws the registry error that describes why not. */
  async resolveCaller(credential: Credential): Promise<Caller> {
    if (credential.source === 'api-key-header' || !isCompactJws(credential.token)) {
      throw invalidCredentials();
    }
    const use: TokenUse = credential.source === 'session-cookie' ? 'session' : 'access';
    const claims = await this.verify(credential.token, use);
    return {
      userId: String(claims.sub),
      sessionId: String(claims.sid),
      projectId: String(claims.project),
      role: String(claims.role),
      permissions: Array.isArray(claims.permissions) ? claims.permissions.map(String) : [],
      source: credential.source,
      claims,
      actorId: actorOf(claims),
      // An exchanged API key's token names its scopes in `scope` too; only a token without `api_key` is restricted by it.
      ...(typeof claims.scope === 'string' && claims.api_key === undefined ? { scope: claims.scope } : {}),
      apiKey: apiKeyOf(claims),
    };
  }

  /**
   * Exchanges a verified personal API key for an access token (`GET /api/auth`, the Entu model). The token's
   * session is the key itself (`sid` is the key id), so revoking or rotating the key out ends the tokens obtained
   * with it at once, through the revocation list; it carries the key's id and scopes (`api_key`, `scope`) and the
   * permissions both the user and the scopes grant, and expires no later than the key. Throws the registry error
   * for a missing, suspended or inactive user.
   */
  async exchangeApiKey(key: {
    id: string;
    userId: string;
    projectId: string;
    scopes: readonly string[] | null;
    /** When the key stops working (expiry, or the end of a rotation's grace period). */
    endsAt: number;
  }): Promise<{ token: string; expires: number; user: UserProfile }> {
    const found = await findUserWithPermissions(this.deps.db, key.userId);
    if (!found || found.user.project_id !== key.projectId) throw invalidCredentials();
    if (found.user.status === 'suspended') throw new AuthError('USER_SUSPENDED', 'User suspended.');
    if (found.user.status !== 'active') throw invalidCredentials();
    const now = this.deps.clock.now();
    const session: SessionRow = {
      id: key.id,
      project_id: key.projectId,
      user_id: key.userId,
      mode: 'json',
      amr: '["api_key"]',
      auth_time: now,
      created_at: now,
      last_used_at: now,
      expires_at: key.endsAt,
      absolute_expires_at: key.endsAt,
      revoked_at: null,
      revoked_reason: null,
      ip: null,
      user_agent: null,
      actor_id: null,
    };
    const subject = { user: found.user, permissions: effectivePermissions(found.permissions, key.scopes) };
    const issued = await this.issue(subject, session, 'json', null, {
      api_key: key.id,
      ...(key.scopes === null ? {} : { scope: key.scopes.join(' ') }),
    });
    return { token: issued.token, expires: issued.expires, user: found.user };
  }

  async logout(sessionId: string, meta: RequestMeta): Promise<void> {
    const session = await this.deps.sessions.get(sessionId);
    if (!session || session.revoked_at !== null) return;
    await this.deps.sessions.end(sessionId, 'logout');
    await this.deps.audit.record(session.project_id, {
      event: 'auth.logout',
      actorId: session.user_id,
      subjectId: session.user_id,
      ...meta,
      details: { session_id: sessionId },
    });
  }

  async logoutEverywhere(caller: Caller, meta: RequestMeta): Promise<void> {
    const ended = await this.deps.sessions.endAllForUser(caller.userId, 'logout_all');
    await this.deps.audit.record(caller.projectId, {
      event: 'auth.logout_all',
      actorId: caller.actorId ?? caller.userId,
      subjectId: caller.userId,
      ...meta,
      details: { sessions: ended.length },
    });
  }

  /**
   * An access token whose `scope` claim (`mfa_enrollment`) admits only the routes that declare it (http/access.ts):
   * for a user who must set up a second factor before signing in. Its session has no refresh token and ends with
   * the token.
   */
  async issueSetupToken(input: { userId: string; meta: RequestMeta }): Promise<{ token: string; expires: number }> {
    const subject = await this.activeUser(input.userId);
    const { session } = await this.deps.sessions.start({
      projectId: this.deps.projectId,
      userId: input.userId,
      mode: 'json',
      amr: ['pwd'],
      ip: input.meta.ip,
      userAgent: input.meta.userAgent,
      lifetime: SETUP_TOKEN_TTL,
    });
    const issued = await this.issue(subject, session, 'json', null, { scope: 'mfa_enrollment' });
    return { token: issued.token, expires: issued.expires };
  }

  private async verify(token: string, use: TokenUse): Promise<JwtClaims> {
    const result = await this.deps.verifier.verify(token);
    if (!result.ok) {
      if (result.reason === 'expired') throw new AuthError('TOKEN_EXPIRED', 'Token expired.');
      throw new AuthError('INVALID_TOKEN', 'Invalid token.');
    }
    const { claims } = result;
    if (claims.token_use !== use || typeof claims.sid !== 'string' || typeof claims.sub !== 'string') {
      throw new AuthError('INVALID_TOKEN', 'Invalid token.', { detail: `expected a ${use} token` });
    }
    if (this.deps.sessions.isRevoked(claims.sid)) {
      throw new AuthError('INVALID_CREDENTIALS', 'The session has ended.', { detail: 'session revoked' });
    }
    return claims;
  }

  private async liveSession(sessionId: string): Promise<SessionRow> {
    const session = await this.deps.sessions.get(sessionId);
    const now = this.deps.clock.now();
    if (!session || session.revoked_at !== null) throw invalidCredentials();
    if (session.expires_at <= now) throw new AuthError('TOKEN_EXPIRED', 'The session has expired.');
    return session;
  }

  private async activeUser(userId: string): Promise<Subject> {
    const found = await findUserWithPermissions(this.deps.db, userId);
    if (found?.user.status !== 'active') throw invalidCredentials();
    return found;
  }

  private async issue(
    { user, permissions }: { user: Pick<UserProfile, 'id' | 'role'>; permissions: string[] },
    session: SessionRow,
    mode: AuthMode,
    refreshToken: string | null,
    extraClaims: { act?: { sub: string }; api_key?: string; scope?: string } = {},
  ): Promise<IssuedTokens> {
    const { config, clock, keyRing, projectId, settings } = this.deps;
    const lifetimes = settings.lifetimes(await settings.get(projectId));
    const now = clock.now();
    const use: TokenUse = mode === 'session' ? 'session' : 'access';
    const lifetime =
      use === 'session'
        ? Math.min(lifetimes.sessionCookieTtl, session.expires_at - now)
        : Math.min(lifetimes.accessTokenTtl, session.absolute_expires_at - now);
    const expiresInSeconds = Math.max(1, Math.floor(lifetime / 1000));
    const token = await keyRing.signer.sign(
      {
        sid: session.id,
        role: user.role,
        permissions,
        project: projectId,
        amr: JSON.parse(session.amr) as string[],
        auth_time: Math.floor(session.auth_time / 1000),
        token_use: use,
        ...extraClaims,
      },
      { issuer: config.publicUrl, audience: config.jwtAudience, subject: user.id, expiresInSeconds, now },
    );
    return {
      mode,
      token,
      expires: expiresInSeconds * 1000,
      refreshToken,
      refreshExpires: session.expires_at - now,
    };
  }
}

/** The API key a token was obtained with (`GET /api/auth`), with its scopes, or null. */
function apiKeyOf(claims: JwtClaims): Caller['apiKey'] {
  if (typeof claims.api_key !== 'string') return null;
  const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ').filter((scope) => scope.length > 0) : null;
  return { id: claims.api_key, kind: 'personal', scopes };
}

/** The acting admin of an impersonation token (RFC 8693 `act` claim), or null. */
function actorOf(claims: JwtClaims): string | null {
  const act = claims.act;
  if (act && typeof act === 'object' && typeof (act as { sub?: unknown }).sub === 'string') {
    return (act as { sub: string }).sub;
  }
  return null;
}

/** Three dot-separated segments, counted without splitting the token. */
function isCompactJws(token: string): boolean {
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  return second > 0 && token.indexOf('.', second + 1) < 0;
}
