#!/usr/bin/env node
// Native local stack: Kafka, ClickHouse, schema registry, SMTP and the AWS emulator as
// plain processes (no Docker). Node builtins only. See deploy/local/README.md.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  HERE,
  REPO_ROOT,
  STACK_DIR,
  describePid,
  fmtMs,
  killTree,
  listenerPids,
  log,
  mkdirp,
  paths,
  ourPidAlive,
  pidAlive,
  portInUse,
  readPid,
  tailFile,
  timed,
  waitFor,
} from './lib.mjs';
import { runUnderPinnedNode } from './node-runtime.mjs';

const USAGE = `usage: node deploy/local/stack.mjs <up|down|status> [--only name,name]

  up      install what is missing (cached in .stack/cache), start each component in
          order, wait for its health check; reuses components that are already up
  down    stop the processes this stack started (by .stack/run/<name>.pid, whole
          process group), nothing else
  status  table of name, ports, pid, health; exit 0 only if all are healthy

  --only a,b   restrict to these components
  --help       this text

State: ${path.relative(process.cwd(), STACK_DIR) || '.stack'}/{cache,data/<name>,logs/<name>.log,run/<name>.pid}
Ports (env, default): MS_KAFKA_PORT 9092, MS_KAFKA_CONTROLLER_PORT 9093,
  MS_CLICKHOUSE_HTTP_PORT 8123, MS_CLICKHOUSE_TCP_PORT 9000,
  MS_CLICKHOUSE_INTERSERVER_PORT 9009, MS_REGISTRY_PORT 8081,
  MS_SMTP_PORT 2525, MS_SMTP_WEB_PORT 1080, MS_AWS_PORT 4566`;

