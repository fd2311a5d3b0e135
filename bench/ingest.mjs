// npm run bench:ingest [-- --client kafkajs|platformatic|both] — HTTP → ingest → Kafka throughput
// and ack latency, against the raw producer of the same Kafka client (@meterstream/kafka) on the
// same broker in the same run; with both clients (the default) one after the other. Needs the
// local stack and a build (`npx tsc -b services/ingest`). Writes bench/results/ingest-<date>.json
// (every run names its client).
//
// Env: MS_KAFKA_BROKERS, MS_SCHEMA_REGISTRY_URL, BENCH_SECONDS (per scenario, default 8),
//      BENCH_PORT (default 18480), BENCH_KAFKA_CLIENT (as --client), BENCH_CPU_PROF=1 (profile
//      the ingest process into bench/results/profiles/; summarize with bench/profile.mjs).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSchemaRegistry, registerAvro } from '@meterstream/kafka';
import { benchClients, benchKafka, benchTopic, log, round, sleep } from './lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const brokers = (process.env.MS_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const registryUrl = process.env.MS_SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const PORT = Number(process.env.BENCH_PORT ?? 18480);
const PARTITIONS = 6;
const CLIENTS = benchClients();

const pct = (sorted, p) =>
  sorted.length === 0
    ? null
    : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

const topic = `bench.ingest.${Date.now().toString(36)}.${randomBytes(3).toString('hex')}`;
const { admin } = await benchTopic({
  clientId: 'bench-ingest',
  brokers,
  topic,
  partitions: PARTITIONS,
});

// Events: demo-analytics, 50 customers, unique ids per pool entry.
let seq = 0;
const event = () => ({
  id: `b-${process.pid}-${seq++}`,
  productCode: 'demo-analytics',
  customerIdentifier: `customer-${seq % 50}`,
  dimension: 'api_calls',
  quantity: `${seq % 1000}.125`,
  timestamp: new Date(Date.now() - 30_000).toISOString(),
  attributes: { region: 'eu-west-1' },
});
const bodies = new Map();
const bodyPool = (batch) => {
  if (!bodies.has(batch))
    bodies.set(
      batch,
      Array.from({ length: 40 }, () =>
        Buffer.from(JSON.stringify(Array.from({ length: batch }, event))),
      ),
    );
  return bodies.get(batch);
};

// ---- raw producer baseline ------------------------------------------------------------------
const registry = createSchemaRegistry(registryUrl);
const schemaId = await registerAvro(
  registry,
  `${topic}-value`,
  JSON.parse(readFileSync(join(ROOT, 'schemas/avro/usage-event.avsc'), 'utf8')),
);

/** 20 ready batches of `batch` encoded events. */
async function encodedPool(batch) {
  const pool = [];
  for (let p = 0; p < 20; p++) {
    const msgs = [];
    for (let i = 0; i < batch; i++) {
      const e = event();
      const v = {
        ...e,
        licenseArn: null,
        customerAwsAccountId: null,
        timestamp: Date.parse(e.timestamp),
        allocations: [],
        source: 'bench',
        actor: null,
      };
      msgs.push({
        key: `${v.productCode}|${v.customerIdentifier}`,
        value: await registry.encode(schemaId, v),
        headers: { 'ms-kind': 'usage' },
      });
    }
    pool.push(msgs);
  }
  return pool;
}

/** The idempotent producer of `client` alone (acks=all), `concurrency` sends in flight. */
async function rawBaseline(client, batch, concurrency) {
  const pool = await encodedPool(batch);
  const producer = benchKafka(client, { clientId: 'bench-ingest-raw', brokers }).producer();
  await producer.connect();
  const lat = [];
  let events = 0;
  const end = Date.now() + SECONDS * 1000;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = w; Date.now() < end; i += concurrency) {
        const s = process.hrtime.bigint();
        await producer.send(topic, pool[i % pool.length]);
        lat.push(Number(process.hrtime.bigint() - s) / 1e6);
        events += batch;
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await producer.disconnect();
  lat.sort((a, b) => a - b);
  return {
    kind: 'raw-producer',
    batch,
    concurrency,
    eventsPerSec: round(events / secs, 0),
    p50Ms: round(pct(lat, 50), 2),
    p99Ms: round(pct(lat, 99), 2),
    sends: lat.length,
  };
}

