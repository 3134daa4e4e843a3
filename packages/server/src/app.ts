import cookie from '@fastify/cookie';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { BackgroundTasks } from './background.js';
import { type Clock, systemClock } from './clock.js';
import type { Config } from './config/index.js';
import { looksLikeApiKey } from './crypto/api-key.js';
import { createJwtVerifier } from './crypto/jwt.js';
import type { PasswordParams } from './crypto/password.js';
import { deriveKey } from './crypto/secret-box.js';
import type { Database } from './db/index.js';
import { AccountLifecycle, lifecycleRoutes } from './features/account-lifecycle/index.js';
import { AdminUserService, adminUserRoutes } from './features/admin-users/index.js';
import { ApiKeyService, apiKeyRoutes } from './features/api-keys/index.js';
import { AuditLog, auditRoutes } from './features/audit/index.js';
import { AuthService, authRoutes, SESSION_COOKIE, sendTokens } from './features/auth/index.js';
import { EmailTemplateService, emailTemplateRoutes } from './features/email-templates/index.js';
import { healthRoutes } from './features/health/index.js';
import { InvitationService, invitationRoutes } from './features/invitations/index.js';
import { MFA_ENROLLMENT_SCOPE, MfaService, mfaRoutes } from './features/mfa/index.js';
import { OAuthService, oauthRoutes, ProviderAdmin } from './features/oauth/index.js';
import { OneTimeTokens } from './features/one-time-tokens/index.js';
import { outboxRoutes } from './features/outbox/index.js';
import { PasskeyService, passkeyRoutes } from './features/passkeys/index.js';
import { PasswordlessService, passwordlessRoutes } from './features/passwordless/index.js';
import { ensureDefaultProject, ProjectSettingsService, projectRoutes } from './features/projects/index.js';
import { createAuthorizer, RoleService, roleRoutes } from './features/roles/index.js';
import { RevocationList, SessionService } from './features/sessions/index.js';
import { loadKeyRing, signingKeyRoutes } from './features/signing-keys/index.js';
import { ensureFirstAdmin } from './features/users/admin.js';
import { AccountCache, findUserWithPermissions, userRoutes } from './features/users/index.js';
import {
  signWebhook,
  WEBHOOK_ID_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  WebhookDeliveryWorker,
  WebhookService,
  webhookRoutes,
} from './features/webhooks/index.js';
import { type DeclaredRoute, registerAccessControl } from './http/access.js';
import { createAuthenticators } from './http/authenticate.js';
import { extractCredential } from './http/credentials.js';
import { registerErrorEnvelope } from './http/errors.js';
import { lazySchemaCompilers } from './http/lazy-schemas.js';
import { registerOpenApi } from './http/openapi.js';
import { createOriginCheck } from './http/origin.js';
import { registerProjectKeyCheck } from './http/project-key.js';
import { registerRateLimits } from './http/rate-limit.js';
import { registerSecurityHeaders } from './http/security-headers.js';
import { logOptions } from './logging.js';
import { createSmtpTransport, createWebhookTransport, Mailer, type TextTransport } from './mail/index.js';

export const VERSION = '0.1.0';

export interface BuildOptions {
  clock?: Clock;
  /** Pino options or an instance; defaults to the configured level on stdout. */
  logger?: FastifyServerOptions['loggerInstance'];
  /** `manual` leaves sending queued webhook deliveries to calls of `webhookDelivery.deliverDue()` (tests). */
  webhookDelivery?: 'timer' | 'manual';
  /** How often failed mail is retried, in ms (30 s); 0 starts no timer (tests call `mailer.retryDue()`). */
  mailRetryInterval?: number;
}

const MAIL_RETRY_INTERVAL = 30_000;
/** How often expired refresh and one-time tokens are deleted. */
const PRUNE_INTERVAL = 60 * 60_000;
/** Accounts of recent callers kept in memory (~1 KB each). */
const ACCOUNT_CACHE_SIZE = 10_000;

