import { readFileSync, writeFileSync } from 'node:fs';
import { AUDIT_EVENTS, ERROR_CODES } from '@gatehouse/protocol';
import { describe, expect, it } from 'vitest';
import { OAUTH_PROVIDER_FIELDS } from './config/oauth-providers.js';
import { CONFIG_SCHEMA } from './config/schema.js';
import { PERMISSIONS } from './features/roles/index.js';
import { createTestServer } from './testing/test-server.js';

/**
 * docs/configuration.md and docs/errors.md are generated from the config schema and the error registry. This
 * test fails when either is stale or a code is undocumented; `npm run docs` rewrites them.
 */
const root = new URL('../../../', import.meta.url);

function configurationDoc(): string {
  const rows = Object.values(CONFIG_SCHEMA).map(
    (field) =>
      `| \`${field.env}\` | ${field.default === undefined ? '(unset)' : field.default === '' ? '(empty)' : `\`${field.default}\``} | ${field.description} |`,
  );
  const providerRows = Object.entries(OAUTH_PROVIDER_FIELDS).map(
    ([suffix, description]) => `| \`GATEHOUSE_OAUTH_<NAME>_${suffix}\` | (unset) | ${description} |`,
  );
  return `# Configuration

Gatehouse reads these environment variables once at start; a wrong value stops the start with a message that
names the variable. Durations take \`ms\`, \`s\`, \`m\`, \`h\` or \`d\`; lists are comma-separated.

<!-- Generated from packages/server/src/config/schema.ts by \`npm run docs\`. Do not edit by hand. -->

| Variable | Default | Description |
|---|---|---|
${rows.join('\n')}

## Sign-in providers

Each \`GATEHOUSE_OAUTH_<NAME>_DRIVER\` declares a provider named \`<name>\` (letters and digits, lower-cased in
URLs); the other variables of the same \`<NAME>\` configure it. See docs/oauth.md.

| Variable | Default | Description |
|---|---|---|
${providerRows.join('\n')}
`;
}

function errorsDoc(): string {
  const rows = Object.entries(ERROR_CODES).map(
    ([code, entry]) => `| \`${code}\` | ${entry.status} | ${entry.description} |`,
  );
  return `# Error codes

Every error answer has the shape \`{"errors":[{"message":"...","extensions":{"code":"..."}}]}\` and the HTTP status
of its code. Codes are append-only: once published, a code keeps its meaning and its status.

<!-- Generated from packages/protocol/src/errors.ts by \`npm run docs\`. Do not edit by hand. -->

| Code | Status | Meaning |
|---|---|---|
${rows.join('\n')}
`;
}

async function accessDoc(): Promise<string> {
  const server = await createTestServer();
  const routes = [...server.routes].sort((a, b) => a.url.localeCompare(b.url) || a.method.localeCompare(b.method));
  await server.close();
  const permissions = Object.entries(PERMISSIONS).map(([name, description]) => `| \`${name}\` | ${description} |`);
  const rows = routes.map((route) => {
    const access =
      typeof route.access === 'object' ? `permission \`${route.access.permission}\`` : route.access.replace('-', ' ');
    return `| \`${route.method} ${route.url}\` | ${access} |`;
  });
  return `# Permissions and route access

A role holds permission strings \`<resource>:<action>\`; \`<resource>:*\` grants every action on a resource and \`*\`
grants everything. The built-in \`admin\` role holds \`*\`; \`user\`, \`guest\` and \`public\` start with none.
Projects may add permissions of their own (\`posts:write\`); Gatehouse only carries them in tokens.
See [roles-and-audit.md](roles-and-audit.md) for how checks work.

<!-- Generated from features/roles/permissions.ts and the route table by \`npm run docs\`. Do not edit by hand. -->

## Permissions Gatehouse checks

| Permission | Grants |
|---|---|
${permissions.join('\n')}

## Every route and what it needs

\`public\`: no credential. \`signed in\`: any valid credential of an active account.

| Route | Access |
|---|---|
${rows.join('\n')}
`;
}

function auditEventsDoc(): string {
  const rows = Object.entries(AUDIT_EVENTS).map(([name, description]) => `| \`${name}\` | ${description} |`);
  return `# Audit events

Every event has \`outcome\` \`success\` or \`failure\`; a failure's \`details.reason\` says why. Names are append-only:
webhooks and log pipelines match on them. See [roles-and-audit.md](roles-and-audit.md) for the trail itself.

<!-- Generated from packages/protocol/src/audit.ts by \`npm run docs\`. Do not edit by hand. -->

| Event | Recorded when |
|---|---|
${rows.join('\n')}
`;
}

describe.each([
  ['docs/configuration.md', configurationDoc],
  ['docs/errors.md', errorsDoc],
  ['docs/permissions.md', accessDoc],
  ['docs/audit-events.md', auditEventsDoc],
])('%s', (path, render) => {
  it('matches what the source generates', async () => {
    const file = new URL(path, root);
    const expected = await render();
    if (process.env.UPDATE_DOCS) writeFileSync(file, expected);
    expect(readFileSync(file, 'utf8')).toBe(expected);
  });
});
