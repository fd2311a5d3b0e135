#!/usr/bin/env node
// `npm run demo`: interim version until the end-to-end demo (issue 9) lands: installs
// dependencies, builds and brings the native stack up, then says what is running.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (process.argv.includes('--help')) {
  console.log('usage: npm run demo [-- --once]\nBrings the native stack up and shows its status.');
  process.exit(0);
}
const run = (cmd, a) => {
  const r = spawnSync(cmd, a, { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
if (!existsSync(path.join(ROOT, 'node_modules'))) run('npm', ['ci', '--no-audit', '--no-fund']);
run('npx', ['tsc', '-b']);
run('node', ['deploy/local/stack.mjs', 'up']);
run('node', ['deploy/local/stack.mjs', 'status']);
console.log(
  '\nThe stack is up. The full demo (services, usage generator, billed-vs-audited table) is issue 9.',
);
