export { type AdminOutcome, ProviderAdmin } from './admin.js';
export { FLOW_COOKIE } from './flow-cookie.js';
export type { ProviderSettings } from './providers.js';
export { oauthRoutes } from './routes.js';
export { OAuthService, type SecondFactorGate } from './service.js';
