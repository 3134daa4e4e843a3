export { RECENT_AUTH_MAX_AGE, requireRecentAuth } from './recent-auth.js';
export { clearAuthCookies, REFRESH_COOKIE, SESSION_COOKIE, sendTokens } from './reply.js';
export { authRoutes } from './routes.js';
export { type AccountEvents, AuthService, type IssuedTokens, type SecondFactorGate } from './service.js';
