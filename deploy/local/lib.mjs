// Shared helpers for the native local stack (deploy/local/stack.mjs and its components).
// Node builtins only: this file must run before `npm install` has ever happened.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..', '..');
export const STACK_DIR = path.join(REPO_ROOT, '.stack');

/** Paths of one component's state under .stack/. */
export function paths(name) {
  return {
    root: STACK_DIR,
    cache: path.join(STACK_DIR, 'cache'),
    data: path.join(STACK_DIR, 'data', name),
    log: path.join(STACK_DIR, 'logs', `${name}.log`),
    logs: path.join(STACK_DIR, 'logs'),
    pid: path.join(STACK_DIR, 'run', `${name}.pid`),
    run: path.join(STACK_DIR, 'run'),
  };
}

export function mkdirp(dir) {
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Integer port from env, with a default; a malformed value is a hard error. */
export function envPort(env, key, def) {
  const raw = env[key];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new Error(`${key}=${raw} is not a valid port`);
  return n;
}

/**
 * A component's `ports(env)` from a table `{ label: [ENV_KEY, default] }`, each read with
 * {@link envPort}.
 */
export function envPorts(table) {
  return (env) =>
    Object.fromEntries(
      Object.entries(table).map(([label, [key, def]]) => [label, envPort(env, key, def)]),
    );
}

/**
 * `apt-get install -y --no-install-recommends <pkgs>`; when that fails (package lists not there
 * yet), `apt-get update` and once more. `onUpdate` is told before the update.
 */
export function aptGetInstall(pkgs, { env, onUpdate = () => {} }) {
  const args = ['install', '-y', '--no-install-recommends', ...pkgs];
  try {
    run('apt-get', args, { env });
  } catch {
    onUpdate();
    run('apt-get', ['update'], { env });
    run('apt-get', args, { env });
  }
}

// True while a `timed()` label is printed without its result; log() then starts a new
// line so that component messages do not run into "  install ...".
let openLine = null;

export function log(msg) {
  if (openLine) {
    process.stdout.write('\n');
    openLine.broken = true;
    openLine = null;
  }
  process.stdout.write(`${msg}\n`);
}

export function fmtMs(ms) {
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;
}

/** Run fn and print "label ... done (1.2s)". */
export async function timed(label, fn) {
  const t0 = Date.now();
  const line = { broken: false };
  openLine = line;
  process.stdout.write(`  ${label} ...`);
  const end = (word) => {
    if (openLine === line) openLine = null;
    const prefix = line.broken ? `  ${label}` : '';
    process.stdout.write(`${prefix} ${word} (${fmtMs(Date.now() - t0)})\n`);
  };
  try {
    const r = await fn();
    end('done');
    return r;
  } catch (e) {
    end('FAILED');
    throw e;
  }
}

/** Synchronous command with inherited env; throws with its output on failure. */
export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\n${out}`);
  }
  return r.stdout ?? '';
}

/** Like run() but async, so progress can be printed; output goes to logFile if given. */
export function runAsync(cmd, args, opts = {}) {
  const { logFile, ...rest } = opts;
  return new Promise((resolve, reject) => {
    let out = '';
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...rest });
    const sink = logFile ? fs.createWriteStream(logFile, { flags: 'a' }) : null;
    const onData = (d) => {
      out += d.toString();
      if (out.length > 1e6) out = out.slice(-5e5);
      sink?.write(d);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => reject(new Error(`${cmd}: ${e.message}`)));
    child.on('close', (code) => {
      sink?.end();
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}\n${tailText(out, 30)}`));
    });
  });
}

/** Absolute path of an executable on PATH (or in extra dirs), or null. */
export function which(bin, extraDirs = []) {
  const dirs = [
    ...(process.env.PATH ?? '').split(':'),
    ...extraDirs,
    '/usr/sbin',
    '/sbin',
    '/usr/local/sbin',
  ];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, bin);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

/**
 * Spawn a long-running server detached in its own process group (so `down` can kill the
 * whole tree), stdout+stderr appended to logFile, and write its pid to pidFile.
 */
export function spawnDetached({ cmd, args, cwd, env, logFile, pidFile }) {
  mkdirp(path.dirname(logFile));
  mkdirp(path.dirname(pidFile));
  const fd = fs.openSync(logFile, 'a');
  fs.writeSync(fd, `\n===== ${new Date().toISOString()} start: ${cmd} ${args.join(' ')}\n`);
  const child = spawn(cmd, args, {
    cwd: cwd ?? REPO_ROOT,
    env: env ?? process.env,
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  fs.closeSync(fd);
  if (!child.pid) throw new Error(`could not spawn ${cmd}`);
  child.unref();
  fs.writeFileSync(pidFile, `${child.pid}\n`);
  return child.pid;
}

export function readPid(pidFile) {
  try {
    const n = Number(fs.readFileSync(pidFile, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** True if a process with this pid exists and is not a zombie. */
export function pidAlive(pid) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return e.code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true;
  }
}

/**
 * True if pid is alive AND is one of ours: every process the stack starts has a path inside
 * the repo (or .stack/) on its command line. Guards against a stale pid file whose pid
 * now belongs to an unrelated process (e.g. after a reboot): we must never signal that.
 */
export function ourPidAlive(pid) {
  if (!pidAlive(pid)) return false;
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes(REPO_ROOT);
  } catch {
    return false;
  }
}

/** Process group id of pid (from /proc), or null. */
export function pgidOf(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[2]);
  } catch {
    return null;
  }
}

/**
 * Any live (non-zombie) process in process group pgid? Zombies count as gone: our servers
 * are reparented to init once `up` exits, and init may reap them only a while later.
 */
export function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    return e.code === 'EPERM';
  }
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid && f[0] !== 'Z' && f[0] !== 'X') return true;
    } catch {
      /* raced with exit */
    }
  }
  return false;
}

