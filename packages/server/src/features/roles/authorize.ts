import type { Kysely } from 'kysely';
import type { Caller } from '../../caller.js';
import type { Tables } from '../../db/types.js';
import { AuthError, forbidden, invalidCredentials } from '../../errors/auth-error.js';
import { findUserWithPermissions } from '../users/index.js';
import { hasPermission } from './permissions.js';

export interface Authorizer {
  /** Refuses a caller whose account is gone, suspended or not active, with the registry's code for each. */
  ensureActive(caller: Caller): Promise<void>;
  /**
   * Refuses a caller whose user does not hold `permission` now. The role and its permissions are read from the
   * database rather than taken from the token, so a demotion or suspension takes effect on the next request.
   */
  authorize(caller: Caller, permission: string): Promise<void>;
}

export function createAuthorizer(db: Kysely<Tables>): Authorizer {
  async function current(caller: Caller) {
    const found = await findUserWithPermissions(db, caller.userId);
    if (!found || found.user.project_id !== caller.projectId) throw invalidCredentials();
    if (found.user.status === 'suspended') throw new AuthError('USER_SUSPENDED', 'User suspended.');
    if (found.user.status !== 'active') throw invalidCredentials();
    return found;
  }
  return {
    async ensureActive(caller) {
      await current(caller);
    },
    async authorize(caller, permission) {
      const { user, permissions } = await current(caller);
      if (!hasPermission(permissions, permission)) {
        throw forbidden(`This needs the permission ${permission}.`);
      }
      caller.role = user.role;
      caller.permissions = permissions;
    },
  };
}
