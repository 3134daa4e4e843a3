export { clearAuthCookies, REFRESH_COOKIE, SESSION_COOKIE, sendTokens } from './reply.js';
export { authRoutes } from './routes.js';
export { type AccountEvents, AuthService, type IssuedTokens } from './service.js';
