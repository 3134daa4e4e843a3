export * from './errors.js';
export * from './schemas.js';
