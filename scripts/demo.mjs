#!/usr/bin/env node
// `npm run demo`: the whole pipeline on one machine, every service as its own process, fed by a
// usage generator that plays a SaaS backend over HTTP, ending with a table that proves, per
// customer and dimension, that what AWS billed is what the events add up to and that CloudTrail
// (as read by the auditor) agrees. Node builtins only (plus the built @meterstream/plans).
//
// Timing, honestly: AWS bills by the hour and Meterstream sends an hour only once it is frozen.
// So that the demo finishes in minutes, every generated event is timestamped in the last complete
// hours (H0-4 .. H0-1, H0 = the current hour): the generator's clock is simulated and replays those
// hours in about a minute, oldest first (the aggregator freezes each hour when event time passes
// it, with a 60 s grace), plays the last one as a trickle, and sends late events for hours
// already frozen (they are carried into the next open hour). When the generator stops, the
// aggregator freezes H0-1 by processing time (idle partitions). The interactive demo then keeps a
// real-time trickle going in the current hour; it is billed after that hour ends.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { URLSearchParams, fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HELP = `usage: npm run demo [-- options]

Installs what is missing, builds, brings the native stack up (deploy/local), starts ingest,
aggregator, submitter, auditor and console as separate processes on a demo database and topic,
registers the demo products of plans/ and a few customers in the AWS emulator, plays a SaaS
backend sending usage (the last 4 complete hours on a simulated clock, duplicates, late events),
and prints per customer and dimension: events, unique quantity, windows, records sent, billed
by AWS, audited in CloudTrail. Then it keeps running (console URL and sign-in printed, a live
trickle of usage) until Ctrl-C.

  --once             exit after the table: status 0 only if every row matched
  --name <n>         demo name: database meterstream_<n>, topic meterstream.<n>.<run>.usage,
                     data in .stack/data/demo/<n>, logs .stack/logs/demo[-<n>]-<service>.log
                     (default: demo; env MS_DEMO_NAME)
  --port-base <p>    ports p..p+5 for ingest, aggregator, submitter, auditor, console and a
                     private emulator (default: the services' own defaults 8080, 9101, 9102,
                     9103, 8090; env MS_DEMO_PORT_BASE)
  --stack-aws        use the stack's AWS emulator (:4566, shared) instead of a private one
                     (env MS_DEMO_STACK_AWS=1); see "AWS emulator" below
  --faults           make the private AWS emulator misbehave: throttling, 500s, unprocessed
                     records, lost answers, throttled LookupEvents (the table must still match)
  --hours <n>        complete past hours to generate (1..20, default 4)
  --timeout <s>      longest wait for billing and audit to settle (default 240)
  --json <file>      also write the table as JSON (for the system test)
  --no-install       never run npm ci (fail when node_modules is missing or stale)
  --no-build         skip npx tsc -b
  --no-stack         do not run deploy/local/stack.mjs up (the stack is given by MS_KAFKA_BROKERS,
                     MS_SCHEMA_REGISTRY_URL, MS_CLICKHOUSE_URL, MS_SMTP_HOST/PORT)
  --help             this text

AWS emulator: by default the demo starts its own emulator process (port 4567 or <p>+5, state in
.stack/data/demo/<name>/aws-state.json, wiped per run), so its CloudTrail and entitlements hold
only this run: the auditor then has nothing foreign to report. With --stack-aws, earlier runs and
other users of the stack's emulator are visible: the auditor reports their CloudTrail records as
unknown_to_ledger and the submitter's entitlement sync picks up their contract customers (rows
of this run still match).

Each run drops and recreates its own database (meterstream_<name>), uses a new topic and new
customer ids, so runs never mix. The stack itself is shared and never stopped.`;

// ---------------------------------------------------------------- arguments
const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  console.log(HELP);
  process.exit(0);
}
const has = (f) => argv.includes(f);
const opt = (f, def) => {
  const i = argv.indexOf(f);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
};
const ONCE = has('--once');
const NAME = opt('--name', process.env.MS_DEMO_NAME || 'demo');
if (!/^[a-z][a-z0-9_]{0,30}$/.test(NAME)) die(`--name must match [a-z][a-z0-9_]{0,30}: ${NAME}`);
const PORT_BASE = Number(opt('--port-base', process.env.MS_DEMO_PORT_BASE || '0'));
// --own-aws is the default (kept as a flag for scripts that pass it).
const OWN_AWS = !has('--stack-aws') && process.env.MS_DEMO_STACK_AWS !== '1';
const FAULTS = has('--faults');
if (FAULTS && !OWN_AWS) die('--faults needs the private emulator (not with --stack-aws)');
const HOURS = Number(opt('--hours', '4'));
if (!Number.isInteger(HOURS) || HOURS < 1 || HOURS > 20) die('--hours must be 1..20');
const TIMEOUT_S = Number(opt('--timeout', '240'));
const JSON_OUT = opt('--json', '');

const HOUR = 3_600_000;
const GRACE_MS = 60_000;
const IDLE_MS = 15_000;
const PARTITIONS = 3;
const env0 = process.env;
const KAFKA = env0.MS_KAFKA_BROKERS || `127.0.0.1:${env0.MS_KAFKA_PORT || 9092}`;
const REGISTRY =
  env0.MS_SCHEMA_REGISTRY_URL ||
  `http://127.0.0.1:${env0.MS_REGISTRY_PORT || 8081}/apis/ccompat/v7`;
const CH_URL = env0.MS_CLICKHOUSE_URL || `http://127.0.0.1:${env0.MS_CLICKHOUSE_HTTP_PORT || 8123}`;
const SMTP_HOST = env0.MS_SMTP_HOST || '127.0.0.1';
const SMTP_PORT = env0.MS_SMTP_PORT || '2525';
const SMTP_WEB = `http://127.0.0.1:${env0.MS_SMTP_WEB_PORT || 1080}`;
const PORTS = PORT_BASE
  ? {
      ingest: PORT_BASE,
      aggregator: PORT_BASE + 1,
      submitter: PORT_BASE + 2,
      auditor: PORT_BASE + 3,
      console: PORT_BASE + 4,
      aws: PORT_BASE + 5,
    }
  : { ingest: 8080, aggregator: 9101, submitter: 9102, auditor: 9103, console: 8090, aws: 4567 };
