import type { UserProfile } from '../../db/types.js';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The caller's account as read by the route's access check (active by then); null on public routes. Frozen
     * and shared with other requests (AccountCache): a handler that changes the account reads it again.
     */
    account: Readonly<UserProfile> | null;
  }
}
