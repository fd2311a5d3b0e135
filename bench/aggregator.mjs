// npm run bench:aggregator [-- --client kafkajs|platformatic|both] — Kafka → aggregator →
// ClickHouse throughput (decode, raw-event insert, dedup and window freezing included) against a
// raw consumer of the same Kafka client (@meterstream/kafka) that only counts messages, on the same
// topic in the same run; with both clients (the default) one after the other, each with its own
// group and database. Needs the local stack and a build (`npx tsc -b services/aggregator`). Writes
// bench/results/aggregator-<date>.json (every result names its client).
//
// Env: MS_KAFKA_BROKERS, MS_SCHEMA_REGISTRY_URL, MS_CLICKHOUSE_URL, BENCH_EVENTS (default 1000000),
//      BENCH_PARTITIONS (default 6), BENCH_SOAK_SECONDS (default 0: no soak; e.g. 600 for 10 min),
//      BENCH_KAFKA_CLIENT (as --client), BENCH_NODE_ARGS (e.g. --cpu-prof for the aggregator).
import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createClient } from '@clickhouse/client';
import avro from 'avsc';
import { createSchemaRegistry, registerAvro } from '@meterstream/kafka';
import { USAGE_EVENT_SCHEMA } from '../services/aggregator/dist/wire.js';
import {
  HOUR_MS as HOUR,
  benchClients,
  benchKafka,
  benchTopic,
  log,
  round,
  sleep,
} from './lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const brokers = (process.env.MS_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const registryUrl = process.env.MS_SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
const chUrl = process.env.MS_CLICKHOUSE_URL ?? 'http://127.0.0.1:8123';
const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 6);
const SOAK_SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 0);
const CLIENTS = benchClients();

const tag = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const topic = `bench.aggregator.${tag}`;

const { admin } = await benchTopic({
  clientId: 'bench-aggregator',
  brokers,
  topic,
  partitions: PARTITIONS,
});
const schemaId = await registerAvro(
  createSchemaRegistry(registryUrl),
  `${topic}-value`,
  USAGE_EVENT_SCHEMA,
);
const type = avro.Type.forSchema(USAGE_EVENT_SCHEMA);
const head = Buffer.alloc(5);
head.writeInt32BE(schemaId, 1);

/** Realistic events: 5 % re-sent ids, 2 products × 1000 customers × 3 dimensions, 3 past hours. */
function makeMessages(n, startMs) {
  const out = [];
  const sent = [];
  for (let i = 0; i < n; i++) {
    if (sent.length > 0 && randomInt(100) < 5) {
      out.push(sent[randomInt(sent.length)]); // the same event re-sent (same id, key and content)
      continue;
    }
    const productCode = `prod${i % 2}`;
    const customer = `customer-${randomInt(1000)}`;
    const ev = {
      id: `b${i}-${randomBytes(4).toString('hex')}`,
      productCode,
      licenseArn: null,
      customerIdentifier: customer,
      customerAwsAccountId: null,
      dimension: ['requests', 'storage', 'seats'][i % 3],
      quantity: `${randomInt(100)}.${randomInt(1000)}`,
      timestamp: startMs + randomInt(3 * HOUR),
      allocations: [],
      source: 'bench',
      actor: null,
      attributes: { region: 'eu-west-1' },
    };
    const m = {
      key: `${productCode}|${customer}`,
      value: Buffer.concat([head, type.toBuffer(ev)]),
      headers: { 'ms-kind': 'usage' },
    };
    out.push(m);
    if (sent.length < 100_000) sent.push(m);
  }
  return out;
}

// Loading the topic is set-up, not what is measured: several sends in flight.
const producer = benchKafka(CLIENTS.at(-1), { clientId: 'bench-aggregator', brokers }).producer();
await producer.connect();
async function produce(messages) {
  const sends = [];
  for (let i = 0; i < messages.length; i += 5_000) {
    sends.push(producer.send(topic, messages.slice(i, i + 5_000)));
  }
  await Promise.all(sends);
}

log(`producing ${EVENTS} events to ${topic} (${PARTITIONS} partitions)`);
const t0 = Date.now();
for (let done = 0; done < EVENTS; done += 100_000) {
  await produce(makeMessages(Math.min(100_000, EVENTS - done), Date.now() - 5 * HOUR));
}
log(`produced in ${Date.now() - t0} ms`);

