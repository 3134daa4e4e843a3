export { passwordlessRoutes } from './routes.js';
export { CODE_MAX_ATTEMPTS, MAGIC_LINK_PURPOSE, PasswordlessService, parseIdentifier } from './service.js';
