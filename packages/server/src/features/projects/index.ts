export { projectRoutes } from './routes.js';
export {
  checkPasswordPolicy,
  DEFAULT_SETTINGS,
  type LifetimeLimits,
  ProjectSettingsService,
} from './settings.js';
export { BUILT_IN_ROLES, DEFAULT_PROJECT_SLUG, ensureDefaultProject, findRole } from './store.js';
