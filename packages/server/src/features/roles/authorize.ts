import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Caller } from '../../caller.js';
import type { Tables, UserProfile } from '../../db/types.js';
import { AuthError, forbidden, invalidCredentials } from '../../errors/auth-error.js';
import { type AccountCache, findUserById, findUserWithPermissions } from '../users/index.js';
import { effectivePermissions, hasPermission } from './permissions.js';

export interface Authorizer {
  /**
   * Refuses a caller whose account is gone, suspended or not active, with the registry's code for each, and
   * leaves the account on `request.account` for the handler. The account comes from `accounts` when it holds it
   * (see AccountCache for how long), else from one read.
   */
  ensureActive(caller: Caller, request: FastifyRequest): Promise<void>;
  /**
   * Refuses a caller whose user does not hold `permission` now. The role and its permissions are read from the
   * database rather than taken from the token, so a demotion or suspension takes effect on the next request.
   */
  authorize(caller: Caller, permission: string, request: FastifyRequest): Promise<void>;
}

/** A secret project key is no account: it administers its project, and has no "own" routes. */
function refuseSecretKey(caller: Caller): void {
  if (caller.apiKey?.kind === 'secret') {
    throw new AuthError('API_KEY_NOT_ALLOWED', 'A secret key acts for its project and has no account of its own.');
  }
}

function checkStatus(caller: Caller, user: Readonly<UserProfile> | undefined): asserts user is UserProfile {
  if (!user || user.project_id !== caller.projectId) throw invalidCredentials();
  if (user.status === 'suspended') throw new AuthError('USER_SUSPENDED', 'User suspended.');
  if (user.status !== 'active') throw invalidCredentials();
}

export function createAuthorizer(db: Kysely<Tables>, accounts: AccountCache): Authorizer {
  return {
    async ensureActive(caller, request) {
      refuseSecretKey(caller);
      let user = accounts.get(caller.userId);
      if (user === undefined) {
        const generation = accounts.generation;
        const read = await findUserById(db, caller.userId);
        if (read) user = accounts.keep(read, generation);
      }
      checkStatus(caller, user);
      request.account = user;
    },
    async authorize(caller, permission, request) {
      // A secret key administers its project (checked live against the revocation list when it was resolved).
      if (caller.apiKey?.kind === 'secret') return;
      const found = await findUserWithPermissions(db, caller.userId);
      checkStatus(caller, found?.user);
      if (!found || !hasPermission(found.permissions, permission)) {
        throw forbidden(`This needs the permission ${permission}.`);
      }
      // An API key (or a token obtained with one) acts with what both the user and the key's scopes grant.
      const scopes = caller.apiKey?.scopes ?? null;
      const permissions = scopes === null ? found.permissions : effectivePermissions(found.permissions, scopes);
      if (scopes !== null && !hasPermission(permissions, permission)) {
        throw new AuthError('API_KEY_SCOPE_DENIED', `The API key's scopes do not include ${permission}.`);
      }
      caller.role = found.user.role;
      caller.permissions = permissions;
      request.account = found.user;
    },
  };
}
