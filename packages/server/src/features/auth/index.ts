export { RECENT_AUTH_MAX_AGE, requireRecentAuth } from './recent-auth.js';
export { authRoutes, REFRESH_COOKIE, replyWithTokens, SESSION_COOKIE } from './routes.js';
export { AuthService, type IssuedTokens, type SecondFactorGate } from './service.js';
