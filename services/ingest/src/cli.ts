#!/usr/bin/env node
// Entry of `meterstream-keys` (and of `meterstream keys` via the root dispatcher).
import { runKeysCli } from './keys-cli.js';

runKeysCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`meterstream keys: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
