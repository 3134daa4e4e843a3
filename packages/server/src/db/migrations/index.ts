import type { Kysely } from 'kysely';
import type { Dialect } from '../database.js';
import * as initial from './001-initial.js';
import * as adminAudit from './002-admin-audit.js';
import * as mailInvitations from './003-mail-invitations.js';
import * as webhooks from './004-webhooks.js';
import * as apiKeys from './005-api-keys.js';
import * as oneTimeTokens from './006-one-time-tokens.js';
import * as lifecycle from './007-lifecycle.js';
import * as passwordless from './008-passwordless.js';
import * as emailTemplates from './009-email-templates.js';
import * as mfa from './010-mfa.js';
import * as passkeys from './011-passkeys.js';
import * as oauth from './012-oauth.js';
import * as refreshTokenExpiry from './013-refresh-token-expiry.js';
import * as oneTimeTokenExpiry from './014-one-time-token-expiry.js';

export interface Migration {
  name: string;
  up(db: Kysely<unknown>, dialect: Dialect): Promise<void>;
}

/** Forward-only, in order. Append new files here; never edit or reorder a published one. */
export const MIGRATIONS: readonly Migration[] = [
  { name: '001-initial', up: initial.up },
  { name: '002-admin-audit', up: adminAudit.up },
  { name: '003-mail-invitations', up: mailInvitations.up },
  { name: '004-webhooks', up: webhooks.up },
  { name: '005-api-keys', up: apiKeys.up },
  { name: '006-one-time-tokens', up: oneTimeTokens.up },
  { name: '007-lifecycle', up: lifecycle.up },
  { name: '008-passwordless', up: passwordless.up },
  { name: '009-email-templates', up: emailTemplates.up },
  { name: '010-mfa', up: mfa.up },
  { name: '011-passkeys', up: passkeys.up },
  { name: '012-oauth', up: oauth.up },
  { name: '013-refresh-token-expiry', up: refreshTokenExpiry.up },
  { name: '014-one-time-token-expiry', up: oneTimeTokenExpiry.up },
];
