import type { AccountEvents } from '../auth/index.js';
import { AccountDeletion, type OwnAccountRemover } from './account-deletion.js';
import type { LifecycleDeps } from './deps.js';
import { EmailVerification } from './email-verification.js';
import { PasswordChange } from './password-change.js';
import { PasswordReset } from './password-reset.js';
import { SignInNotice } from './sign-in-notice.js';

/** The account lifecycle by e-mail: verification, password reset and change, new sign-in notices, self-deletion. */
export class AccountLifecycle {
  readonly verification: EmailVerification;
  readonly reset: PasswordReset;
  readonly change: PasswordChange;
  readonly deletion: AccountDeletion;
  readonly signInNotice: SignInNotice;

  constructor(
    private readonly deps: LifecycleDeps,
    removeOwn: OwnAccountRemover,
  ) {
    this.verification = new EmailVerification(deps);
    this.reset = new PasswordReset(deps);
    this.change = new PasswordChange(deps);
    this.deletion = new AccountDeletion(deps, removeOwn);
    this.signInNotice = new SignInNotice(deps);
  }

  /** What AuthService calls around sign-up and sign-in. */
  events(): AccountEvents {
    return {
      checkVerificationUrl: (url) => {
        this.verification.checkUrl(url);
      },
      signedUp: (user, url) => this.verification.signedUp(user, url),
      signedIn: (user, session) => this.signInNotice.signedIn(user, session),
    };
  }

  /** Waits for the mail and notices started so far (tests; shutdown). */
  settled(): Promise<void> {
    return this.deps.background.settled();
  }
}
