export { BUILT_IN_ROLES, DEFAULT_PROJECT_SLUG, ensureDefaultProject, findRole } from './store.js';
