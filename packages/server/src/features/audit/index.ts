export { ChainVerifier, chainHash, GENESIS_HASH } from './chain.js';
export { auditRoutes, toAuditEvent } from './routes.js';
export { type AppendHook, AuditLog, type AuditRecord, type VerifyReport } from './service.js';
