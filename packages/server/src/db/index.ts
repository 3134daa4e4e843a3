export { type Database, type Dialect, openDatabase } from './database.js';
export { migrate } from './migrator.js';
export type * from './types.js';