function parseArgs(argv) {
  const out = { cmd: null, only: null, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') out.help = true;
    else if (a === '--only')
      out.only = (argv[++i] ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    else if (a.startsWith('--only='))
      out.only = a
        .slice(7)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    else if (!out.cmd && ['up', 'down', 'status'].includes(a)) out.cmd = a;
    else throw new Error(`unknown argument: ${a}`);
  }
  return out;
}

async function loadComponents() {
  const dir = path.join(HERE, 'components');
  const files = fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.mjs'))
        .sort()
    : [];
  const comps = [];
  for (const f of files) {
    try {
      const mod = await import(pathToFileURL(path.join(dir, f)).href);
      const c = mod.default ?? mod;
      for (const k of ['name', 'ports', 'install', 'start', 'health']) {
        if (c[k] === undefined) throw new Error(`missing export "${k}"`);
      }
      comps.push(c);
    } catch (e) {
      log(`! could not load component ${f}: ${e.message}`);
    }
  }
  return comps.sort((a, b) => (a.order ?? 100) - (b.order ?? 100) || a.name.localeCompare(b.name));
}

function makeCtx(c) {
  const p = paths(c.name);
  const env = process.env;
  return {
    name: c.name,
    env,
    repoRoot: REPO_ROOT,
    stackDir: STACK_DIR,
    paths: p,
    ports: c.ports(env),
    log: (m) => log(`  ${m}`),
  };
}

/** Reason to skip a component (e.g. its sources are not in the repo yet), or null. */
async function skipReason(c, ctx) {
  if (typeof c.available !== 'function') return null;
  const r = await c.available(ctx);
  return r === true || r == null ? null : String(r);
}

async function healthy(c, ctx) {
  try {
    return Boolean(await c.health(ctx));
  } catch {
    return false;
  }
}

class StackError extends Error {}

/** Ports a running component was started with (.stack/run/<name>.ports.json). */
function portsFile(name) {
  return path.join(STACK_DIR, 'run', `${name}.ports.json`);
}

function readPortsFile(name) {
  try {
    return JSON.parse(fs.readFileSync(portsFile(name), 'utf8'));
  } catch {
    return null;
  }
}

async function up(comps) {
  const t0 = Date.now();
  for (const dir of ['cache', 'data', 'logs', 'run']) mkdirp(path.join(STACK_DIR, dir));
  for (const c of comps) {
    const ctx = makeCtx(c);
    const portStr = Object.entries(ctx.ports)
      .map(([k, v]) => `${k}:${v}`)
      .join(' ');
    const tc = Date.now();
    log(`▸ ${c.name} (${portStr})`);
    const skip = await skipReason(c, ctx);
    if (skip) {
      log(`  skipped: ${skip}`);
      continue;
    }
    const pidFile = ctx.paths.pid;
    const pid = readPid(pidFile);
    if (pid && ourPidAlive(pid)) {
      if (await healthy(c, ctx)) {
        log(`  already up (pid ${pid})`);
        continue;
      }
      const was = readPortsFile(c.name);
      if (was && JSON.stringify(was) !== JSON.stringify(ctx.ports)) {
        throw new StackError(
          `${c.name}: pid ${pid} is running with ports ${JSON.stringify(was)}, not ${JSON.stringify(ctx.ports)}; ` +
            `run \`down --only ${c.name}\` first to change ports.`,
        );
      }
      // Ours and alive but not (yet) healthy: maybe still starting. Give it the timeout.
      process.stdout.write(`  pid ${pid} alive but not healthy, waiting `);
      const ok = await waitFor(() => healthy(c, ctx), {
        timeoutMs: c.healthTimeoutMs ?? 60000,
        pid,
      });
      process.stdout.write('\n');
      if (ok) {
        log(`  up (pid ${pid})`);
        continue;
      }
      throw new StackError(
        `${c.name}: pid ${pid} is running but not healthy; run \`down --only ${c.name}\` and retry.\n` +
          `--- last 30 lines of ${ctx.paths.log}\n${tailFile(ctx.paths.log, 30)}`,
      );
    }
    if (pid) fs.rmSync(pidFile, { force: true }); // stale pid file
    for (const [label, port] of Object.entries(ctx.ports)) {
      if (await portInUse(port)) {
        const who = listenerPids(port).map(describePid).join(', ') || 'unknown process';
        throw new StackError(
          `${c.name}: port ${port} (${label}) is already in use by ${who}, which this stack did not start.\n` +
            `Stop it, or choose another port via the component's MS_*_PORT variable.`,
        );
      }
    }
    mkdirp(ctx.paths.data);
    const step = async (label, fn) => {
      try {
        return await timed(label, fn);
      } catch (e) {
        if (e instanceof StackError) throw e;
        throw new StackError(`${c.name}: ${label} failed: ${e instanceof Error ? e.message : e}`);
      }
    };
    await step('install', () => c.install(ctx));
    const newPid = await step('start', () => c.start(ctx));
    const started = typeof newPid === 'number' ? newPid : readPid(pidFile);
    const timeoutMs = c.healthTimeoutMs ?? 60000;
    const th = Date.now();
    process.stdout.write(`  health (timeout ${fmtMs(timeoutMs)}) `);
    const ok = await waitFor(() => healthy(c, ctx), { timeoutMs, pid: started });
    if (!ok) {
      const died = started && !pidAlive(started);
      process.stdout.write(` FAILED (${fmtMs(Date.now() - th)})\n`);
      if (started && !died) await killTree(started, { timeoutMs: 5000 });
      fs.rmSync(pidFile, { force: true });
      throw new StackError(
        `${c.name}: ${died ? 'process exited' : `not healthy within ${fmtMs(timeoutMs)}`} ` +
          `(pid ${started ?? '?'}).\n--- last 30 lines of ${ctx.paths.log}\n${tailFile(ctx.paths.log, 30)}`,
      );
    }
    process.stdout.write(` ok (${fmtMs(Date.now() - th)})\n`);
    fs.writeFileSync(portsFile(c.name), JSON.stringify(ctx.ports));
    log(`  up (pid ${started}) in ${fmtMs(Date.now() - tc)}`);
  }
  log(`stack up in ${fmtMs(Date.now() - t0)}`);
}

async function down(comps, only) {
  const t0 = Date.now();
  const runDir = path.join(STACK_DIR, 'run');
  const names = comps.map((c) => c.name);
  for (const n of only ?? []) if (!names.includes(n)) names.push(n);
  // Also stop pid files whose component module is gone (renamed/removed), unless --only.
  if (!only && fs.existsSync(runDir)) {
    for (const f of fs.readdirSync(runDir)) {
      if (f.endsWith('.pid') && !names.includes(f.slice(0, -4))) names.push(f.slice(0, -4));
    }
  }
  const order = [...names].reverse();
  for (const name of order) {
    const pidFile = paths(name).pid;
    const pid = readPid(pidFile);
    if (!pid) {
      log(`▸ ${name}: not running (no pid file)`);
      continue;
    }
    if (!ourPidAlive(pid)) {
      fs.rmSync(pidFile, { force: true });
      fs.rmSync(portsFile(name), { force: true });
      const why = pidAlive(pid)
        ? `now belongs to another process: ${describePid(pid)}; not touched`
        : 'not running';
      log(`▸ ${name}: stale pid file removed (pid ${pid} ${why})`);
      continue;
    }
    const t = Date.now();
    const c = comps.find((x) => x.name === name);
    const res = await killTree(pid, { timeoutMs: c?.stopTimeoutMs ?? 20000 });
    if (res === 'STILL ALIVE') throw new StackError(`${name}: pid ${pid} survived SIGKILL`);
    fs.rmSync(pidFile, { force: true });
    fs.rmSync(portsFile(name), { force: true });
    log(`▸ ${name}: ${res} (pid ${pid}, ${fmtMs(Date.now() - t)})`);
  }
  log(`stack down in ${fmtMs(Date.now() - t0)}`);
}

async function status(comps) {
  const rows = [['NAME', 'PORTS', 'PID', 'HEALTH']];
  let allOk = true;
  for (const c of comps) {
    const ctx = makeCtx(c);
    const ports = Object.entries(ctx.ports)
      .map(([k, v]) => `${k}:${v}`)
      .join(' ');
    const skip = await skipReason(c, ctx);
    const pid = readPid(ctx.paths.pid);
    const alive = pid && ourPidAlive(pid);
    const ok = await healthy(c, ctx);
    let health;
    if (skip && !alive) health = `skipped (${skip})`;
    else if (ok && alive) health = 'up';
    else if (ok) health = 'up (NOT ours: no live pid file)';
    else health = alive ? 'down (process alive, unhealthy)' : 'down';
    if (!skip && !(ok && alive)) allOk = false;
    rows.push([c.name, ports, alive ? String(pid) : pid ? `${pid} (stale)` : '-', health]);
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows)
    log(
      r
        .map((cell, i) => cell.padEnd(w[i]))
        .join('  ')
        .trimEnd(),
    );
  return allOk;
}

async function main() {
  await runUnderPinnedNode();
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`${e.message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    log(USAGE);
    return 0;
  }
  if (!args.cmd) {
    console.error(USAGE);
    return 2;
  }
  let comps = await loadComponents();
  if (args.only) {
    const unknown = args.only.filter((n) => !comps.some((c) => c.name === n));
    if (unknown.length && args.cmd !== 'down') {
      console.error(
        `unknown component(s): ${unknown.join(', ')}; known: ${comps.map((c) => c.name).join(', ')}`,
      );
      return 2;
    }
    comps = comps.filter((c) => args.only.includes(c.name));
  }
  try {
    if (args.cmd === 'up') await up(comps);
    else if (args.cmd === 'down') await down(comps, args.only);
    else return (await status(comps)) ? 0 : 1;
    return 0;
  } catch (e) {
    process.stdout.write('\n');
    console.error(`stack ${args.cmd} failed: ${e instanceof StackError ? e.message : e.stack}`);
    return 1;
  }
}

process.exitCode = await main();
