export { clearAuthCookies, REFRESH_COOKIE, SESSION_COOKIE, sendTokens } from './reply.js';
export { authRoutes } from './routes.js';
export { AuthService, type IssuedTokens } from './service.js';
