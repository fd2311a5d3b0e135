#!/usr/bin/env node
// The earlier name of `meterstream users add` (kept for scripts that call dist/add-user.js):
// `add-user.js --file F --username U --role R < password-file`.
import { runCli } from './cli.js';

runCli(['add', ...process.argv.slice(2)]).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
