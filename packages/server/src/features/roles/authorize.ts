import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Caller } from '../../caller.js';
import type { Tables, UserProfile } from '../../db/types.js';
import { AuthError, forbidden, invalidCredentials } from '../../errors/auth-error.js';
import { findUserById, findUserWithPermissions } from '../users/index.js';
import { hasPermission } from './permissions.js';

export interface Authorizer {
  /**
   * Refuses a caller whose account is gone, suspended or not active, with the registry's code for each, and
   * leaves the account on `request.account` for the handler (one read per request).
   */
  ensureActive(caller: Caller, request: FastifyRequest): Promise<void>;
  /**
   * Refuses a caller whose user does not hold `permission` now. The role and its permissions are read from the
   * database rather than taken from the token, so a demotion or suspension takes effect on the next request.
   */
  authorize(caller: Caller, permission: string, request: FastifyRequest): Promise<void>;
}

function checkStatus(caller: Caller, user: UserProfile | undefined): asserts user is UserProfile {
  if (!user || user.project_id !== caller.projectId) throw invalidCredentials();
  if (user.status === 'suspended') throw new AuthError('USER_SUSPENDED', 'User suspended.');
  if (user.status !== 'active') throw invalidCredentials();
}

export function createAuthorizer(db: Kysely<Tables>): Authorizer {
  return {
    async ensureActive(caller, request) {
      const user = await findUserById(db, caller.userId);
      checkStatus(caller, user);
      request.account = user;
    },
    async authorize(caller, permission, request) {
      const found = await findUserWithPermissions(db, caller.userId);
      checkStatus(caller, found?.user);
      if (!found || !hasPermission(found.permissions, permission)) {
        throw forbidden(`This needs the permission ${permission}.`);
      }
      caller.role = found.user.role;
      caller.permissions = found.permissions;
      request.account = found.user;
    },
  };
}