export interface Gatehouse {
  app: FastifyInstance;
  auth: AuthService;
  sessions: SessionService;
  apiKeys: ApiKeyService;
  audit: AuditLog;
  /** Sends queued webhook deliveries; runs on a timer unless built with `webhookDelivery: 'manual'`. */
  webhookDelivery: WebhookDeliveryWorker;
  mailer: Mailer;
  passkeys: PasskeyService;
  /** E-mail verification, password reset and change, sign-in notices, self-deletion; `settled()` awaits its mail. */
  lifecycle: AccountLifecycle;
  /** Provider sign-in; `oauth.useSecondFactor(...)` is where MFA applies its rules to provider sign-ins. */
  oauth: OAuthService;
  projectId: string;
  /** Every route with the access it declares (for the authorization tests and the docs). */
  routes: readonly DeclaredRoute[];
  close(): Promise<void>;
}

/** Wires the HTTP plugins and the features together. The only place that knows all of them. */
export async function buildApp(config: Config, database: Database, options: BuildOptions = {}): Promise<Gatehouse> {
  const clock = options.clock ?? systemClock;
  const { db } = database;
  const projectId = await ensureDefaultProject(db, clock.now());
  const audit = new AuditLog(database, clock, deriveKey(config.secret, 'audit-chain'));
  const keyRing = await loadKeyRing(db, {
    projectId,
    algorithm: config.jwtAlgorithm,
    sealKey: deriveKey(config.secret, 'signing-keys'),
    now: clock.now(),
    onCreated: async (key) => {
      await audit.record(projectId, { event: 'signing_key.created', details: { kid: key.kid, alg: key.alg } });
    },
  });
  const verifier = createJwtVerifier({
    keys: keyRing.publicKeys,
    issuer: config.publicUrl,
    audience: config.jwtAudience,
    algorithms: keyRing.algorithms,
    now: () => clock.now(),
  });
  const revocations = new RevocationList(db, clock, {
    retention: Math.max(config.accessTokenTtl, config.sessionCookieTtl) + config.revocationPollInterval * 2,
    interval: config.revocationPollInterval,
  });
  await revocations.refresh();
  const sessions = new SessionService(database, clock, revocations, deriveKey(config.secret, 'refresh-rotation'), {
    refreshTokenTtl: config.refreshTokenTtl,
    absoluteTtl: config.sessionAbsoluteTtl,
    reuseGrace: config.refreshReuseGrace,
  });
  const apiKeys = new ApiKeyService({
    db,
    clock,
    audit,
    revocations,
    permissionsOf: async (userId, inProject) => {
      const found = await findUserWithPermissions(db, userId);
      return found?.user.project_id === inProject ? found.permissions : undefined;
    },
    onTouchError: (error) => app.log.error({ err: error }, 'recording an API key use failed'),
    defaultTtl: config.apiKeyDefaultTtl,
    maxTtl: config.apiKeyMaxTtl,
    // Not longer than the revocation list keeps an entry (see KeyCache).
    cacheTtl: Math.min(60_000, Math.max(config.accessTokenTtl, config.sessionCookieTtl)),
  });
  const passwordParams: PasswordParams = {
    memoryCost: config.argon2MemoryCost,
    timeCost: config.argon2TimeCost,
    parallelism: config.argon2Parallelism,
  };
  const settings = new ProjectSettingsService(db, clock, audit, {
    accessTokenTtl: config.accessTokenTtl,
    refreshTokenTtl: config.refreshTokenTtl,
    sessionCookieTtl: config.sessionCookieTtl,
  });
  const roles = new RoleService(database, clock, audit);
  // Signed-in routes read the caller's account from memory; any write to users on this node empties it.
  const accounts = new AccountCache(clock, { ttl: config.revocationPollInterval, max: ACCOUNT_CACHE_SIZE });
  database.writes.on('users', () => accounts.forgetAll());
  const authorizer = createAuthorizer(db, accounts);
  const webhookKey = deriveKey(config.secret, 'webhooks');
  const webhooks = new WebhookService({ db, clock, audit, sealKey: webhookKey, production: config.production });
  audit.onAppend(webhooks.enqueue);
  const adminUsers: AdminUserService = new AdminUserService({
    database,
    clock,
    sessions,
    audit,
    passwordParams,
    settings,
    impersonate: (input) => auth.impersonate(input),
  });

  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: logOptions(config.logLevel) }),
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    requestIdHeader: 'x-request-id',
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    schemaController: lazySchemaCompilers(),
    routerOptions: { ignoreTrailingSlash: true },
  });
  app.decorateRequest('caller', null);
  app.decorateRequest('account', null);
  // JSON only: a text/plain body would otherwise reach validation and blur 415 into 400.
  app.removeContentTypeParser('text/plain');
  await app.register(cookie);
  registerErrorEnvelope(app);
  registerSecurityHeaders(app, { hsts: config.secureCookies });
  await registerOpenApi(app, { publicUrl: config.publicUrl, version: VERSION });
  registerProjectKeyCheck(app, { resolve: (key) => apiKeys.resolvePublishable(key, projectId) });

  const messageSecret = config.messageWebhookSecret;
  const textTransport = (url: string | undefined): TextTransport | null =>
    url
      ? createWebhookTransport({
          url,
          timeout: config.messageWebhookTimeout,
          userAgent: `Gatehouse-Messages/${VERSION}`,
          now: () => clock.now(),
          sign: messageSecret
            ? (id, timestamp, body) => ({
                [WEBHOOK_ID_HEADER]: id,
                [WEBHOOK_TIMESTAMP_HEADER]: String(timestamp),
                [WEBHOOK_SIGNATURE_HEADER]: signWebhook(messageSecret, timestamp, body),
              })
            : null,
        })
      : null;
  const mailer = new Mailer({
    db,
    clock,
    transport: config.smtpUrl ? await createSmtpTransport({ url: config.smtpUrl, timeout: config.smtpTimeout }) : null,
    from: config.mailFrom,
    log: app.log,
    textTransports: { sms: textTransport(config.smsWebhookUrl), push: textTransport(config.pushWebhookUrl) },
  });
  if (!mailer.delivers && config.production) {
    app.log.warn('GATEHOUSE_SMTP_URL is not set: mail stays in the outbox (GET /outbox) and is not delivered');
  }
  const templates = new EmailTemplateService(db, clock, audit);
  const oneTimeTokens = new OneTimeTokens(db, clock, deriveKey(config.secret, 'one-time-codes'));
  // Work public requests start but do not wait for (their mail), so an answer's timing tells nothing.
  const background = new BackgroundTasks(app.log);
  const lifecycle: AccountLifecycle = new AccountLifecycle(
    {
      database,
      clock,
      mailer,
      templates,
      audit,
      settings,
      sessions,
      tokens: oneTimeTokens,
      passwordParams,
      background,
      publicUrl: config.publicUrl,
      passwordResetTtl: config.passwordResetTtl,
      passwordResetUrlAllowList: config.passwordResetUrlAllowList,
      emailVerificationTtl: config.emailVerificationTtl,
      emailVerificationUrlAllowList: config.emailVerificationUrlAllowList,
      newSignInLookback: config.newSignInLookback,
    },
    (caller, meta) => adminUsers.removeOwn(caller, meta),
  );
  const auth: AuthService = new AuthService({
    db,
    clock,
    config,
    projectId,
    keyRing,
    verifier,
    sessions,
    passwordParams,
    audit,
    settings,
    accountEvents: lifecycle.events(),
    // The MFA service is built below (it needs the mailer); this runs only at sign-in time.
    secondFactor: { afterFirstFactor: (user, input) => mfa.afterFirstFactor(user, input) },
  });
  const invitations = new InvitationService({
    db,
    clock,
    mailer,
    templates,
    audit,
    passwordParams,
    settings,
    publicUrl: config.publicUrl,
    inviteUrlAllowList: config.inviteUrlAllowList,
    ttl: config.invitationTtl,
  });

  const passwordless = new PasswordlessService({
    db,
    clock,
    projectId,
    tokens: oneTimeTokens,
    mailer,
    templates,
    audit,
    settings,
    auth,
    publicUrl: config.publicUrl,
    redirectAllowList: config.redirectAllowList,
    magicLinkTtl: config.magicLinkTtl,
    codeTtl: config.codeTtl,
    resendInterval: config.codeResendInterval,
  });
  const passkeys = new PasskeyService({
    db,
    clock,
    audit,
    projectId,
    rpId: new URL(config.publicUrl).hostname,
    rpName: config.webauthnRpName,
    origins: [new URL(config.publicUrl).origin, ...config.webauthnOrigins],
    userVerification: config.webauthnUserVerification,
    decoyKey: deriveKey(config.secret, 'passkey-decoys'),
  });

  const mfa: MfaService = new MfaService({
    db,
    clock,
    projectId,
    settings,
    audit,
    mailer,
    templates,
    tokens: oneTimeTokens,
    sealKey: deriveKey(config.secret, 'mfa-totp'),
    recoveryKey: deriveKey(config.secret, 'mfa-recovery-codes'),
    publicUrl: config.publicUrl,
    passwordParams,
    signIn: (input) => auth.signIn(input.userId, { ...input, secondFactor: 'verified' }),
    issueSetupToken: (input) => auth.issueSetupToken(input),
    passkeys,
  });

  const providerSecretKey = deriveKey(config.secret, 'oauth-providers');
  const oauth = new OAuthService({
    database,
    clock,
    config,
    projectId,
    audit,
    auth,
    settings,
    secretKey: providerSecretKey,
    stateKey: deriveKey(config.secret, 'oauth-state'),
    // The project's MFA rules apply in AuthService.signIn, as for every other first factor (docs/oauth.md, "MFA").
    secondFactor: null,
    log: app.log,
  });
  const providerAdmin = new ProviderAdmin({ db, clock, config, audit, secretKey: providerSecretKey });

  const originCheck = createOriginCheck([config.publicUrl, ...config.trustedOrigins]);
  const { requireCaller } = createAuthenticators({
    // Whatever arrives in an API key header is a key; in Authorization, a key is told from a JWT by its prefix.
    resolve: (credential) =>
      credential.source === 'api-key-header' || looksLikeApiKey(credential.token)
        ? apiKeys.resolveCaller(credential)
        : auth.resolveCaller(credential),
    sessionCookieName: SESSION_COOKIE,
    originCheck,
  });
  // ioredis is loaded only when Redis is configured (its import alone is ~65 ms and ~25 MB).
  const redis = config.redisUrl
    ? new (await import('ioredis')).Redis(config.redisUrl, {
        maxRetriesPerRequest: 1,
        enableOfflineQueue: false,
        lazyConnect: true,
      })
    : null;
  if (redis) {
    redis.on('error', (error) => app.log.warn({ err: error }, 'redis connection error'));
    await redis.connect().catch((error) => app.log.warn({ err: error }, 'redis is not reachable yet'));
  }
  const loginThrottle = await registerRateLimits(app, {
    ip: config.rateLimitIp,
    login: config.rateLimitLogin,
    redis,
    onStoreError: (error) => app.log.warn({ err: error }, 'rate-limit store failed; request let through'),
  });
  const routes = registerAccessControl(app, {
    requireCaller,
    ensureActive: (caller, request) => authorizer.ensureActive(caller, request),
    authorize: (caller, permission, request) => authorizer.authorize(caller, permission, request),
  });

  await app.register(healthRoutes, { ping: () => database.ping() });
  await app.register(signingKeyRoutes, { keyRing, issuer: config.publicUrl });
  await app.register(authRoutes, {
    auth,
    originCheck,
    credentialOf: (request) => extractCredential(request, SESSION_COOKIE),
    secureCookies: config.secureCookies,
    loginThrottle,
    providers: async () =>
      (await oauth.providers())
        .filter((provider) => provider.enabled)
        .map(({ name, label, driver, icon }) => ({ name, label, driver, icon })),
  });
  await app.register(userRoutes, { db, clock, sessions, audit });
  await app.register(roleRoutes, { roles });
  await app.register(projectRoutes, { settings });
  await app.register(auditRoutes, { audit });
  await app.register(webhookRoutes, { webhooks });
  await app.register(adminUserRoutes, { service: adminUsers });
  await app.register(invitationRoutes, { invitations, clock });
  await app.register(outboxRoutes, { mailer });
  await app.register(emailTemplateRoutes, { templates });
  await app.register(passwordlessRoutes, {
    passwordless,
    background,
    secureCookies: config.secureCookies,
    originCheck,
  });
  await app.register(passkeyRoutes, {
    passkeys,
    auth,
    originCheck,
    secureCookies: config.secureCookies,
    manageableUser: (caller, id) => adminUsers.manageable(caller, id),
    projectUser: (id, userId) => adminUsers.get(id, userId),
    now: () => clock.now(),
    enrolmentScope: MFA_ENROLLMENT_SCOPE,
  });
  await app.register(mfaRoutes, {
    mfa,
    originCheck,
    reply: (reply, issued) => sendTokens(reply, issued, config.secureCookies),
  });
  await app.register(lifecycleRoutes, { lifecycle, projectId, passwordThrottle: loginThrottle });
  await app.register(apiKeyRoutes, {
    keys: apiKeys,
    credentialOf: (request) => extractCredential(request, SESSION_COOKIE),
    resolveProject: (caller, idOrSlug) => settings.resolve(caller, idOrSlug),
    exchange: (key) => auth.exchangeApiKey(key),
  });
  await app.register(oauthRoutes, {
    oauth,
    admin: providerAdmin,
    secureCookies: config.secureCookies,
    startRateLimit: config.rateLimitIp,
  });

  if (config.adminEmail && config.adminPassword) {
    await ensureFirstAdmin(db, {
      projectId,
      email: config.adminEmail,
      password: config.adminPassword,
      passwordParams,
      now: clock.now(),
      log: app.log,
    });
  }

  revocations.start((error) => app.log.error({ err: error }, 'revocation poll failed'));
  const expired = [
    { what: 'refresh tokens', deleteExpired: () => sessions.prune() },
    { what: 'one-time tokens', deleteExpired: () => oneTimeTokens.prune() },
  ];
  const prune = async (): Promise<void> => {
    for (const { what, deleteExpired } of expired) {
      await deleteExpired().then(
        (deleted) => deleted > 0 && app.log.info({ deleted }, `expired ${what} deleted`),
        (error: unknown) => app.log.error({ err: error }, `deleting expired ${what} failed`),
      );
    }
  };
  // A minute after start (not during it), then hourly; on every node, where the deletes are idempotent.
  const pruneTimers = [setTimeout(() => void prune(), 60_000), setInterval(() => void prune(), PRUNE_INTERVAL)];
  for (const timer of pruneTimers) timer.unref();
  const webhookDelivery = new WebhookDeliveryWorker({
    db,
    clock,
    sealKey: webhookKey,
    log: app.log,
    userAgent: `Gatehouse-Webhooks/${VERSION}`,
  });
  if (options.webhookDelivery !== 'manual') webhookDelivery.start();
  const mailRetryInterval = options.mailRetryInterval ?? MAIL_RETRY_INTERVAL;
  if (mailRetryInterval > 0) mailer.start(mailRetryInterval);
  await app.ready();
  return {
    app,
    auth,
    sessions,
    apiKeys,
    audit,
    webhookDelivery,
    mailer,
    passkeys,
    lifecycle,
    oauth,
    projectId,
    routes,
    async close() {
      revocations.stop();
      for (const timer of pruneTimers) clearTimeout(timer);
      await webhookDelivery.stop();
      await app.close();
      await lifecycle.settled();
      await mailer.close();
      redis?.disconnect();
    },
  };
}
