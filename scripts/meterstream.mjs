#!/usr/bin/env node
// `npm run meterstream -- <command> …`: one front door to the CLIs of the services.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runUnderPinnedNode } from '../deploy/local/node-runtime.mjs';

await runUnderPinnedNode();

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** command → the CLI that owns it (built to dist/cli.js by `npm run build`). */
const COMMANDS = {
  keys: { cli: 'services/ingest/dist/cli.js', help: 'API keys of ingest: create | list | revoke' },
  plans: { cli: 'services/submitter/dist/cli.js', help: 'metering plans: validate | show' },
  customers: {
    cli: 'services/submitter/dist/cli.js',
    help: 'subscribed customers: list | add | remove',
  },
  entitlements: {
    cli: 'services/submitter/dist/cli.js',
    help: 'contract entitlements: sync | list',
  },
  audit: {
    cli: 'services/auditor/dist/cli.js',
    help: 'audit report --from … --to … [--format json]',
  },
  trace: {
    cli: 'services/auditor/dist/cli.js',
    help: 'trace <event-id>: lineage of one usage event',
  },
  users: { cli: 'services/console/dist/cli.js', help: 'console users: add | list' },
};

const [cmd, ...rest] = process.argv.slice(2);
if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
  console.log('usage: npm run meterstream -- <command> [args]   (each command has --help)\n');
  for (const [name, c] of Object.entries(COMMANDS)) console.log(`  ${name.padEnd(13)} ${c.help}`);
  process.exit(cmd ? 0 : 2);
}
const target = COMMANDS[cmd];
if (!target) {
  console.error(`unknown command "${cmd}"; run with --help for the list`);
  process.exit(2);
}
const cli = path.join(ROOT, target.cli);
if (!existsSync(cli)) {
  console.error(`${target.cli} is missing: run "npm run build" first`);
  process.exit(1);
}
const r = spawnSync(process.execPath, [cli, cmd, ...rest], { stdio: 'inherit' });
process.exit(r.status ?? 1);
