import './account.js';

export { AccountCache } from './account-cache.js';
export { userRoutes } from './routes.js';
export { iso, newUserRow, normalizeEmail, toPublicUser } from './service.js';
export {
  findUserByEmail,
  findUserById,
  findUserWithPermissions,
  insertUser,
  PROFILE_COLUMNS,
  updateUser,
} from './store.js';
