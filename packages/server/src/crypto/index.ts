export { constantTimeEqual, hmacSha256, sha256 } from './hash.js';
export {
  createJwtSigner,
  createJwtVerifier,
  type JwtClaims,
  type JwtSigner,
  type JwtVerifier,
  type VerifyResult,
} from './jwt.js';
export { hashPassword, OWASP_ARGON2ID, type PasswordParams, verifyPassword } from './password.js';
export { randomDigits, randomId, randomToken } from './random.js';
export { deriveKey, open, seal } from './secret-box.js';
export { generateSigningKey, type SigningAlgorithm, type SigningKey } from './signing-keys.js';
