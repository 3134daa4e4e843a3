export { ConfigError, type Environment, loadConfig } from './load.js';
export { type EnvOAuthProvider, OAUTH_PROVIDER_FIELDS } from './oauth-providers.js';
export { CONFIG_SCHEMA, type Config } from './schema.js';
