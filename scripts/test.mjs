#!/usr/bin/env node
// `npm test`: everything the tests need, then every test. Works on a fresh clone: installs npm
// dependencies, builds, brings the native stack up (installing Kafka, the registry, ClickHouse,
// MailDev and the AWS emulator on first use), makes sure Chromium is there for the console's
// browser tests, and runs the unit and integration projects. Node builtins only.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HELP = `usage: npm test [-- options]

Installs dependencies if needed, builds, starts the native stack (deploy/local) and runs
every test (vitest projects "unit" and "integration").

  --unit          unit tests only (no stack)
  --int           integration tests only
  --no-install    do not run npm ci / apt-get, fail instead when something is missing
  --down          stop the stack after the tests (default: leave it up for the next run)
  --help          this text

Any other argument is passed to vitest (e.g. a file filter).`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(HELP);
  process.exit(0);
}
const flag = (f) => {
  const i = args.indexOf(f);
  if (i >= 0) args.splice(i, 1);
  return i >= 0;
};
const unitOnly = flag('--unit');
const intOnly = flag('--int');
const noInstall = flag('--no-install');
const down = flag('--down');

const t0 = Date.now();
function step(name, cmd, cmdArgs, opts = {}) {
  const started = Date.now();
  console.log(`\n▶ ${name}: ${cmd} ${cmdArgs.join(' ')}`);
  const r = spawnSync(cmd, cmdArgs, { cwd: ROOT, stdio: 'inherit', ...opts });
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (r.status !== 0) {
    console.error(`✖ ${name} failed (exit ${r.status ?? r.signal}) after ${secs}s`);
    process.exit(r.status ?? 1);
  }
  console.log(`✔ ${name} (${secs}s)`);
}

function depsStale() {
  const marker = path.join(ROOT, 'node_modules', '.package-lock.json');
  if (!existsSync(marker)) return true;
  return statSync(path.join(ROOT, 'package-lock.json')).mtimeMs > statSync(marker).mtimeMs;
}

if (depsStale()) {
  if (noInstall) throw new Error('node_modules missing or stale; run npm ci');
  step('install npm dependencies', 'npm', ['ci', '--no-audit', '--no-fund']);
}
step('build (tsc -b)', 'npx', ['tsc', '-b']);

if (!unitOnly) {
  step('native stack up', 'node', ['deploy/local/stack.mjs', 'up']);
  if (!existsSync('/usr/bin/chromium')) {
    if (noInstall) throw new Error('chromium missing (apt-get install chromium)');
    step('apt-get update', 'apt-get', ['update', '-qq']);
    step(
      'install chromium (console browser tests)',
      'apt-get',
      ['install', '-y', '-qq', 'chromium'],
      {
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      },
    );
  }
}

const resultsDir = path.join(ROOT, '.stack', 'test-results');
mkdirSync(resultsDir, { recursive: true });
const jsonOut = path.join(resultsDir, 'vitest.json');
const projects = unitOnly ? ['--project', 'unit'] : intOnly ? ['--project', 'integration'] : [];
const r = spawnSync(
  'npx',
  [
    'vitest',
    'run',
    ...projects,
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${jsonOut}`,
    ...args,
  ],
  {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, MS_TEST_STACK: process.env.MS_TEST_STACK ?? 'auto' },
  },
);

let summary = '';
try {
  const j = JSON.parse(readFileSync(jsonOut, 'utf8'));
  const skipped = (j.numPendingTests ?? 0) + (j.numTodoTests ?? 0);
  summary = `${j.numPassedTests} passed, ${j.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}`;
  if (j.numTotalTests === 0) {
    console.error('✖ no test ran');
    process.exitCode = 1;
  }
} catch {
  summary = 'no results file (vitest crashed?)';
  process.exitCode = 1;
}
if (down) spawnSync('node', ['deploy/local/stack.mjs', 'down'], { cwd: ROOT, stdio: 'inherit' });
console.log(`\nwhole run ${((Date.now() - t0) / 1000).toFixed(0)}s`);
console.log(`vitest: ${summary}`);
process.exit(r.status === 0 && !process.exitCode ? 0 : r.status || 1);