// Baseline: a raw consumer of the same client that only counts messages (same fetch settings).
async function rawBaseline(client) {
  const consumer = benchKafka(client, { clientId: 'bench-aggregator-raw', brokers }).consumer({
    groupId: `bench-raw-${client}-${tag}`,
    maxBytesPerPartition: 1024 * 1024,
    maxBytes: 10 * 1024 * 1024,
    maxWaitTimeMs: 250,
  });
  let count = 0;
  let first = 0;
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));
  await consumer.run({
    topics: [topic],
    fromBeginning: true,
    partitionsConsumedConcurrently: 6,
    eachBatch: async ({ batch, resolveOffset }) => {
      if (first === 0) first = Date.now();
      count += batch.messages.length;
      resolveOffset(batch.messages.at(-1).offset);
      if (count >= EVENTS) resolveDone(Date.now());
    },
  });
  const end = await done;
  await consumer.disconnect();
  // From the first batch on (joining is not measured); a load read in one batch has no rate.
  const seconds = (end - first) / 1000;
  return { events: count, seconds, eventsPerSecond: seconds > 0 ? round(count / seconds) : null };
}

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? round(Number(m[1]) / 1024, 1) : null;
  } catch {
    return null;
  }
}

async function metric(port, name) {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    let sum = 0;
    for (const line of text.split('\n'))
      if (line.startsWith(name)) sum += Number(line.split(' ').pop());
    return sum;
  } catch {
    return 0;
  }
}

