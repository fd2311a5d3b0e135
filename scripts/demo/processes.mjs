// The demo's child processes: one-shot commands, the services' CLIs, and the long-running
// services, with their pids remembered so that a run killed with SIGKILL does not leave the next
// one with busy ports.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT, logFile } from './options.mjs';
import { info, step } from './output.mjs';

/** Whether `url` answers 2xx within 3 s. */
export const ok = async (url) => (await fetch(url, { signal: AbortSignal.timeout(3000) })).ok;

/** Whether nothing listens on 127.0.0.1:`port`. */
export function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** The processes of one demo run. */
export class Processes {
  constructor(o) {
    this.o = o;
    /** @type {{ name: string, child: import('node:child_process').ChildProcess, exited: boolean, code: unknown, script: string }[]} */
    this.list = [];
    this.stopping = false;
  }

  /** Runs a command to its end with inherited output; fails the demo when it fails. */
  async runSync(name, cmd, args, opts = {}) {
    const started = Date.now();
    step(`${name}: ${cmd} ${args.join(' ')}`);
    const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', ...opts });
    if (r.status !== 0) {
      console.error(`✖ ${name} failed (exit ${r.status ?? r.signal})`);
      return this.fail(`${name} failed`);
    }
    info(`✔ ${name} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
  }

  /** Runs a CLI of a service (built JS) with an environment; returns stdout, throws on failure. */
  cli(script, args, env, input) {
    const r = spawnSync(process.execPath, [script, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      input,
      encoding: 'utf8',
    });
    if (r.status !== 0) {
      throw new Error(
        `${path.relative(ROOT, script)} ${args.join(' ')} exited ${r.status}: ${r.stderr || r.stdout}`,
      );
    }
    return r.stdout;
  }

  /** Starts a service (built JS) in the background, its output in its log file. */
  start(name, script, env) {
    const log = logFile(this.o, name);
    const out = createWriteStream(log, { flags: 'w' });
    const child = spawn(process.execPath, [script], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(out);
    child.stderr.pipe(out);
    const p = { name, child, exited: false, code: null, script };
    child.on('exit', (code, signal) => {
      p.exited = true;
      p.code = code ?? signal;
      if (!this.stopping) {
        console.error(`✖ ${name} exited unexpectedly (${p.code}); see ${path.relative(ROOT, log)}`);
      }
    });
    this.list.push(p);
    this.savePids();
    info(`started ${name} (pid ${child.pid}), log ${path.relative(ROOT, log)}`);
    return p;
  }

  pidFile() {
    return path.join(this.o.data, 'pids.json');
  }

  savePids() {
    writeFileSync(
      this.pidFile(),
      JSON.stringify(this.list.map((p) => ({ name: p.name, pid: p.child.pid, script: p.script }))),
    );
  }

  /** Stops the services an earlier run of the same name left (checked by command line). */
  async stopLeftovers() {
    if (!existsSync(this.pidFile())) return;
    let list = [];
    try {
      list = JSON.parse(readFileSync(this.pidFile(), 'utf8'));
    } catch {
      list = [];
    }
    for (const { name, pid, script } of list) {
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      if (!cmdline.includes(script)) continue;
      info(`stopping ${name} (pid ${pid}) left over from an earlier run`);
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        continue;
      }
      for (let i = 0; i < 400 && existsSync(`/proc/${pid}`); i++) await sleep(100);
    }
    rmSync(this.pidFile(), { force: true });
  }

  /** Stops every service, newest first: SIGTERM, then SIGKILL after 40 s. */
  async stopAll() {
    if (this.stopping) return;
    this.stopping = true;
    for (const p of [...this.list].reverse()) {
      if (p.exited) continue;
      p.child.kill('SIGTERM');
      const until = Date.now() + 40_000;
      while (!p.exited && Date.now() < until) await sleep(100);
      if (!p.exited) {
        console.error(`  ${p.name} did not stop within 40 s; SIGKILL`);
        p.child.kill('SIGKILL');
      } else {
        info(`stopped ${p.name} (${p.code})`);
      }
    }
  }

  /** Ends the demo with an error: stops the services and exits 1. */
  async fail(msg) {
    console.error(`✖ ${msg}`);
    await this.stopAll();
    process.exit(1);
  }

  /** Fails the demo when a service died. */
  async checkAlive(what) {
    for (const p of this.list) if (p.exited) return this.fail(`${p.name} ${what}`);
  }

  /** Polls `fn` until it returns something truthy; fails the demo on timeout or a dead service. */
  async waitFor(what, fn, timeoutMs = 90_000, everyMs = 500) {
    const until = Date.now() + timeoutMs;
    let last;
    while (Date.now() < until) {
      await this.checkAlive(`died while waiting for ${what}`);
      try {
        const v = await fn();
        if (v) return v;
      } catch (e) {
        last = e;
      }
      await sleep(everyMs);
    }
    return this.fail(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
  }
}
