import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/**
 * The size budget of the browser entry (goal: under 12 kB minified and gzipped, without the passkey helpers), and
 * the proof that it imports no Node built-in: esbuild bundles for the browser platform, where `node:*` cannot
 * resolve. The figures are printed so a change that grows the bundle shows in the test output.
 */
const BUDGET = 12 * 1024;

async function gzippedSize(entry: string): Promise<{ minified: number; gzipped: number }> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL(entry, import.meta.url))],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]?.contents ?? new Uint8Array();
  return { minified: code.byteLength, gzipped: gzipSync(code, { level: 9 }).byteLength };
}

describe('browser bundle', () => {
  it(`the client entry stays under ${BUDGET / 1024} kB min+gzip and needs no Node built-in`, async () => {
    const client = await gzippedSize('./index.ts');
    const passkeys = await gzippedSize('./passkeys/index.ts');
    console.info(
      `@gatehouse/sdk: ${client.minified} B min, ${client.gzipped} B min+gzip; ` +
        `with /passkeys: ${passkeys.gzipped} B min+gzip (budget ${BUDGET} B for the client entry)`,
    );
    expect(client.gzipped).toBeLessThan(BUDGET);
    expect(passkeys.gzipped).toBeGreaterThan(0);
  });
});
