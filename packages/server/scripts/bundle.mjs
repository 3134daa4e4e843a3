// Bundles the compiled server (dist/cli.js and everything it imports) into one file, dist/gatehouse.mjs, which
// `npm start` and the `gatehouse` command run. Node loads one file instead of several hundred (Kysely alone is
// over 200 modules): start-up takes about half the time (bench/README.md). The tests run the TypeScript sources;
// src/bundle.test.ts starts this file and signs in through it.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const server = join(dirname(fileURLToPath(import.meta.url)), '..');

await build({
  entryPoints: [join(server, 'dist/cli.js')],
  outfile: join(server, 'dist/gatehouse.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
  // CommonJS dependencies call `require`, which an ES module does not have.
  banner: {
    js: "import { createRequire as __gatehouseRequire } from 'node:module';\nconst require = __gatehouseRequire(import.meta.url);",
  },
  external: [
    // Native addons: loaded from node_modules as they are.
    'better-sqlite3',
    '@node-rs/argon2',
    // Loaded on first use (dynamic imports), and kept out of the start-up path.
    'pg',
    'ioredis',
    'nodemailer',
    'qrcode',
    '@simplewebauthn/server',
    // The docs page's files are read from its package folder (http/openapi.ts).
    'swagger-ui-dist',
  ],
});
