export type { OwnAccountRemover } from './account-deletion.js';
export type { LifecycleDeps } from './deps.js';
export { type LifecycleRoutesOptions, lifecycleRoutes } from './routes.js';
export { AccountLifecycle } from './service.js';
