export { type AdminUserRoutesOptions, adminUserRoutes } from './routes.js';
export { AdminUserService, type AdminUserServiceDeps, IMPERSONATION_TTL, type Impersonator } from './service.js';