// ---- ingest ---------------------------------------------------------------------------------
const dir = mkdtempSync(join(tmpdir(), 'bench-ingest-'));
const keysFile = join(dir, 'keys.json');
const cli = spawn('node', [
  join(ROOT, 'services/ingest/dist/cli.js'),
  'keys',
  'create',
  '--tenant',
  'bench',
  '--products',
  'demo-analytics',
  '--json',
  '--file',
  keysFile,
]);
let cliOut = '';
cli.stdout.on('data', (d) => (cliOut += d));
await new Promise((r) => cli.on('exit', r));
const apiKey = JSON.parse(cliOut).key;

/** Starts the ingest process with `client` and waits until it is ready. */
async function startIngest(client) {
  const args = [
    ...(process.env.BENCH_CPU_PROF
      ? [
          '--cpu-prof',
          `--cpu-prof-dir=${join(ROOT, 'bench/results/profiles')}`,
          `--cpu-prof-name=ingest-${client}-${Date.now()}.cpuprofile`,
        ]
      : []),
    join(ROOT, 'services/ingest/dist/main.js'),
  ];
  const proc = spawn('node', args, {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      MS_KAFKA_BROKERS: brokers.join(','),
      MS_KAFKA_CLIENT: client,
      MS_SCHEMA_REGISTRY_URL: registryUrl,
      MS_USAGE_TOPIC: topic,
      MS_INGEST_HOST: '127.0.0.1',
      MS_INGEST_PORT: String(PORT),
      MS_INGEST_KEYS_FILE: keysFile,
      MS_LOG_LEVEL: 'warn',
    },
  });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) return proc;
    } catch {
      /* not up yet */
    }
    if (i > 150) throw new Error('ingest did not become ready');
    await sleep(200);
  }
}

/** Stops the ingest process (SIGTERM: it drains first). */
async function stopIngest(proc) {
  if (proc.exitCode !== null) return;
  proc.kill('SIGTERM');
  await new Promise((r) => proc.on('exit', r));
}

const base = `http://127.0.0.1:${PORT}`;
/** The ingest process being measured. */
let ingest;

const rssMb = () => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${ingest?.pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
};
let rssMax = 0;
const rssTimer = setInterval(() => (rssMax = Math.max(rssMax, rssMb() ?? 0)), 200);

