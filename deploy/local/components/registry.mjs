// Local schema registry: Apicurio Registry (Confluent-compatible API under /apis/ccompat/v7).
//
// install: Maven (deploy/local/registry/pom.xml) downloads Apicurio's own published
//          distribution io.apicurio:apicurio-registry-app:<version>:tar.gz:all from Maven
//          Central and unpacks it into .stack/cache/registry/<version>/. Nothing is compiled.
// start:   runs it on the JVM, bound to 127.0.0.1:$MS_REGISTRY_PORT (default 8081), with an
//          H2 *file* database under .stack/data/registry/ so schema ids survive restarts.
// health:  GET /apis/ccompat/v7/subjects -> 200.
//
// Version choice: Apicurio 3.x needs Java 21+, 2.6.x runs on Java 17. We look for a JVM
// >= 21 (MS_REGISTRY_JAVA, JAVA_HOME, /usr/lib/jvm/*, PATH) and use 3.3.3; otherwise we fall
// back to 2.6.13.Final on Java 17. MS_REGISTRY_VERSION forces a version.
//
// Client URL (e.g. @kafkajs/confluent-schema-registry): http://127.0.0.1:<port>/apis/ccompat/v7

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { sleep } from '../lib.mjs';

const V3 = '3.3.3';
const V2 = '2.6.13.Final';

function javaMajor(javaBin) {
  try {
    const r = spawnSync(javaBin, ['-version'], { encoding: 'utf8', timeout: 15000 });
    const out = `${r.stderr ?? ''}${r.stdout ?? ''}`;
    const m = out.match(/version "(\d+)(?:\.(\d+))?/);
    if (!m) return 0;
    const major = Number(m[1]);
    return major === 1 ? Number(m[2]) : major; // "1.8.0" style
  } catch {
    return 0;
  }
}

function javaCandidates(env) {
  const c = [];
  if (env.MS_REGISTRY_JAVA) c.push(env.MS_REGISTRY_JAVA);
  if (env.JAVA_HOME) c.push(path.join(env.JAVA_HOME, 'bin', 'java'));
  try {
    for (const d of fs.readdirSync('/usr/lib/jvm'))
      c.push(path.join('/usr/lib/jvm', d, 'bin', 'java'));
  } catch {
    /* no /usr/lib/jvm */
  }
  c.push('java');
  return [...new Set(c)].filter((p) => p === 'java' || fs.existsSync(p));
}

let resolved; // cached { version, java, major }
function resolveRuntime(env) {
  if (resolved) return resolved;
  const found = javaCandidates(env)
    .map((java) => ({ java, major: javaMajor(java) }))
    .filter((j) => j.major >= 17)
    .sort((a, b) => b.major - a.major);
  const best = env.MS_REGISTRY_JAVA
    ? (found.find((j) => j.java === env.MS_REGISTRY_JAVA) ?? found[0])
    : found[0];
  if (!best) throw new Error('registry: no Java 17+ found (set MS_REGISTRY_JAVA or JAVA_HOME)');
  let version = env.MS_REGISTRY_VERSION || (best.major >= 21 ? V3 : V2);
  if (version.startsWith('3.') && best.major < 21) {
    throw new Error(
      `registry: Apicurio ${version} needs Java 21+, best found is ${best.java} (${best.major})`,
    );
  }
  resolved = { version, java: best.java, major: best.major };
  return resolved;
}

function appDir(ctx, version) {
  return path.join(ctx.cacheDir, 'registry', version);
}

function launcher(dir, version) {
  // 3.x ships a Quarkus fast-jar (quarkus-run.jar), 2.6.x a legacy runner jar + lib/.
  return version.startsWith('2.')
    ? path.join(dir, `apicurio-registry-app-${version}-runner.jar`)
    : path.join(dir, 'quarkus-run.jar');
}

function port(env) {
  return Number(env.MS_REGISTRY_PORT ?? 8081);
}

function managementPort(env) {
  return Number(env.MS_REGISTRY_MANAGEMENT_PORT ?? 9081);
}

function get(url, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
  });
}

