export { ConfigError, type Environment, loadConfig } from './load.js';
export { CONFIG_SCHEMA, type Config } from './schema.js';
