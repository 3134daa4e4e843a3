import type { SessionRow, UserProfile } from '../../db/types.js';
import { mailTime, sendAccountMail } from './account-mail.js';
import type { LifecycleDeps } from './deps.js';
import { describeUserAgent } from './user-agent.js';

/**
 * Mails a `new_sign_in` notice after a password sign-in whose user agent was not seen in any of the user's
 * sessions used within `GATEHOUSE_NEW_SIGN_IN_LOOKBACK` (30 days), unless the project's `new_sign_in_notice`
 * is off. The user agent alone decides, not the IP address: addresses change with every network a phone joins,
 * and a notice that comes every day teaches people to ignore it. The very first sign-in of an account sends
 * nothing. It runs after the answer, so neither a slow query nor a mail problem touches the sign-in.
 */
export class SignInNotice {
  constructor(private readonly deps: LifecycleDeps) {}

  signedIn(user: UserProfile, session: SessionRow): void {
    this.deps.background.run('new sign-in notice', async () => {
      const settings = await this.deps.settings.get(user.project_id);
      if (!settings.new_sign_in_notice) return;
      const history = await this.deps.sessions.signInHistory(session, session.created_at - this.deps.newSignInLookback);
      if (history !== 'new') return;
      await sendAccountMail(
        this.deps,
        { projectId: user.project_id, email: user.email, language: user.language },
        'new_sign_in',
        {
          time: mailTime(session.created_at),
          device: describeUserAgent(session.user_agent),
          ip: session.ip ?? 'unknown',
        },
      );
    });
  }
}
