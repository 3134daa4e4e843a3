export { authRoutes, REFRESH_COOKIE, SESSION_COOKIE } from './routes.js';
export { type AccountEvents, AuthService, type IssuedTokens } from './service.js';
