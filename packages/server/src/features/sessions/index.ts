export { RevocationList } from './revocation.js';
export { type RotateResult, type SessionMode, type SessionPolicy, SessionService } from './service.js';
