// Step 1: install what is missing, build, bring the native stack up, and make sure the demo's
// ports are free. Node builtins only: nothing is built yet.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './options.mjs';
import { portFree } from './processes.mjs';

/** Whether node_modules is missing or older than package-lock.json. */
function installStale() {
  const marker = path.join(ROOT, 'node_modules', '.package-lock.json');
  return (
    !existsSync(marker) ||
    statSync(path.join(ROOT, 'package-lock.json')).mtimeMs > statSync(marker).mtimeMs
  );
}

/** Install, build, stack, leftovers of an earlier run, free ports, data and log directories. */
export async function prepare(o, procs) {
  if (installStale()) {
    if (o.noInstall) return procs.fail('node_modules missing or stale; run npm ci');
    await procs.runSync('install dependencies', 'npm', ['ci', '--no-audit', '--no-fund']);
  }
  if (!o.noBuild) await procs.runSync('build', 'npx', ['tsc', '-b']);
  if (!o.noStack)
    await procs.runSync('local stack', process.execPath, ['deploy/local/stack.mjs', 'up']);

  mkdirSync(o.data, { recursive: true });
  await procs.stopLeftovers();
  const ports = Object.entries(o.ports).filter(([k]) => o.ownAws || k !== 'aws');
  for (const [svc, port] of ports) {
    if (!(await portFree(port)))
      return procs.fail(`port ${port} (${svc}) is in use: pass --port-base <p> to move the demo`);
  }
  mkdirSync(o.data, { recursive: true });
  mkdirSync(o.logs, { recursive: true });
}
