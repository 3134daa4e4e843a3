export { invitationRoutes } from './routes.js';
export { ACCEPT_PATH, InvitationService, type InvitationServiceDeps } from './service.js';
