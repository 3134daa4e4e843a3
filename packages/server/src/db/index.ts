export { type Database, type Dialect, isUniqueViolation, openDatabase } from './database.js';
export { migrate } from './migrator.js';
export type * from './types.js';
