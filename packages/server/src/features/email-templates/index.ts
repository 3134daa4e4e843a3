export { emailTemplateRoutes } from './routes.js';
export { EmailTemplateService } from './service.js';
