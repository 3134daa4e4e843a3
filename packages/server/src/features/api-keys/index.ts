export { apiKeyRoutes } from './routes.js';
export { ApiKeyService, keyError } from './service.js';
