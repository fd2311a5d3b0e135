#!/usr/bin/env node
// `npm run bench [-- ingest aggregator submitter]`: runs the benchmarks of the services one after
// the other (never in parallel: they would measure each other). Each writes JSON under
// bench/results/ and prints its ratio to a baseline measured in the same run.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runUnderPinnedNode } from '../deploy/local/node-runtime.mjs';

await runUnderPinnedNode();

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ALL = ['ingest', 'aggregator', 'submitter', 'kafka'];
const args = process.argv.slice(2);
if (args.includes('--help')) {
  console.log(
    `usage: npm run bench [-- ${ALL.join(' ')}]\nRuns the named benchmarks (default: all) against the native stack.`,
  );
  process.exit(0);
}
const wanted = args.length ? args : ALL;
for (const w of wanted) {
  if (!ALL.includes(w)) {
    console.error(`unknown benchmark ${w}; one of ${ALL.join(', ')}`);
    process.exit(2);
  }
}
const run = (cmd, a) => spawnSync(cmd, a, { cwd: ROOT, stdio: 'inherit' }).status ?? 1;
if (run('npx', ['tsc', '-b']) !== 0) process.exit(1);
if (run('node', ['deploy/local/stack.mjs', 'up']) !== 0) process.exit(1);
let failed = 0;
for (const w of wanted) {
  console.log(`\n▶ bench ${w}`);
  if (run('npm', ['run', 'bench', '-w', `@meterstream/${w}`]) !== 0) failed++;
}
process.exit(failed ? 1 : 0);
