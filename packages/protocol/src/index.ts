export * from './admin-users.js';
export * from './audit.js';
export * from './errors.js';
export * from './schemas.js';
