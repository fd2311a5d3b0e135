#!/usr/bin/env node
// `npm test`: everything the tests need, then every test. Works on a fresh clone: installs npm
// dependencies, builds, brings the native stack up (installing Kafka, the registry, ClickHouse,
// MailDev and the AWS emulator on first use), makes sure Chromium is there for the console's
// browser tests, and runs the unit and integration projects. Node builtins only.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  dependenciesStale,
  markDependenciesInstalled,
  runUnderPinnedNode,
} from '../deploy/local/node-runtime.mjs';

await runUnderPinnedNode();

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HELP = `usage: npm test [-- options]

Installs dependencies if needed, builds, starts the native stack (deploy/local) and runs
every test (vitest projects "unit" and "integration").

  --unit          unit tests only (no stack)
  --int           integration tests only
  --no-install    do not run npm ci / apt-get, fail instead when something is missing
  --down          stop the stack after the tests (default: leave it up for the next run)
  --repeat N      run the tests N times in a row (after one install, build and stack start) and
                  report each run; fails if any run failed. For stability checks, e.g.
                  npm test -- --int --repeat 5
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
function option(name) {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const [, value] = args.splice(i, 2);
  return value;
}
const repeatArg = option('--repeat');
const repeat = repeatArg === undefined ? 1 : Number(repeatArg);
if (!Number.isInteger(repeat) || repeat < 1) {
  console.error(`--repeat needs a whole number of runs ≥ 1, got ${repeatArg ?? 'nothing'}`);
  process.exit(2);
}

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

if (dependenciesStale()) {
  if (noInstall) throw new Error('node_modules missing or stale; run npm ci');
  step('install npm dependencies', 'npm', ['ci', '--no-audit', '--no-fund']);
  markDependenciesInstalled();
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
const projects = unitOnly ? ['--project', 'unit'] : intOnly ? ['--project', 'integration'] : [];

/** One vitest run; returns its summary line and whether it passed (tests ran, none failed). */
function runVitest(run) {
  const jsonOut = path.join(resultsDir, repeat > 1 ? `vitest-${run}.json` : 'vitest.json');
  const started = Date.now();
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
  const secs = ((Date.now() - started) / 1000).toFixed(0);
  try {
    const j = JSON.parse(readFileSync(jsonOut, 'utf8'));
    const skipped = (j.numPendingTests ?? 0) + (j.numTodoTests ?? 0);
    // A file whose set-up failed (beforeAll, a describe's hook) fails without a failed test: its
    // tests are reported skipped. Count each such file as a failure, so the closing line says so.
    const failedFiles = (j.testResults ?? []).filter(
      (f) =>
        f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed'),
    ).length;
    const failed = j.numFailedTests + failedFiles;
    const summary = `${j.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}${failedFiles ? ` (${failedFiles} file(s) failed in set-up)` : ''}`;
    if (j.numTotalTests === 0) {
      console.error('✖ no test ran');
      return { summary, ok: false, secs };
    }
    return { summary, ok: r.status === 0 && failed === 0, secs };
  } catch {
    return { summary: 'no results file (vitest crashed?)', ok: false, secs };
  }
}

const runs = [];
for (let run = 1; run <= repeat; run++) {
  if (repeat > 1) console.log(`\n▶ run ${run} of ${repeat}`);
  runs.push(runVitest(run));
}
const passed = runs.every((x) => x.ok);
if (down) spawnSync('node', ['deploy/local/stack.mjs', 'down'], { cwd: ROOT, stdio: 'inherit' });
console.log(`\nwhole run ${((Date.now() - t0) / 1000).toFixed(0)}s`);
if (repeat > 1) {
  runs.forEach((x, i) =>
    console.log(`run ${i + 1}: ${x.ok ? 'ok' : 'FAILED'} in ${x.secs}s: ${x.summary}`),
  );
  console.log(`runs: ${runs.filter((x) => x.ok).length} of ${repeat} green`);
}
// The last line is the closing line CI reads: the counts of the last run (of every run, with --repeat).
const total = runs.reduce(
  (acc, x) => {
    const m = /^(\d+) passed, (\d+) failed/.exec(x.summary);
    return m ? { p: acc.p + Number(m[1]), f: acc.f + Number(m[2]) } : acc;
  },
  { p: 0, f: 0 },
);
console.log(
  repeat > 1 ? `vitest: ${total.p} passed, ${total.f} failed` : `vitest: ${runs[0].summary}`,
);
process.exit(passed ? 0 : 1);
