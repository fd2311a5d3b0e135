// Local AWS emulator (emulators/aws in this repo: Marketplace Metering, Entitlement,
// CloudTrail). Built with `tsc -b emulators/aws` (incremental) before each start.
import fs from 'node:fs';
import path from 'node:path';
import { envPorts, httpGet, mkdirp, runAsync, spawnDetached } from '../lib.mjs';

function dirs(ctx) {
  const pkgDir = path.join(ctx.repoRoot, 'emulators', 'aws');
  return { pkgDir, main: path.join(pkgDir, 'dist', 'main.js') };
}

export const name = 'aws';
export const order = 50;
export const healthTimeoutMs = 30000;

export const ports = envPorts({ http: ['MS_AWS_PORT', 4566] });

/** Skip (not fail) while the emulator package does not exist in the repo yet. */
export function available(ctx) {
  const { pkgDir, main } = dirs(ctx);
  if (!fs.existsSync(path.join(pkgDir, 'package.json')))
    return 'emulators/aws/package.json not found (emulator not in this checkout)';
  if (!fs.existsSync(path.join(pkgDir, 'src', 'main.ts')) && !fs.existsSync(main)) {
    return 'emulators/aws has no src/main.ts entry point yet';
  }
  return null;
}

/**
 * `tsc -b` is incremental and follows the project references (packages/config, ...), so it
 * is always run: a no-op build takes about half a second, and comparing mtimes ourselves
 * would misjudge excluded files (tests) and referenced packages.
 */
export async function install(ctx) {
  const { main } = dirs(ctx);
  const tsc = path.join(ctx.repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!fs.existsSync(tsc)) {
    if (fs.existsSync(main)) {
      ctx.log('node_modules/typescript missing: using the existing emulators/aws/dist as is');
      return;
    }
    throw new Error(
      'emulators/aws needs a build but node_modules/typescript is missing: run `npm ci` at the repo root first',
    );
  }
  await runAsync(process.execPath, [tsc, '-b', path.join('emulators', 'aws')], {
    cwd: ctx.repoRoot,
    logFile: ctx.paths.log,
  });
  if (!fs.existsSync(main))
    throw new Error(`tsc -b emulators/aws succeeded but ${main} does not exist`);
}

export function start(ctx) {
  const { main } = dirs(ctx);
  mkdirp(ctx.paths.data);
  return spawnDetached({
    cmd: process.execPath,
    args: [main],
    cwd: ctx.repoRoot,
    env: {
      ...process.env,
      MS_AWS_PORT: String(ctx.ports.http),
      MS_AWS_STATE_FILE: path.join(ctx.paths.data, 'state.json'),
    },
    logFile: ctx.paths.log,
    pidFile: ctx.paths.pid,
  });
}

export async function health(ctx) {
  const r = await httpGet(ctx.ports.http, '/_admin/health');
  return Boolean(r && r.status === 200);
}