const AWS_URL = OWN_AWS
  ? `http://127.0.0.1:${PORTS.aws}`
  : `http://127.0.0.1:${env0.MS_AWS_PORT || 4566}`;
const RUN = randomBytes(3).toString('hex');
const DB = `meterstream_${NAME}`;
const TOPIC = `meterstream.${NAME}.${RUN}.usage`;
const DATA = path.join(ROOT, '.stack', 'data', 'demo', NAME);
const LOGS = path.join(ROOT, '.stack', 'logs');
const logFile = (svc) => path.join(LOGS, `demo${NAME === 'demo' ? '' : `-${NAME}`}-${svc}.log`);
const PLANS_DIR = path.join(ROOT, 'plans');

// ---------------------------------------------------------------- output helpers
const T0 = Date.now();
const since = () => `${((Date.now() - T0) / 1000).toFixed(1).padStart(6)}s`;
function step(msg) {
  console.log(`${since()} ▶ ${msg}`);
}
function info(msg) {
  console.log(`${since()}   ${msg}`);
}
function die(msg) {
  console.error(`✖ ${msg}`);
  process.exit(1);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');
const hhmm = (ms) => iso(ms).slice(11, 16);

// ---------------------------------------------------------------- processes
const procs = []; // { name, child, exited }
let stopping = false;

function runSync(name, cmd, args, opts = {}) {
  const started = Date.now();
  step(`${name}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    console.error(`✖ ${name} failed (exit ${r.status ?? r.signal})`);
    return fail(`${name} failed`);
  }
  info(`✔ ${name} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
}

/** Runs a CLI of a service (built JS) with an environment; returns stdout, throws on failure. */
function cli(script, args, env, input) {
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

function startService(name, script, env) {
  const out = createWriteStream(logFile(name), { flags: 'w' });
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
    if (!stopping) {
      console.error(
        `✖ ${name} exited unexpectedly (${p.code}); see ${path.relative(ROOT, logFile(name))}`,
      );
    }
  });
  procs.push(p);
  savePids();
  info(`started ${name} (pid ${child.pid}), log ${path.relative(ROOT, logFile(name))}`);
  return p;
}

// The services' pids, so that a run killed with SIGKILL does not leave the next one with busy
// ports: the next run of the same name stops exactly those processes (checked by command line).
const pidFile = () => path.join(DATA, 'pids.json');
function savePids() {
  writeFileSync(
    pidFile(),
    JSON.stringify(procs.map((p) => ({ name: p.name, pid: p.child.pid, script: p.script }))),
  );
}
async function stopLeftovers() {
  if (!existsSync(pidFile())) return;
  let list = [];
  try {
    list = JSON.parse(readFileSync(pidFile(), 'utf8'));
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
  rmSync(pidFile(), { force: true });
}

async function stopAll() {
  if (stopping) return;
  stopping = true;
  for (const p of [...procs].reverse()) {
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

async function fail(msg) {
  console.error(`✖ ${msg}`);
  await stopAll();
  process.exit(1);
}

async function waitFor(what, fn, timeoutMs = 90_000, everyMs = 500) {
  const until = Date.now() + timeoutMs;
  let last;
  while (Date.now() < until) {
    for (const p of procs) if (p.exited) return fail(`${p.name} died while waiting for ${what}`);
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  return fail(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

const ok = async (url) => (await fetch(url, { signal: AbortSignal.timeout(3000) })).ok;

function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

// ---------------------------------------------------------------- HTTP helpers
async function http(method, url, body, headers = {}) {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) throw new Error(`${method} ${url} → ${res.status} ${text.slice(0, 400)}`);
  return json;
}

/** ClickHouse over HTTP (values below are generated by this script, never user input). */
async function ch(sql, database = DB) {
  const u = new URL(CH_URL);
  if (database) u.searchParams.set('database', database);
  const res = await fetch(u, {
    method: 'POST',
    body: sql,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`ClickHouse: ${text.slice(0, 400)}`);
  return text;
}
async function chRows(sql) {
  const text = await ch(`${sql} FORMAT JSON`);
  return JSON.parse(text).data;
}
const chStr = (s) => `'${String(s).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

// ---------------------------------------------------------------- Kafka partition of a key
// The Java/kafkajs murmur2 partitioner, so that the demo can pick customers whose keys
// (`<productCode>|<customer>`, ADR 0001) cover every partition: an hour is frozen topic-wide only
// when every partition froze it, and a partition that never saw an event records its frozen hours
// only from its first idle tick on (ADR 0002).
function murmur2(key) {
  const data = Buffer.from(key, 'utf8');
  const length = data.length;
  const m = 0x5bd1e995;
  let h = 0x9747b28c ^ length;
  const l4 = length >> 2;
  for (let i = 0; i < l4; i++) {
    const o = i * 4;
    let k = data[o] | (data[o + 1] << 8) | (data[o + 2] << 16) | (data[o + 3] << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const rest = length & 3;
  const b = length & ~3;
  if (rest === 3) h ^= data[b + 2] << 16;
  if (rest >= 2) h ^= data[b + 1] << 8;
  if (rest >= 1) {
    h ^= data[b];
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h;
}
const partitionOf = (key, n) => (murmur2(key) & 0x7fffffff) % n;

// ---------------------------------------------------------------- decimals (micro-units)
const MICROS = 1_000_000n;
const toMicros = (q) => {
  const [i, f = ''] = q.split('.');
  return BigInt(i) * MICROS + BigInt((f + '000000').slice(0, 6));
};
const fmtMicros = (m) => {
  const i = m / MICROS;
  const f = (m % MICROS).toString().padStart(6, '0').replace(/0+$/, '');
  return f ? `${i}.${f}` : `${i}`;
};

/** Deletes the usage topics of earlier runs of this demo name (one topic per run). */
async function deleteOldTopics() {
  const dist = (p) => pathToFileURL(path.join(ROOT, p)).href;
  const { createKafka } = await import(dist('packages/kafka/dist/index.js'));
  const { createLogger } = await import(dist('packages/observability/dist/index.js'));
  const kafka = createKafka({
    brokers: KAFKA.split(','),
    clientId: `meterstream-${NAME}-demo`,
    logger: createLogger('demo', { level: 'silent' }),
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const old = (await admin.listTopics()).filter((t) => t.startsWith(`meterstream.${NAME}.`));
    if (old.length > 0) await admin.deleteTopics({ topics: old });
  } finally {
    await admin.disconnect();
  }
}

/**
 * Signs in to the console like a browser (CSRF cookie + form token) and returns the HTML of
 * `page` as a one-element array (an object, to tell it from an error text).
 */
async function signInToConsole(base, username, password, page) {
  const jar = new Map();
  const keep = (res) => {
    for (const c of res.headers.getSetCookie()) {
      const [kv] = c.split(';');
      const i = kv.indexOf('=');
      jar.set(kv.slice(0, i), kv.slice(i + 1));
    }
  };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const form = await fetch(`${base}/login`, { redirect: 'manual' });
  keep(form);
  const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1];
  if (!token) throw new Error('no CSRF token on /login');
  const login = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookie() },
    body: new URLSearchParams({ _csrf: token, username, password }).toString(),
  });
  keep(login);
  if (login.status !== 302 && login.status !== 303)
    throw new Error(`POST /login answered ${login.status}`);
  const res = await fetch(`${base}${page}`, { headers: { cookie: cookie() }, redirect: 'manual' });
  if (!res.ok) throw new Error(`GET ${page} answered ${res.status}`);
  return [await res.text()];
}

// ================================================================= main
process.on('SIGINT', () => {
  console.log('\nCtrl-C: stopping the services…');
  void stopAll().then(() => process.exit(0));
});
process.on('SIGTERM', () => void stopAll().then(() => process.exit(143)));

await main().catch((e) => fail(e?.stack ?? String(e)));

async function main() {
  console.log(
    `Meterstream demo "${NAME}" (run ${RUN}): database ${DB}, topic ${TOPIC}, AWS ${OWN_AWS ? 'private emulator' : 'stack emulator'} ${AWS_URL}`,
  );
  // ---------------------------------------------------------- 1. install, build, stack
  const marker = path.join(ROOT, 'node_modules', '.package-lock.json');
  const stale =
    !existsSync(marker) ||
    statSync(path.join(ROOT, 'package-lock.json')).mtimeMs > statSync(marker).mtimeMs;
  if (stale) {
    if (has('--no-install')) return fail('node_modules missing or stale; run npm ci');
    await runSync('install dependencies', 'npm', ['ci', '--no-audit', '--no-fund']);
  }
  if (!has('--no-build')) await runSync('build', 'npx', ['tsc', '-b']);
  if (!has('--no-stack'))
    await runSync('local stack', process.execPath, ['deploy/local/stack.mjs', 'up']);

  mkdirSync(DATA, { recursive: true });
  await stopLeftovers();
  const ports = Object.entries(PORTS).filter(([k]) => OWN_AWS || k !== 'aws');
  for (const [svc, port] of ports) {
    if (!(await portFree(port)))
      return fail(`port ${port} (${svc}) is in use: pass --port-base <p> to move the demo`);
  }
  mkdirSync(DATA, { recursive: true });
  mkdirSync(LOGS, { recursive: true });

  // ---------------------------------------------------------- 2. fresh database, AWS
  step(`fresh database ${DB}; topics of earlier "${NAME}" runs deleted`);
  await ch(`DROP DATABASE IF EXISTS ${DB}`, '');
  await ch(`CREATE DATABASE ${DB}`, '');
  await deleteOldTopics().catch((e) => info(`could not delete old topics: ${e.message}`));

  if (OWN_AWS) {
    step('private AWS emulator');
    const state = path.join(DATA, 'aws-state.json');
    rmSync(state, { force: true });
    startService('aws', path.join(ROOT, 'emulators/aws/dist/main.js'), {
      MS_AWS_PORT: String(PORTS.aws),
      MS_AWS_STATE_FILE: state,
      MS_AWS_CLOUDTRAIL_DELAY_MS: '2000',
    });
    await waitFor('the AWS emulator', () => ok(`${AWS_URL}/_admin/health`));
  }

  const { loadPlans } = await import(
    pathToFileURL(path.join(ROOT, 'packages/plans/dist/index.js')).href
  );
  const catalog = await loadPlans(PLANS_DIR);
  const subPlan = catalog.plans.find((p) => p.pricingModel === 'subscription');
  const conPlan = catalog.plans.find((p) => p.pricingModel === 'contract');
  if (!subPlan || !conPlan) return fail('plans/ needs a subscription and a contract product');
  const dimsAt = (plan, ms) =>
    catalog.versionAt(plan.productCode, new Date(ms)).dimensions.map((d) => d.name);

  if (FAULTS) {
    const faults = {
      seed: 7,
      throttlingRate: 0.15,
      internalErrorRate: 0.05,
      unprocessedRate: 0.1,
      dropResponseRate: 0.05,
      lookupThrottlingRate: 0.1,
    };
    await http('POST', `${AWS_URL}/_admin/faults`, faults);
    step(
      `AWS faults on: ${Object.entries(faults)
        .filter(([k]) => k !== 'seed')
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
  }
  step('register the demo products in the AWS emulator');
  for (const plan of [subPlan, conPlan]) {
    const dims = [...new Set(plan.versions.flatMap((v) => v.dimensions.map((d) => d.name)))];
    const licenseArn = plan.customerIdStyle === 'customerAwsAccountId';
    await http('PUT', `${AWS_URL}/_admin/products/${plan.productCode}`, {
      dimensions: dims,
      licenseArn,
    });
    info(
      `${plan.productCode} (${plan.pricingModel}): ${dims.join(', ')}${licenseArn ? ', LicenseArn required' : ''}`,
    );
  }

  // Customers whose keys cover every partition of the topic.
  let customers;
  for (let attempt = 0; ; attempt++) {
    const salt = attempt === 0 ? RUN : `${RUN}${attempt}`;
    const subs = ['acme', 'globex', 'initech', 'umbrella'].map((n) => ({
      plan: subPlan,
      id: `${n}-${salt}`,
      kind: 'identifier',
    }));
    const cons = [0, 1].map(() => {
      const acct = String(randomInt(100000, 999999)) + String(randomInt(100000, 999999));
      return {
        plan: conPlan,
        id: acct,
        kind: 'account',
        licenseArn: `arn:aws:license-manager::${acct}:license:l-${randomBytes(16).toString('hex')}`,
      };
    });
    const all = [...subs, ...cons];
    const covered = new Set(
      all.map((c) => partitionOf(`${c.plan.productCode}|${c.id}`, PARTITIONS)),
    );
    if (covered.size === PARTITIONS) {
      customers = all;
      break;
    }
    if (attempt > 200) return fail('could not spread customers over the partitions');
  }
  // Contract entitlements: one customer stays below, the other goes beyond.
  const entitlement = new Map();
  const [conA, conB] = customers.filter((c) => c.kind === 'account');
  entitlement.set(`${conA.id}|seats`, 40);
  entitlement.set(`${conA.id}|compute_hours`, 30);
  entitlement.set(`${conB.id}|seats`, 400);
  entitlement.set(`${conB.id}|compute_hours`, 2000);

  step('subscribe customers in the AWS emulator');
  const expiry = new Date(Date.now() + 365 * 24 * HOUR).toISOString();
  for (const c of customers) {
    await http('POST', `${AWS_URL}/_admin/subscriptions`, {
      productCode: c.plan.productCode,
      ...(c.kind === 'account'
        ? { customerAwsAccountId: c.id, licenseArn: c.licenseArn }
        : { customerIdentifier: c.id }),
    });
    if (c.kind === 'account') {
      for (const d of dimsAt(conPlan, Date.now())) {
        await http('POST', `${AWS_URL}/_admin/entitlements`, {
          productCode: c.plan.productCode,
          dimension: d,
          customerAwsAccountId: c.id,
          licenseArn: c.licenseArn,
          value: { integerValue: entitlement.get(`${c.id}|${d}`) ?? 0 },
          expirationDate: expiry,
        });
      }
    }
    info(
      `${c.plan.productCode}: ${c.kind === 'account' ? `account ${c.id} (${c.licenseArn.slice(0, 48)}…)` : c.id}` +
        (c.kind === 'account'
          ? `, entitled ${dimsAt(conPlan, Date.now())
              .map((d) => `${d} ${entitlement.get(`${c.id}|${d}`)}`)
              .join(', ')}`
          : '') +
        `, partition ${partitionOf(`${c.plan.productCode}|${c.id}`, PARTITIONS)}`,
    );
  }

  // ---------------------------------------------------------- 3. service configuration
  const common = {
    MS_LOG_LEVEL: 'info',
    MS_KAFKA_BROKERS: KAFKA,
    MS_KAFKA_CLIENT_ID: `meterstream-${NAME}`,
    MS_SCHEMA_REGISTRY_URL: REGISTRY,
    MS_USAGE_TOPIC: TOPIC,
    MS_USAGE_TOPIC_PARTITIONS: String(PARTITIONS),
    MS_CLICKHOUSE_URL: CH_URL,
    MS_CLICKHOUSE_DATABASE: DB,
    MS_AWS_ENDPOINT: AWS_URL,
    MS_AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    MS_AWS_SECRET_ACCESS_KEY: 'demo-secret',
    MS_SMTP_HOST: SMTP_HOST,
    MS_SMTP_PORT: SMTP_PORT,
  };
  const keysFile = path.join(DATA, 'ingest-keys.json');
  const usersFile = path.join(DATA, 'console-users.json');
  rmSync(keysFile, { force: true });
  rmSync(usersFile, { force: true });
  const envs = {
    ingest: {
      ...common,
      MS_INGEST_HOST: '127.0.0.1',
      MS_INGEST_PORT: String(PORTS.ingest),
      MS_PLANS_DIR: PLANS_DIR,
      MS_INGEST_KEYS_FILE: keysFile,
      MS_INGEST_KEYS_RELOAD_MS: '500',
    },
    aggregator: {
      ...common,
      MS_AGGREGATOR_GROUP_ID: `meterstream-aggregator-${NAME}-${RUN}`,
      MS_AGGREGATOR_OPS_PORT: String(PORTS.aggregator),
      MS_AGGREGATOR_GRACE_MS: String(GRACE_MS),
      MS_AGGREGATOR_IDLE_MS: String(IDLE_MS),
      MS_AGGREGATOR_TICK_MS: '1000',
      MS_AGGREGATOR_FENCE_MS: '6000',
      MS_AGGREGATOR_CH_TIMEOUT_MS: '5000',
      MS_AGGREGATOR_SESSION_TIMEOUT_MS: '10000',
      MS_AGGREGATOR_PLANS_DIR: PLANS_DIR,
    },
    submitter: {
      ...common,
      MS_PLANS_DIR: PLANS_DIR,
      MS_SUBMITTER_TICK_MS: '3000',
      MS_SUBMITTER_OWNERSHIP: 'static',
      MS_SUBMITTER_INSTANCE_ID: `${NAME}-${RUN}`,
      MS_SUBMITTER_OPS_PORT: String(PORTS.submitter),
      MS_SUBMITTER_LOOKBACK_HOURS: String(Math.max(HOURS + 4, 8)),
      MS_SMTP_FROM: 'meterstream-demo@seller.example',
    },
    auditor: {
      ...common,
      MS_AUDITOR_PORT: String(PORTS.auditor),
      MS_AUDITOR_INTERVAL_MS: '5000',
      MS_AUDITOR_DELIVERY_GRACE_MS: '60000',
      MS_AUDITOR_INITIAL_LOOKBACK_MS: String((HOURS + 3) * HOUR),
      MS_AUDITOR_RECONCILE_LOOKBACK_MS: String((HOURS + 3) * HOUR),
      MS_AUDITOR_RESCAN_EVERY_MS: '0',
      MS_AUDITOR_CHECKPOINT: `demo-${RUN}`,
      MS_AUDITOR_ALERT_EMAILS: 'sre@seller.example',
      MS_SMTP_FROM: 'meterstream-audit@seller.example',
    },
    console: {
      ...common,
      MS_CONSOLE_PORT: String(PORTS.console),
      MS_CONSOLE_HOST: '127.0.0.1',
      MS_CONSOLE_USERS_FILE: usersFile,
      MS_CONSOLE_SESSION_SECRET: randomBytes(32).toString('hex'),
      MS_CONSOLE_SECURE_COOKIES: 'false',
      MS_CONSOLE_PLANS_DIR: PLANS_DIR,
      MS_SUBMITTER_URL: `http://127.0.0.1:${PORTS.submitter}`,
    },
  };

  // ---------------------------------------------------------- 4. registry, keys, users
  step("customers and contracts in the submitter's registry (meterstream-submitter CLI)");
  const subCli = path.join(ROOT, 'services/submitter/dist/cli.js');
  // The contract period starts with the month of the oldest generated hour.
  const oldest = new Date(Date.now() - (HOURS + 2) * HOUR);
  const monthStart = new Date(
    Date.UTC(oldest.getUTCFullYear(), oldest.getUTCMonth(), 1),
  ).toISOString();
  for (const c of customers) {
    const extra =
      c.kind === 'account'
        ? ['--account', '--license-arn', c.licenseArn, '--period-start', monthStart]
        : [];
    cli(subCli, ['customers', 'add', c.plan.productCode, c.id, ...extra], envs.submitter);
  }
  const synced = cli(subCli, ['entitlements', 'sync', conPlan.productCode], envs.submitter);
  info(`${customers.length} customers added; ${synced.trim().split('\n').pop()}`);

  step('ingest API key (meterstream keys create)');
  const keyOut = cli(path.join(ROOT, 'services/ingest/dist/cli.js'), [
    'keys',
    'create',
    '--tenant',
    `demo-${RUN}`,
    '--products',
    `${subPlan.productCode},${conPlan.productCode}`,
    '--note',
    'npm run demo',
    '--json',
    '--file',
    keysFile,
  ]);
  const apiKey = JSON.parse(keyOut.trim().split('\n').pop()).key;
  info(`key ${apiKey.slice(0, 10)}… (stored hashed in ${path.relative(ROOT, keysFile)})`);

  step('console user (meterstream-console-add-user)');
  const password = `demo-${randomBytes(9).toString('base64url')}`;
  cli(
    path.join(ROOT, 'services/console/dist/add-user.js'),
    ['--file', usersFile, '--username', 'demo', '--role', 'operator'],
    {},
    `${password}\n`,
  );
  info(`user demo (operator)`);

  // ---------------------------------------------------------- 5. services
  // The generator's clock: hours H0-HOURS .. H0-1 must be complete, and the idle freeze of the last
  // one needs now ≥ H0 + grace.
  const minuteMs = Date.now() % HOUR;
  if (minuteMs < GRACE_MS + 30_000) {
    const wait = GRACE_MS + 30_000 - minuteMs;
    step(
      `the hour just began: waiting ${(wait / 1000).toFixed(0)} s so the last played hour can close`,
    );
    await sleep(wait);
  }
  const H0 = Date.now() - (Date.now() % HOUR);
  const hours = Array.from({ length: HOURS }, (_, i) => H0 - (HOURS - i) * HOUR);

  step('start ingest');
  startService('ingest', path.join(ROOT, 'services/ingest/dist/main.js'), envs.ingest);
  const INGEST = `http://127.0.0.1:${PORTS.ingest}`;
  await waitFor('ingest /readyz', () => ok(`${INGEST}/readyz`));
  // The aggregator freezes a partition's hours by processing time after it has been idle for
  // MS_AGGREGATOR_IDLE_MS: the generator must start before that (it does, within seconds).
  step('start aggregator, submitter, auditor, console');
  startService('aggregator', path.join(ROOT, 'services/aggregator/dist/main.js'), envs.aggregator);
  await waitFor('aggregator /readyz', () => ok(`http://127.0.0.1:${PORTS.aggregator}/readyz`));
  startService('submitter', path.join(ROOT, 'services/submitter/dist/main.js'), envs.submitter);
  startService('auditor', path.join(ROOT, 'services/auditor/dist/main.js'), envs.auditor);
  startService('console', path.join(ROOT, 'services/console/dist/main.js'), envs.console);
  // Their readiness is awaited after the generator: on a busy machine it can take longer than
  // the aggregator's idle time, and an idle freeze before the first event would move the whole
  // history into the current hour.

  // ---------------------------------------------------------- 6. the usage generator
  const sent = new Map(); // id → first event sent (what counts)
  const stats = new Map(); // product|customer|dimension → { events, dupes, late }
  let seq = 0;
  const st = (k) => {
    let s = stats.get(k);
    if (!s) stats.set(k, (s = { events: 0, dupes: 0, late: 0 }));
    return s;
  };
  const keyOfEv = (e) =>
    `${e.productCode}|${e.customerIdentifier ?? e.customerAwsAccountId}|${e.dimension}`;
  const qty = (dim) => {
    switch (dim) {
      case 'api_calls':
        return String(randomInt(20, 400));
      case 'storage_gb_hours':
        return `${randomInt(0, 12)}.${String(randomInt(0, 1000)).padStart(3, '0')}`;
      case 'exports':
        return String(randomInt(0, 2));
      case 'seats':
        return String(randomInt(0, 3));
      case 'compute_hours':
        return `${randomInt(0, 4)}.${randomInt(0, 100)}`;
      default:
        return '1';
    }
  };
  const makeEvent = (c, dimension, ts) => ({
    id: `demo-${RUN}-${++seq}`,
    productCode: c.plan.productCode,
    ...(c.kind === 'account' ? { customerAwsAccountId: c.id } : { customerIdentifier: c.id }),
    dimension,
    quantity: qty(dimension),
    timestamp: new Date(ts).toISOString(),
    source: 'demo-saas-backend',
    attributes: { region: ['eu-west-1', 'us-east-1'][seq % 2] },
  });

  let requests = 0;
  async function post(events, { dupe = false, late = false } = {}) {
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(`${INGEST}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
        body: JSON.stringify(events),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      if (res.status === 202) break;
      // 503: Kafka was slow; re-send the same ids, as a real backend would.
      if (res.status === 503 && attempt < 10) {
        await sleep(1000);
        continue;
      }
      throw new Error(`ingest answered ${res.status}: ${text.slice(0, 300)}`);
    }
    requests++;
    for (const e of events) {
      const s = st(keyOfEv(e));
      s.events++;
      if (sent.has(e.id)) s.dupes++;
      else {
        sent.set(e.id, e);
        if (late) s.late++;
      }
    }
    return dupe;
  }

  /** Events of every customer and dimension, spread over [from, to). */
  function eventsBetween(from, to, perKey) {
    const out = [];
    for (const c of customers) {
      for (const d of dimsAt(c.plan, from)) {
        for (let i = 0; i < perKey; i++) out.push(makeEvent(c, d, from + randomInt(0, to - from)));
      }
    }
    return out.sort((a, b) => a.timestamp.localeCompare(b.timestamp));
  }

  step(
    `usage generator: simulated clock replays ${hhmm(hours[0])}–${hhmm(H0)} UTC (the last ${HOURS} complete hours) over HTTP to ingest`,
  );
  const history = hours.slice(0, -1);
  const lastHour = hours[hours.length - 1];
  let dupesSent = 0;
  for (const h of history) {
    const evs = eventsBetween(h, h + HOUR, 12);
    for (let i = 0; i < evs.length; i += 50) await post(evs.slice(i, i + 50));
    // Re-sends of the same ids (a backend retrying after a lost answer): count once.
    const again = [...sent.values()].filter(() => Math.random() < 0.04).slice(0, 12);
    for (const e of again) {
      await post([e], { dupe: true });
      dupesSent++;
    }
    info(
      `sim ${hhmm(h)}–${hhmm(h + HOUR)}: ${evs.length} events in ${Math.ceil(evs.length / 50)} requests, ${again.length} re-sent ids`,
    );
  }

  // The last hour, played as a trickle (a simulated minute every ~0.4 s), with late events for
  // hours the aggregator has already frozen.
  const frozenOnAll = async (h) => {
    const r = await chRows(
      `SELECT uniqExact(kafka_partition) AS n FROM window_freezes WHERE hour = toDateTime(${Math.floor(h / 1000)})`,
    );
    return Number(r[0]?.n ?? 0) >= PARTITIONS;
  };
  const lateTarget = history.length > 0 ? history[0] : undefined;
  let lateSent = 0;
  let lateDone = lateTarget === undefined;
  const trickleMinutes = 60;
  info(
    `sim ${hhmm(lastHour)}–${hhmm(lastHour + HOUR)}: live trickle${lateTarget !== undefined ? `; late events for ${hhmm(lateTarget)} once that hour is frozen` : ''}`,
  );
  let trickled = 0;
  for (let minute = 0; minute < trickleMinutes || !lateDone; minute++) {
    const ts = lastHour + Math.min(minute, 59) * 60_000 + randomInt(0, 60_000);
    const batch = customers.map((c) => {
      const dims = dimsAt(c.plan, ts);
      return makeEvent(c, dims[randomInt(0, dims.length)], ts);
    });
    await post(batch);
    trickled += batch.length;
    if (minute % 7 === 3) {
      const e = [...sent.values()][randomInt(0, sent.size)];
      await post([e], { dupe: true });
      dupesSent++;
    }
    if (!lateDone && minute % 5 === 0 && (await frozenOnAll(lateTarget))) {
      const late = eventsBetween(lateTarget, lateTarget + HOUR, 1);
      await post(late, { late: true });
      lateSent += late.length;
      lateDone = true;
      info(
        `hour ${hhmm(lateTarget)} is frozen on every partition: sent ${late.length} late events for it (carried into the next open hour)`,
      );
    }
    if (minute > trickleMinutes + 150) return fail(`hour ${hhmm(lateTarget)} never froze`);
    if (minute % 15 === 14)
      info(`sim ${hhmm(lastHour + minute * 60_000)}: ${trickled} trickle events so far`);
    await sleep(400);
  }
  info(
    `generator done: ${sent.size} unique events, ${dupesSent} re-sent ids, ${lateSent} late, ${requests} requests`,
  );

  await waitFor('submitter /readyz', () => ok(`http://127.0.0.1:${PORTS.submitter}/readyz`));
  await waitFor('auditor /readyz', () => ok(`http://127.0.0.1:${PORTS.auditor}/readyz`));
  await waitFor('console /readyz', () => ok(`http://127.0.0.1:${PORTS.console}/readyz`));

  // ---------------------------------------------------------- 7. expected values
  const expected = new Map(); // key → { usage micros, expected billed }
  for (const e of sent.values()) {
    const k = keyOfEv(e);
    expected.set(k, (expected.get(k) ?? 0n) + toMicros(e.quantity));
  }
  const rowsSpec = [];
  for (const c of customers) {
    const dims = [...new Set([...dimsAt(c.plan, hours[0]), ...dimsAt(c.plan, lastHour)])];
    for (const d of dims) {
      const k = `${c.plan.productCode}|${c.id}|${d}`;
      const usage = expected.get(k) ?? 0n;
      let billable = usage;
      let ent;
      if (c.kind === 'account') {
        ent = BigInt(entitlement.get(`${c.id}|${d}`) ?? 0) * MICROS;
        billable = usage > ent ? usage - ent : 0n;
      }
      rowsSpec.push({ c, d, k, usage, ent, expectedBilled: billable / MICROS });
    }
  }

  // ---------------------------------------------------------- 8. wait for billing and audit
  step(
    `waiting for the aggregator to freeze ${hhmm(lastHour)} (idle partitions), the submitter to send and the auditor to read CloudTrail`,
  );
  const custList = customers.map((c) => chStr(c.id)).join(',');
  async function collect() {
    const [ledger, windows, trail, findings, lates, allFindings] = await Promise.all([
      chRows(`SELECT product_code, customer, dimension,
                countIf(st = 'accepted') AS recs, sumIf(q, st = 'accepted') AS qty,
                countIf(st != 'accepted') AS open, groupUniqArray(st) AS states
              FROM (SELECT product_code, customer, dimension, hour,
                      argMax(state, version) AS st, argMax(quantity, version) AS q
                    FROM ledger WHERE customer IN (${custList})
                    GROUP BY product_code, customer, dimension, hour)
              GROUP BY product_code, customer, dimension`).catch(() => []),
      chRows(`SELECT product_code, customer, dimension, count() AS n,
                sum(quantity_micros) AS micros, sum(late_quantity_micros) AS late_micros
              FROM usage_windows WHERE customer IN (${custList})
              GROUP BY product_code, customer, dimension`).catch(() => []),
      chRows(`SELECT product_code, customer, dimension, count() AS recs, sum(q) AS qty
              FROM (SELECT product_code, customer, dimension, hour, any(quantity) AS q
                    FROM cloudtrail_records
                    WHERE customer IN (${custList}) AND status = 'Success'
                    GROUP BY product_code, customer, dimension, hour)
              GROUP BY product_code, customer, dimension`).catch(() => []),
      chRows(`SELECT product_code, customer, dimension, groupArray(kind) AS kinds
              FROM (SELECT finding_id, argMax(kind, version) AS kind, argMax(status, version) AS status,
                      argMax(product_code, version) AS product_code, argMax(customer, version) AS customer,
                      argMax(dimension, version) AS dimension
                    FROM audit_findings GROUP BY finding_id)
              WHERE status != 'resolved' AND customer IN (${custList})
              GROUP BY product_code, customer, dimension`).catch(() => []),
      // An event counts in the billing hour of its first row (ADR 0002): late when that is
      // after its own hour. Re-sent ids of old hours are duplicates, not late usage.
      chRows(`SELECT product_code, customer, dimension, count() AS n
              FROM (SELECT product_code, customer, id, argMin(dimension, kafka_offset) AS dimension,
                      min(billing_hour) AS bh, min(event_hour) AS eh
                    FROM usage_events WHERE customer IN (${custList})
                    GROUP BY product_code, customer, id)
              WHERE bh > eh GROUP BY product_code, customer, dimension`).catch(() => []),
      chRows(`SELECT kind, count() AS n FROM (SELECT finding_id, argMax(kind, version) AS kind,
                argMax(status, version) AS status FROM audit_findings GROUP BY finding_id)
              WHERE status = 'open' GROUP BY kind`).catch(() => []),
    ]);
    const billing = new Map();
    for (const plan of [subPlan, conPlan]) {
      const b = await http(
        'GET',
        `${AWS_URL}/_admin/billing?productCode=${encodeURIComponent(plan.productCode)}`,
      );
      for (const r of b.records) {
        const cust = r.customerAwsAccountId ?? r.customerIdentifier;
        const k = `${r.productCode}|${cust}|${r.dimension}`;
        const v = billing.get(k) ?? { recs: 0, qty: 0n };
        v.recs++;
        v.qty += BigInt(String(r.quantity).split('.')[0]);
        billing.set(k, v);
      }
    }
    const by = (rows) =>
      new Map(rows.map((r) => [`${r.product_code}|${r.customer}|${r.dimension}`, r]));
    const L = by(ledger);
    const W = by(windows);
    const C = by(trail);
    const F = by(findings);
    const LT = by(lates);
    const rows = rowsSpec.map((s) => {
      const l = L.get(s.k);
      const w = W.get(s.k);
      const ct = C.get(s.k);
      const f = F.get(s.k);
      const b = billing.get(s.k) ?? { recs: 0, qty: 0n };
      const stat = stats.get(s.k) ?? { events: 0, dupes: 0, late: 0 };
      const ledgerQty = BigInt(l?.qty ?? 0);
      const ctQty = BigInt(ct?.qty ?? 0);
      const windowMicros = BigInt(w?.micros ?? 0);
      const row = {
        product: s.c.plan.productCode,
        customer: s.c.id,
        dimension: s.d,
        events: stat.events,
        duplicates: stat.dupes,
        late: Number(LT.get(s.k)?.n ?? 0),
        uniqueQuantity: fmtMicros(s.usage),
        entitlement: s.ent === undefined ? null : fmtMicros(s.ent),
        windows: Number(w?.n ?? 0),
        windowQuantity: fmtMicros(windowMicros),
        recordsSent: Number(l?.recs ?? 0),
        recordsOpen: Number(l?.open ?? 0),
        expectedBilled: Number(s.expectedBilled),
        ledgerQuantity: Number(ledgerQty),
        billed: Number(b.qty),
        cloudTrailRecords: Number(ct?.recs ?? 0),
        cloudTrailQuantity: Number(ctQty),
        findings: f ? f.kinds : [],
      };
      row.matched =
        windowMicros === s.usage &&
        row.recordsOpen === 0 &&
        row.recordsSent > 0 &&
        b.qty === s.expectedBilled &&
        ledgerQty === s.expectedBilled &&
        ctQty === s.expectedBilled &&
        row.cloudTrailRecords === row.recordsSent &&
        row.findings.length === 0;
      return row;
    });
    return { rows, allFindings };
  }

  const settleUntil = Date.now() + TIMEOUT_S * 1000;
  let result;
  let lastLine = '';
  for (;;) {
    for (const p of procs) if (p.exited) return fail(`${p.name} died; see its log`);
    result = await collect();
    const n = result.rows.length;
    const windowsOk = result.rows.filter((r) => r.windowQuantity === r.uniqueQuantity).length;
    const sentOk = result.rows.filter(
      (r) => r.recordsOpen === 0 && r.ledgerQuantity === r.expectedBilled && r.recordsSent > 0,
    ).length;
    const billedOk = result.rows.filter((r) => r.billed === r.expectedBilled).length;
    const auditedOk = result.rows.filter((r) => r.matched).length;
    const line = `rows ${n}: windows complete ${windowsOk}, ledger sent ${sentOk}, billed ${billedOk}, audited ${auditedOk}`;
    if (line !== lastLine) info(line);
    lastLine = line;
    if (auditedOk === n) break;
    if (Date.now() > settleUntil) {
      console.error(`✖ not every row matched within ${TIMEOUT_S}s`);
      break;
    }
    await sleep(3000);
  }

  // The console: sign in as the demo user and open the contract product's contracts page.
  const consoleCheck = await signInToConsole(
    `http://127.0.0.1:${PORTS.console}`,
    'demo',
    password,
    `/listings/${encodeURIComponent(conPlan.productCode)}/contracts`,
  ).catch((e) => `failed: ${e.message}`);
  const consoleSees = customers.filter(
    (c) =>
      c.kind === 'account' && typeof consoleCheck === 'object' && consoleCheck[0].includes(c.id),
  ).length;

  // ---------------------------------------------------------- 9. the table
  const rows = result.rows;
  const allMatched = rows.every((r) => r.matched);
  const cols = [
    ['product', (r) => r.product],
    ['customer', (r) => r.customer],
    ['dimension', (r) => r.dimension],
    ['events', (r) => r.events],
    ['dup', (r) => r.duplicates],
    ['late', (r) => r.late],
    ['unique qty', (r) => r.uniqueQuantity],
    ['entitled', (r) => r.entitlement ?? '-'],
    ['windows', (r) => r.windows],
    ['records sent', (r) => r.recordsSent],
    ['expected', (r) => r.expectedBilled],
    ['billed (AWS)', (r) => r.billed],
    ['CloudTrail', (r) => r.cloudTrailQuantity],
    [
      'audit',
      (r) => (r.matched ? 'matched' : r.findings.length ? r.findings.join(',') : 'MISMATCH'),
    ],
  ];
  const cells = rows.map((r) => cols.map(([, f]) => String(f(r))));
  const widths = cols.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const fmt = (vals) =>
    vals
      .map((v, i) => (i < 3 || i === vals.length - 1 ? v.padEnd(widths[i]) : v.padStart(widths[i])))
      .join('  ');
  console.log('');
  console.log(fmt(cols.map(([h]) => h)));
  console.log(widths.map((w) => '─'.repeat(w)).join('  '));
  for (const c of cells) console.log(fmt(c));
  console.log('');
  console.log(
    `expected = floor(Σ unique usage) for subscriptions, floor(max(0, Σ unique usage − entitlement)) for contracts; ` +
      `computed by the demo from what it sent (deduplicated by event id).`,
  );
  const retried = await chRows(
    `SELECT count() AS n, countIf(a > 1) AS retried, max(a) AS most
     FROM (SELECT argMax(attempts, version) AS a FROM ledger WHERE customer IN (${custList})
           GROUP BY product_code, customer, dimension, hour)`,
  ).catch(() => []);
  if (retried[0])
    console.log(
      `ledger: ${retried[0].n} records, ${retried[0].retried} needed more than one BatchMeterUsage attempt (most: ${retried[0].most})`,
    );
  const foreign = result.allFindings.map((f) => `${f.kind} ${f.n}`).join(', ');
  console.log(
    `open audit findings in ${DB}: ${foreign || 'none'}${foreign && !OWN_AWS ? ' (the stack emulator is shared: findings on other customers are not this run’s)' : ''}`,
  );
  console.log(
    typeof consoleCheck === 'object'
      ? `console: signed in as demo; the contracts page lists ${consoleSees} of this run's 2 contract customers`
      : `console: sign-in ${consoleCheck}`,
  );
  console.log(
    allMatched
      ? `✔ every row matched (${rows.length} rows) in ${((Date.now() - T0) / 1000).toFixed(0)}s`
      : `✖ ${rows.filter((r) => !r.matched).length} of ${rows.length} rows did not match`,
  );
  if (JSON_OUT) {
    writeFileSync(
      JSON_OUT,
      JSON.stringify(
        {
          name: NAME,
          run: RUN,
          database: DB,
          topic: TOPIC,
          allMatched,
          ownAws: OWN_AWS,
          seconds: (Date.now() - T0) / 1000,
          openFindings: result.allFindings,
          console: {
            signedIn: typeof consoleCheck === 'object',
            contractCustomersListed: consoleSees,
          },
          rows,
        },
        null,
        2,
      ),
    );
  }

  if (ONCE) {
    await stopAll();
    process.exit(allMatched ? 0 : 1);
  }

  // ---------------------------------------------------------- 10. interactive
  console.log(`
Console:  http://127.0.0.1:${PORTS.console}   sign in as demo / ${password}
MailDev:  ${SMTP_WEB}   (submission notices and audit digests)
AWS:      ${AWS_URL}/_admin/billing   ${AWS_URL}/_admin/cloudtrail
Metrics:  ingest :${PORTS.ingest}  aggregator :${PORTS.aggregator}  submitter :${PORTS.submitter}  auditor :${PORTS.auditor}  console :${PORTS.console}  (/metrics)
Logs:     ${path.relative(ROOT, LOGS)}/demo${NAME === 'demo' ? '' : `-${NAME}`}-*.log
A live trickle of usage with real timestamps continues (billed after the current hour closes).
Ctrl-C stops the services.`);
  let live = 0;
  for (;;) {
    if (stopping) return;
    const c = customers[randomInt(0, customers.length)];
    const dims = dimsAt(c.plan, Date.now());
    try {
      await post([makeEvent(c, dims[randomInt(0, dims.length)], Date.now())]);
      live++;
      if (live % 30 === 0) info(`live: ${live} events sent in the current hour`);
    } catch (e) {
      if (!stopping) info(`live trickle: ${e.message}`);
    }
    await sleep(2000);
  }
}
