export { CHALLENGE_TTL } from './challenges.js';
export { passkeyRoutes } from './routes.js';
export {
  type PasskeyRefusal,
  type PasskeyResult,
  PasskeyService,
  type PasskeyServiceDeps,
  type VerifiedAssertion,
} from './service.js';
