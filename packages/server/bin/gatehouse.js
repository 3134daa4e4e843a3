#!/usr/bin/env node
// The `gatehouse` command. A committed shim, so the link exists before the build has run; the build bundles the
// server into dist/gatehouse.mjs (scripts/bundle.mjs).
import { runCli } from '../dist/gatehouse.mjs';

runCli(process.argv.slice(2), process.env, { out: console.log, err: console.error }).then(
  (code) => {
    if (code !== null) process.exit(code);
  },
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