function pidAlive(pidFile) {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    if (!pid) return false;
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readPidNum(pidFile) {
  try {
    return Number(fs.readFileSync(pidFile, 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

function tail(file, n = 30) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
}

// The stack driver's ctx has changed shape while being written; accept both forms:
//   { root, cacheDir, dataDir(n), logFile(n), pidFile(n), spawnDetached(cmd, args, opts) }
//   { repoRoot, stackDir, paths: { cache, data, log, pid } }  (+ lib.mjs spawnDetached({...}))
function io(ctx) {
  const root =
    ctx.root ??
    ctx.repoRoot ??
    path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', '..');
  const stackDir = ctx.stackDir ?? path.join(root, '.stack');
  return {
    root,
    cacheDir: ctx.cacheDir ?? ctx.paths?.cache ?? path.join(stackDir, 'cache'),
    dataDir:
      ctx.dataDir?.('registry') ?? ctx.paths?.data ?? path.join(stackDir, 'data', 'registry'),
    logFile:
      ctx.logFile?.('registry') ?? ctx.paths?.log ?? path.join(stackDir, 'logs', 'registry.log'),
    pidFile:
      ctx.pidFile?.('registry') ?? ctx.paths?.pid ?? path.join(stackDir, 'run', 'registry.pid'),
    env: ctx.env ?? process.env,
    log: ctx.log ?? ((m) => console.log(m)),
    async spawnDetached(cmd, args, opts) {
      if (typeof ctx.spawnDetached === 'function') return ctx.spawnDetached(cmd, args, opts);
      const lib = await import(new URL('../lib.mjs', import.meta.url).href);
      return lib.spawnDetached({ cmd, args, ...opts });
    },
  };
}

const registry = {
  name: 'registry',
  order: 30,
  // first start creates the H2 schema; JVM start is ~6s, leave room on slow machines
  healthTimeoutMs: 120000,

  ports(env) {
    return { http: port(env), management: managementPort(env) };
  },

  /** Base URL to give Confluent-compatible clients. */
  url(env) {
    return `http://127.0.0.1:${port(env)}/apis/ccompat/v7`;
  },

  async install(c) {
    const ctx = io(c);
    const { version, java, major } = resolveRuntime(ctx.env);
    const dir = appDir(ctx, version);
    if (fs.existsSync(launcher(dir, version))) {
      ctx.log(
        `registry: Apicurio Registry ${version} already installed in ${path.relative(ctx.root, dir)}`,
      );
      return;
    }
    const pom = path.join(ctx.root, 'deploy', 'local', 'registry', 'pom.xml');
    const tmp = `${dir}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    const mvn = ctx.env.MS_MVN || 'mvn';
    ctx.log(
      `registry: fetching Apicurio Registry ${version} (io.apicurio:apicurio-registry-app:tar.gz:all, ~160 MB) via Maven; will run on ${java} (Java ${major})`,
    );
    const t0 = Date.now();
    const r = spawnSync(
      mvn,
      [
        '-B',
        '--no-transfer-progress',
        '-f',
        pom,
        'package',
        `-Dregistry.version=${version}`,
        `-Dregistry.outputDirectory=${tmp}`,
      ],
      {
        cwd: ctx.root,
        env: ctx.env,
        stdio: ['ignore', 'pipe', 'pipe'],
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    if (r.status !== 0 || !fs.existsSync(launcher(tmp, version))) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw new Error(
        `registry: Maven fetch of Apicurio ${version} failed (exit ${r.status ?? r.error?.message}):\n` +
          `${(r.stdout ?? '').split('\n').slice(-40).join('\n')}\n${r.stderr ?? ''}`,
      );
    }
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
    ctx.log(
      `registry: installed Apicurio Registry ${version} in ${((Date.now() - t0) / 1000).toFixed(1)}s -> ${path.relative(ctx.root, dir)}`,
    );
  },

  async start(c) {
    const ctx = io(c);
    const env = ctx.env;
    const p = port(env);
    const { pidFile, logFile } = ctx;
    if (await registry.health(c)) {
      ctx.log(`registry: already up on ${registry.url(env)}`);
      return readPidNum(pidFile);
    }
    if (!pidAlive(pidFile)) {
      const { version, java } = resolveRuntime(env);
      const dir = appDir(ctx, version);
      const jar = launcher(dir, version);
      if (!fs.existsSync(jar)) throw new Error(`registry: ${jar} missing; run install first`);
      const data = ctx.dataDir;
      fs.mkdirSync(path.join(data, 'tmp'), { recursive: true });
      // H2 file database: survives restarts, so Confluent schema ids stay stable.
      // (one file per major version: 2.x and 3.x schemas differ)
      const jdbcUrl = `jdbc:h2:file:${path.join(data, `apicurio${version.split('.')[0]}`)}`;
      // Confluent's default compatibility is BACKWARD; Apicurio's is none. Match Confluent
      // unless MS_REGISTRY_COMPATIBILITY says otherwise (NONE, FORWARD, FULL, ..._TRANSITIVE).
      // Only a default: PUT /config stores a global rule that then wins.
      const compat = (env.MS_REGISTRY_COMPATIBILITY ?? 'BACKWARD').toUpperCase();
      const common = [
        `-Xmx${env.MS_REGISTRY_HEAP ?? '512m'}`,
        '-XX:+UseSerialGC',
        '-Dquarkus.http.host=127.0.0.1',
        `-Dquarkus.http.port=${p}`,
        // 3.x also opens a Quarkus management interface (health/metrics) whose default is
        // 0.0.0.0:9000 = ClickHouse's native port. Enabling it is build-time (cannot be turned
        // off here), but host/port are runtime: pin it to loopback on its own port.
        '-Dquarkus.management.host=127.0.0.1',
        `-Dquarkus.management.port=${managementPort(env)}`,
        '-Dquarkus.http.access-log.enabled=false',
        `-Djava.io.tmpdir=${path.join(data, 'tmp')}`,
      ];
      const perVersion = version.startsWith('2.')
        ? [
            `-Dquarkus.datasource.jdbc.url=${jdbcUrl}`,
            '-Dquarkus.datasource.jdbc.initial-size=2',
            '-Dquarkus.datasource.jdbc.min-size=2',
            '-Dquarkus.datasource.jdbc.max-size=20',
            '-Dregistry.rest.artifact.deletion.enabled=true',
            ...(compat === 'NONE' ? [] : [`-Dregistry.rules.global.compatibility=${compat}`]),
          ]
        : [
            `-Dapicurio.datasource.url=${jdbcUrl}`,
            '-Dapicurio.datasource.jdbc.initial-size=2',
            '-Dapicurio.datasource.jdbc.min-size=2',
            '-Dapicurio.datasource.jdbc.max-size=20',
            `-Dapicurio.storage.snapshot.location=${data}`,
            // allow DELETE /subjects/... through ccompat (handy for tests; Confluent allows it too)
            '-Dapicurio.rest.deletion.artifact.enabled=true',
            '-Dapicurio.rest.deletion.artifact-version.enabled=true',
            '-Dapicurio.rest.deletion.group.enabled=true',
            ...(compat === 'NONE' ? [] : [`-Dapicurio.rules.global.compatibility=${compat}`]),
          ];
      const args = [
        ...common,
        ...perVersion,
        ...(env.MS_REGISTRY_JAVA_OPTS
          ? env.MS_REGISTRY_JAVA_OPTS.split(/\s+/).filter(Boolean)
          : []),
        '-jar',
        jar,
      ];
      ctx.log(
        `registry: starting Apicurio Registry ${version} on 127.0.0.1:${p} (log ${path.relative(ctx.root, logFile)})`,
      );
      await ctx.spawnDetached(java, args, { cwd: dir, env: { ...env }, logFile, pidFile });
    } else {
      ctx.log('registry: process already running, waiting for it to become healthy');
    }
    const deadline = Date.now() + Number(env.MS_REGISTRY_START_TIMEOUT_MS ?? 120000);
    const t0 = Date.now();
    while (Date.now() < deadline) {
      if (await registry.health(c)) {
        ctx.log(
          `registry: healthy after ${((Date.now() - t0) / 1000).toFixed(1)}s at ${registry.url(env)}`,
        );
        return readPidNum(pidFile);
      }
      if (!pidAlive(pidFile)) {
        throw new Error(
          `registry: process exited during startup; last log lines:\n${tail(logFile)}`,
        );
      }
      await sleep(500);
    }
    throw new Error(`registry: not healthy within timeout; last log lines:\n${tail(logFile)}`);
  },

  async health(ctx) {
    return (
      (await get(`http://127.0.0.1:${port(ctx.env ?? process.env)}/apis/ccompat/v7/subjects`)) ===
      200
    );
  },
};

export default registry;
export { registry };
