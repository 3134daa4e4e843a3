import { readFileSync, writeFileSync } from 'node:fs';
import { ERROR_CODES } from '@gatehouse/protocol';
import { describe, expect, it } from 'vitest';
import { CONFIG_SCHEMA } from './config/schema.js';

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
  return `# Configuration

Gatehouse reads these environment variables once at start; a wrong value stops the start with a message that
names the variable. Durations take \`ms\`, \`s\`, \`m\`, \`h\` or \`d\`; lists are comma-separated.

<!-- Generated from packages/server/src/config/schema.ts by \`npm run docs\`. Do not edit by hand. -->

| Variable | Default | Description |
|---|---|---|
${rows.join('\n')}
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

describe.each([
  ['docs/configuration.md', configurationDoc],
  ['docs/errors.md', errorsDoc],
])('%s', (path, render) => {
  it('matches what the source generates', () => {
    const file = new URL(path, root);
    const expected = render();
    if (process.env.UPDATE_DOCS) writeFileSync(file, expected);
    expect(readFileSync(file, 'utf8')).toBe(expected);
  });
});
