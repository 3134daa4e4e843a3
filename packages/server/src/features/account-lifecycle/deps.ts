import type { BackgroundTasks } from '../../background.js';
import type { Clock } from '../../clock.js';
import type { PasswordParams } from '../../crypto/password.js';
import type { Database } from '../../db/database.js';
import type { Mailer } from '../../mail/index.js';
import type { AuditLog } from '../audit/index.js';
import type { EmailTemplateService } from '../email-templates/index.js';
import type { OneTimeTokens } from '../one-time-tokens/index.js';
import type { ProjectSettingsService } from '../projects/index.js';
import type { SessionService } from '../sessions/index.js';

/** What the account-lifecycle services share, wired by app.ts. */
export interface LifecycleDeps {
  database: Database;
  clock: Clock;
  mailer: Mailer;
  templates: EmailTemplateService;
  audit: AuditLog;
  settings: ProjectSettingsService;
  sessions: SessionService;
  tokens: OneTimeTokens;
  passwordParams: PasswordParams;
  background: BackgroundTasks;
  publicUrl: string;
  passwordResetTtl: number;
  passwordResetUrlAllowList: readonly string[];
  emailVerificationTtl: number;
  emailVerificationUrlAllowList: readonly string[];
  newSignInLookback: number;
}

/** How long after one mail of a kind the next to the same address is skipped (the request still answers 204). */
export const RESEND_COOL_DOWN = 60_000;

export const PURPOSE = { verification: 'email_verification', reset: 'password_reset' } as const;
