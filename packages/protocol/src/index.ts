export * from './admin-users.js';
export * from './audit.js';
export * from './errors.js';
export * from './projects.js';
export * from './roles.js';
export * from './schemas.js';
export * from './webhooks.js';
