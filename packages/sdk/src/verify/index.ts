export {
  expressGuard,
  type FastifyReplyLike,
  type FastifyRequestLike,
  fastifyGuard,
  type GuardOptions,
  type HonoContextLike,
  honoGuard,
  type NodeRequestLike,
  type NodeResponseLike,
} from './middleware.js';
export {
  type AccessTokenClaims,
  createVerifier,
  hasPermission,
  requirePermission,
  type Verifier,
  type VerifierOptions,
  type VerifyFailure,
  type VerifyResult,
} from './verifier.js';
