export { MFA_ENROLLMENT_SCOPE, mfaRoutes } from './routes.js';
export { MfaService } from './service.js';