/** Starts the aggregator process with `client` on its own group and database. */
function startAggregator(client, database, opsPort) {
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return spawn(process.execPath, [...nodeArgs, `${ROOT}services/aggregator/dist/main.js`], {
    env: {
      ...process.env,
      MS_KAFKA_BROKERS: brokers.join(','),
      MS_KAFKA_CLIENT: client,
      MS_SCHEMA_REGISTRY_URL: registryUrl,
      MS_CLICKHOUSE_URL: chUrl,
      MS_CLICKHOUSE_DATABASE: database,
      MS_USAGE_TOPIC: topic,
      MS_USAGE_TOPIC_PARTITIONS: String(PARTITIONS),
      MS_AGGREGATOR_GROUP_ID: `bench-agg-${client}-${tag}`,
      MS_AGGREGATOR_OPS_PORT: String(opsPort),
      MS_AGGREGATOR_FENCE_MS: '0',
      MS_AGGREGATOR_IDLE_MS: '2000',
      MS_AGGREGATOR_TICK_MS: '500',
      MS_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

const ch = createClient({ url: chUrl });
const q = async (query) => (await (await ch.query({ query, format: 'JSONEachRow' })).json())[0];

/** Waits until the aggregator counted every event; then until every hour with events is frozen. */
async function timeline(opsPort, database) {
  let first = 0;
  let end = 0;
  const deadline = Date.now() + 10 * 60_000;
  while (Date.now() < deadline) {
    const counted = await metric(opsPort, 'meterstream_aggregator_events_total');
    if (counted > 0 && first === 0) first = Date.now();
    if (counted >= EVENTS) {
      end = Date.now();
      break;
    }
    await sleep(250);
  }
  // End to end: until every hour with events is frozen (windows final), idle fallback included.
  let frozenAt = 0;
  while (Date.now() < deadline) {
    const r = await q(
      `SELECT count() AS pending FROM (SELECT kafka_partition, max(billing_hour) AS bh FROM ${database}.usage_events GROUP BY kafka_partition) AS e
       ANY LEFT JOIN (SELECT kafka_partition, max(hour) AS fh FROM ${database}.window_freezes GROUP BY kafka_partition) AS f USING kafka_partition
       WHERE fh < bh OR fh = toDateTime(0)`,
    ).catch(() => ({ pending: 1 }));
    if (Number(r.pending) === 0) {
      frozenAt = Date.now();
      break;
    }
    await sleep(200);
  }
  return { first, end, frozenAt };
}

/** What the aggregator's metrics and tables say after the run. */
async function aggregatorResult(opsPort, database, { first, end, frozenAt }, rss) {
  const windows = await q(
    `SELECT count() AS windows, sum(event_count) AS events FROM ${database}.usage_windows`,
  );
  const insert = (what) =>
    metric(
      opsPort,
      `meterstream_aggregator_clickhouse_insert_seconds_${what}{table="usage_events"}`,
    );
  const aggSeconds = (end - first) / 1000;
  return {
    eventsPerSecond: round(EVENTS / aggSeconds),
    seconds: aggSeconds,
    endToEndSeconds: (frozenAt - first) / 1000,
    endToEndEventsPerSecond: round(EVENTS / ((frozenAt - first) / 1000)),
    windows: Number(windows.windows),
    uniqueEventsInWindows: Number(windows.events),
    dedupHits: await metric(opsPort, 'meterstream_aggregator_dedup_hits_total'),
    rssMbMax: Math.max(...rss.map((r) => r.mb)),
    insertSecondsAvg: round((await insert('sum')) / (await insert('count')), 4),
    inserts: await insert('count'),
  };
}

/** Soak: keep producing fresh events (current hours) for SOAK_SECONDS and sample RSS. */
async function soak(child, opsPort) {
  log(`soak for ${SOAK_SECONDS}s…`);
  const soakStart = Date.now();
  const soakRss = [];
  let produced = 0;
  while (Date.now() - soakStart < SOAK_SECONDS * 1000) {
    await produce(makeMessages(50_000, Date.now() - 2 * HOUR));
    produced += 50_000;
    soakRss.push({ s: round((Date.now() - soakStart) / 1000), mb: rssMb(child.pid) });
  }
  await sleep(5000);
  const minute = (from, to) => soakRss.filter((r) => r.s >= from && r.s < to).map((r) => r.mb);
  const avg = (a) => (a.length ? round(a.reduce((x, y) => x + y, 0) / a.length, 1) : null);
  const out = {
    seconds: SOAK_SECONDS,
    produced,
    consumed: (await metric(opsPort, 'meterstream_aggregator_events_total')) - EVENTS,
    rssMbFirstMinuteAvg: avg(minute(0, 60)),
    rssMbLastMinuteAvg: avg(minute(SOAK_SECONDS - 60, SOAK_SECONDS + 1)),
    rssMbMax: Math.max(...soakRss.map((r) => r.mb)),
    samples: soakRss,
  };
  log(
    `  soak RSS first minute ${out.rssMbFirstMinuteAvg} MB, last minute ${out.rssMbLastMinuteAvg} MB, max ${out.rssMbMax} MB`,
  );
  return out;
}

/** The raw consumer, then the aggregator, with one client. */
async function benchClient(client) {
  log(`[${client}] raw consumer baseline…`);
  const baseline = await rawBaseline(client);
  log(`  ${baseline.eventsPerSecond} events/s`);
  log(`[${client}] aggregator…`);
  const database = `bench_aggregator_${client}_${tag}`;
  const opsPort = await freePort();
  const child = startAggregator(client, database, opsPort);
  const rss = [];
  const sampler = setInterval(() => {
    const r = rssMb(child.pid);
    if (r !== null) rss.push({ t: Date.now(), mb: r });
  }, 500);
  try {
    const times = await timeline(opsPort, database);
    const aggregator = await aggregatorResult(opsPort, database, times, rss);
    const result = {
      client,
      baseline,
      aggregator,
      ratioToRaw:
        baseline.eventsPerSecond === null
          ? null
          : round(aggregator.eventsPerSecond / baseline.eventsPerSecond, 3),
    };
    log(
      `  ${aggregator.eventsPerSecond} events/s (ratio ${result.ratioToRaw}), end-to-end ${aggregator.endToEndSeconds}s, RSS max ${aggregator.rssMbMax} MB`,
    );
    if (SOAK_SECONDS > 0) result.soak = await soak(child, opsPort);
    return result;
  } finally {
    clearInterval(sampler);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await ch.command({ query: `DROP DATABASE IF EXISTS ${database}` });
  }
}

const results = [];
try {
  for (const client of CLIENTS) results.push(await benchClient(client));
} finally {
  await producer.disconnect();
  await admin.deleteTopics([topic]).catch(() => undefined);
  await admin.disconnect();
  await ch.close();
}
const by = Object.fromEntries(results.map((r) => [r.client, r]));
const out = {
  benchmark: 'aggregator',
  date: new Date().toISOString(),
  machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
  clients: CLIENTS,
  events: EVENTS,
  partitions: PARTITIONS,
  duplicatesPct: 5,
  results,
  ...(by.kafkajs && by.platformatic
    ? {
        platformaticVsKafkajs: round(
          by.platformatic.aggregator.eventsPerSecond / by.kafkajs.aggregator.eventsPerSecond,
          2,
        ),
      }
    : {}),
};
mkdirSync(`${ROOT}bench/results`, { recursive: true });
const file = `${ROOT}bench/results/aggregator${SOAK_SECONDS > 0 ? '-soak' : ''}-${out.date.slice(0, 10)}.json`;
writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
log(`wrote ${file}`);
