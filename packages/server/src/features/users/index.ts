import './account.js';

export { userRoutes } from './routes.js';
export { iso, newUserRow, normalizeEmail, toPublicUser } from './service.js';
export { findUserByEmail, findUserById, findUserWithPermissions, insertUser, updateUser } from './store.js';
