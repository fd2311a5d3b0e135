// Step 1: install what is missing, build, bring the native stack up, and make sure the demo's
// ports are free. Node builtins only: nothing is built yet.
import { mkdirSync } from 'node:fs';
import { dependenciesStale, markDependenciesInstalled } from '../../deploy/local/node-runtime.mjs';
import { portFree } from './processes.mjs';

/** Install, build, stack, leftovers of an earlier run, free ports, data and log directories. */
export async function prepare(o, procs) {
  if (dependenciesStale()) {
    if (o.noInstall) return procs.fail('node_modules missing or stale; run npm ci');
    await procs.runSync('install dependencies', 'npm', ['ci', '--no-audit', '--no-fund']);
    markDependenciesInstalled();
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
