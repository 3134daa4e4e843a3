export { type AuthReplies, createAuthReplies } from './reply.js';
export { authRoutes, REFRESH_COOKIE, SESSION_COOKIE } from './routes.js';
export { AuthService, type IssuedTokens } from './service.js';
