export { AuthError, forbidden, invalidCredentials, invalidPayload } from './auth-error.js';
