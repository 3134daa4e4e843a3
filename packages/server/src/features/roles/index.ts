export { type Authorizer, createAuthorizer } from './authorize.js';
export {
  effectivePermissions,
  hasPermission,
  PERMISSION_PATTERN,
  PERMISSIONS,
  type Permission,
} from './permissions.js';
export { roleRoutes } from './routes.js';
export { lockAdministration, RoleService, toRole } from './service.js';
