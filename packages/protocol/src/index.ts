export * from './audit.js';
export * from './errors.js';
export * from './invitations.js';
export * from './mail.js';
export * from './schemas.js';
