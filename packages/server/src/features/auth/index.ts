export { authRoutes, REFRESH_COOKIE, SESSION_COOKIE } from './routes.js';
export { AuthService, type IssuedTokens } from './service.js';