// Node's own promise timer (deploy/local runs before anything is built: no workspace packages).
export { sleep };

/**
 * Stop a process we started: SIGTERM to its process group (it is a group leader because
 * we spawned it detached), then SIGKILL after timeoutMs. Only the group led by pid is
 * touched; if pid is not a group leader (pid reuse), only pid itself is signalled.
 */
export async function killTree(pid, { timeoutMs = 15000 } = {}) {
  if (!pidAlive(pid)) return 'not running';
  const pgid = pgidOf(pid);
  const target = pgid === pid ? -pid : pid;
  const alive = () => (target < 0 ? groupAlive(pid) : pidAlive(pid));
  try {
    process.kill(target, 'SIGTERM');
  } catch {
    /* already gone */
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive()) return 'stopped';
    await sleep(200);
  }
  try {
    process.kill(target, 'SIGKILL');
  } catch {
    /* gone */
  }
  for (let i = 0; i < 25 && alive(); i++) await sleep(200);
  return alive() ? 'STILL ALIVE' : 'killed';
}

/** True if something accepts TCP connections on host:port. */
export function tcpOpen(port, host = '127.0.0.1', timeoutMs = 1000) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    const done = (v) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** True if the port is taken on 127.0.0.1 or 0.0.0.0 (bind test + connect test). */
export async function portInUse(port) {
  if (await tcpOpen(port)) return true;
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(true));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(false)));
  });
}

/** Pids of processes listening on a TCP port (from /proc/net/tcp*), best effort. */
export function listenerPids(port) {
  const inodes = new Set();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== '0A') continue;
      const p = parseInt(cols[1].split(':')[1], 16);
      if (p === port) inodes.add(cols[9]);
    }
  }
  if (inodes.size === 0) return [];
  const pids = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let fds;
    try {
      fds = fs.readdirSync(`/proc/${d}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const l = fs.readlinkSync(`/proc/${d}/fd/${fd}`);
        const m = /^socket:\[(\d+)\]$/.exec(l);
        if (m && inodes.has(m[1])) {
          pids.push(Number(d));
          break;
        }
      } catch {
        /* raced */
      }
    }
  }
  return pids;
}

/** Describe a pid for error messages: "1234 (java ...)". */
export function describePid(pid) {
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return `${pid} (${cmd.slice(0, 120)})`;
  } catch {
    return String(pid);
  }
}

/** HTTP GET on 127.0.0.1; resolves {status, body} or null on error/timeout. */
export function httpGet(port, urlPath, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        if (body.length < 65536) body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => {
      req.destroy();
      resolve(null);
    });
    req.on('error', () => resolve(null));
  });
}

/**
 * Poll check() until it resolves true, printing a dot per second; false on timeout or
 * if the process (pid) died meanwhile.
 */
export async function waitFor(check, { timeoutMs, pid, intervalMs = 500 }) {
  const t0 = Date.now();
  let lastDot = t0;
  while (Date.now() - t0 < timeoutMs) {
    if (await check().catch(() => false)) return true;
    if (pid && !pidAlive(pid)) return false;
    if (Date.now() - lastDot >= 1000) {
      process.stdout.write('.');
      lastDot = Date.now();
    }
    await sleep(intervalMs);
  }
  return false;
}

export function tailText(text, n) {
  return text
    .split('\n')
    .slice(-n - 1)
    .join('\n');
}

export function tailFile(file, n = 30) {
  try {
    const st = fs.statSync(file);
    const len = Math.min(st.size, 256 * 1024);
    const fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(len);
    fs.readSync(fd, buf, 0, len, st.size - len);
    fs.closeSync(fd);
    return tailText(buf.toString('utf8').replace(/\n$/, ''), n);
  } catch {
    return '(no log)';
  }
}

/** Replace {{KEY}} placeholders; an unknown placeholder is an error, not a silent blank. */
export function render(template, vars) {
  return template.replace(/\{\{([A-Z0-9_]+)\}\}/g, (_, k) => {
    if (!(k in vars)) throw new Error(`template placeholder {{${k}}} has no value`);
    return String(vars[k]);
  });
}

export function renderFile(src, dest, vars) {
  mkdirp(path.dirname(dest));
  const out = render(fs.readFileSync(src, 'utf8'), vars);
  let prev = null;
  try {
    prev = fs.readFileSync(dest, 'utf8');
  } catch {
    /* new */
  }
  if (prev !== out) fs.writeFileSync(dest, out);
  return dest;
}

/** Newest mtime (ms) of files under dir matching filter, 0 if none. */
export function newestMtime(dir, filter = () => true) {
  let newest = 0;
  const walk = (d) => {
    let entries;
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (filter(p)) newest = Math.max(newest, fs.statSync(p).mtimeMs);
    }
  };
  walk(dir);
  return newest;
}
