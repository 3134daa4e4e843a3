export {
  type AuthMode,
  type AuthProvider,
  type AuthProviders,
  type AuthResult,
  type ClientEvents,
  type ClientOptions,
  type Credentials,
  createClient,
  GatehouseClient,
  type RequestOptions,
  type Session,
  type SignedOutEvent,
  type SignupBody,
  type UpdateMeBody,
  type User,
} from './client.js';
export type { LockManagerLike } from './cross-tab.js';
export {
  type AnyGatehouseError,
  type ClientErrorCode,
  GatehouseError,
  type GatehouseErrorCode,
  isGatehouseError,
  type StatusOf,
} from './errors.js';
export {
  localStorageAdapter,
  memoryStorage,
  type StoredTokens,
  type TokenStorage,
  type WebStorageLike,
} from './storage.js';