const agent = new Agent({ keepAlive: true, maxSockets: 256 });
function postBody(body) {
  return new Promise((resolve, reject) => {
    const s = process.hrtime.bigint();
    const req = request(
      `${base}/v1/events`,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${apiKey}`,
          'content-length': body.length,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - s) / 1e6 }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function summarize(kind, batch, concurrency, results, secs, extra = {}) {
  const ok = results.filter((r) => r.status === 202);
  const lat = ok.map((r) => r.ms).sort((a, b) => a - b);
  const statuses = {};
  for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  return {
    kind,
    batch,
    concurrency,
    eventsPerSec: round((ok.length * batch) / secs, 0),
    p50Ms: round(pct(lat, 50), 2),
    p99Ms: round(pct(lat, 99), 2),
    requests: results.length,
    statuses,
    ...extra,
  };
}

async function closedLoop(batch, concurrency) {
  const pool = bodyPool(batch);
  const results = [];
  rssMax = 0;
  const end = Date.now() + SECONDS * 1000;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = w; Date.now() < end; i += concurrency)
        results.push(await postBody(pool[i % pool.length]));
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return summarize('ingest-http', batch, concurrency, results, secs, {
    rssMaxMb: round(rssMax, 0),
  });
}

// Open loop: requests are started on a fixed schedule whatever the answers, so latency includes queueing.
async function offered(batch, eventsPerSec) {
  const pool = bodyPool(batch);
  const perSec = eventsPerSec / batch;
  const results = [];
  const inflight = [];
  rssMax = 0;
  const t0 = Date.now();
  const n = Math.round(perSec * SECONDS);
  for (let i = 0; i < n; i++) {
    const due = t0 + (i * 1000) / perSec;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    inflight.push(postBody(pool[i % pool.length]).then((r) => results.push(r)));
  }
  await Promise.all(inflight);
  const secs = (Date.now() - t0) / 1000;
  return summarize('ingest-http-offered', batch, null, results, secs, {
    offeredEventsPerSec: eventsPerSec,
    rssMaxMb: round(rssMax, 0),
  });
}

const runs = [];
const show = (r) => {
  // Other processes on the machine share its 2 cores: record how busy it was.
  r.loadAvg1m = round(loadavg()[0], 1);
  runs.push(r);
  log(
    `${r.client.padEnd(12)} ${r.kind.padEnd(20)} batch=${String(r.batch).padStart(4)} conc=${String(r.concurrency ?? '-').padStart(3)} ${r.offeredEventsPerSec ? `offered=${r.offeredEventsPerSec}/s ` : ''}` +
      `${String(r.eventsPerSec).padStart(7)} ev/s  p50=${r.p50Ms} ms  p99=${r.p99Ms} ms${r.rssMaxMb ? `  rss=${r.rssMaxMb} MB` : ''}${r.statuses ? `  ${JSON.stringify(r.statuses)}` : ''}  load=${r.loadAvg1m}`,
  );
};

/** Every scenario with one client: its raw producer, then ingest closed and open loop. */
async function benchClient(client) {
  const tagged = async (r) => show({ client, ...(await r) });
  ingest = await startIngest(client);
  try {
    // Warm up JIT, connections and the registry cache.
    await closedLoop(100, 4);
    await tagged(rawBaseline(client, 500, 4));
    await tagged(rawBaseline(client, 500, 16));
    await tagged(rawBaseline(client, 50, 16));
    for (const [batch, conc] of [
      [500, 4],
      [500, 16],
      [50, 16],
      [50, 64],
      [1, 64],
    ]) {
      await tagged(closedLoop(batch, conc));
    }
    await tagged(offered(500, 5_000));
    await tagged(offered(500, 20_000));
    await tagged(offered(100, 20_000));
  } finally {
    await stopIngest(ingest);
  }
  return clientSummary(client);
}

/** Ratios of one client's runs: ingest to its own raw producer, p99 and RSS against the targets. */
function clientSummary(client) {
  const mine = runs.filter((r) => r.client === client);
  const best = (kind, batch) =>
    Math.max(
      ...mine.filter((r) => r.kind === kind && r.batch === batch).map((r) => r.eventsPerSec),
    );
  const ratio = best('ingest-http', 500) / best('raw-producer', 500);
  const offered500 = mine.find(
    (r) => r.kind === 'ingest-http-offered' && r.batch === 500 && r.offeredEventsPerSec === 20_000,
  );
  const summary = {
    ratioAt500: round(ratio, 3),
    p99AtOffered20k: offered500?.p99Ms,
    targetP99Ms: 25,
    rawBestAt500: best('raw-producer', 500),
    ingestBestAt500: best('ingest-http', 500),
    rssMaxMb: Math.max(...mine.map((r) => r.rssMaxMb ?? 0)),
    targetRssMb: 300,
  };
  log(
    `\n${client}: ingest/raw throughput at 500 events/request: ${(ratio * 100).toFixed(1)} %; ` +
      `p99 ack at 20 000 events/s offered: ${summary.p99AtOffered20k} ms (target <= 25 ms); ` +
      `max RSS ${summary.rssMaxMb} MB (target <= 300 MB)\n`,
  );
  return summary;
}

try {
  const summary = {};
  for (const client of CLIENTS) summary[client] = await benchClient(client);
  if (summary.kafkajs && summary.platformatic) {
    summary.platformaticVsKafkajsIngestAt500 = round(
      summary.platformatic.ingestBestAt500 / summary.kafkajs.ingestBestAt500,
      2,
    );
  }
  const out = {
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      node: process.version,
      loadAvg: loadavg().map((x) => round(x, 1)),
    },
    clients: CLIENTS,
    secondsPerScenario: SECONDS,
    topic: { partitions: PARTITIONS },
    summary,
    runs,
  };
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  const file = join(ROOT, `bench/results/ingest-${out.date.slice(0, 10)}.json`);
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  log(`wrote ${file}`);
} finally {
  clearInterval(rssTimer);
  agent.destroy();
  if (ingest) await stopIngest(ingest);
  await admin.deleteTopics([topic]).catch(() => undefined);
  await admin.disconnect();
  rmSync(dir, { recursive: true, force: true });
}
