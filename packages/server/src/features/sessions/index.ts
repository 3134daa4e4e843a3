export { RevocationList, type RevocationSource } from './revocation.js';
export { type RotateResult, type SessionMode, type SessionPolicy, SessionService } from './service.js';
