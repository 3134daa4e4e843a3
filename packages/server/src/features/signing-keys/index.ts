export { signingKeyRoutes } from './routes.js';
export { type KeyRing, loadKeyRing } from './service.js';
