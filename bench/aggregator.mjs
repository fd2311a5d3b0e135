// npm run bench -w @meterstream/aggregator — Kafka → aggregator → ClickHouse throughput (decode,
// raw-event insert, dedup and window freezing included) against a raw kafkajs consumer that only
// counts messages, on the same topic in the same run. Needs the local stack and a build
// (`npx tsc -b services/aggregator`). Writes bench/results/aggregator-<date>.json.
//
// Env: MS_KAFKA_BROKERS, MS_SCHEMA_REGISTRY_URL, MS_CLICKHOUSE_URL, BENCH_EVENTS (default 1000000),
//      BENCH_PARTITIONS (default 3), BENCH_SOAK_SECONDS (default 0: no soak; e.g. 600 for 10 min).
import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { createClient } from '@clickhouse/client';
import avro from 'avsc';
import { Partitioners } from 'kafkajs';
import { USAGE_EVENT_SCHEMA } from '../services/aggregator/dist/wire.js';
import { HOUR_MS as HOUR, benchTopic, log, round, sleep } from './lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const brokers = (process.env.MS_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const registryUrl = process.env.MS_SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
const chUrl = process.env.MS_CLICKHOUSE_URL ?? 'http://127.0.0.1:8123';
const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 6);
const SOAK_SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 0);

const tag = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const topic = `bench.aggregator.${tag}`;
const database = `bench_aggregator_${tag}`;

const { kafka, admin } = await benchTopic({
  clientId: 'bench-aggregator',
  brokers,
  topic,
  partitions: PARTITIONS,
});
const registry = new SchemaRegistry({ host: registryUrl });
const { id: schemaId } = await registry.register(
  { type: SchemaType.AVRO, schema: JSON.stringify(USAGE_EVENT_SCHEMA) },
  { subject: `${topic}-value` },
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
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
await producer.connect();
async function produce(messages) {
  const sends = [];
  for (let i = 0; i < messages.length; i += 5_000) {
    sends.push(producer.send({ topic, acks: 1, messages: messages.slice(i, i + 5_000) }));
  }
  await Promise.all(sends);
}

log(`producing ${EVENTS} events to ${topic} (${PARTITIONS} partitions)`);
const t0 = Date.now();
for (let done = 0; done < EVENTS; done += 100_000) {
  await produce(makeMessages(Math.min(100_000, EVENTS - done), Date.now() - 5 * HOUR));
}
log(`produced in ${Date.now() - t0} ms`);

// Baseline: a raw kafkajs consumer that only counts messages (same fetch settings).
async function rawBaseline() {
  const consumer = kafka.consumer({
    groupId: `bench-raw-${tag}`,
    maxBytesPerPartition: 1024 * 1024,
    maxBytes: 10 * 1024 * 1024,
    maxWaitTimeInMs: 250,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let count = 0;
  let first = 0;
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));
  await consumer.run({
    partitionsConsumedConcurrently: 6,
    eachBatch: async ({ batch }) => {
      if (first === 0) first = Date.now();
      count += batch.messages.length;
      if (count >= EVENTS) resolveDone(Date.now());
    },
  });
  const end = await done;
  await consumer.disconnect();
  return {
    events: count,
    seconds: (end - first) / 1000,
    eventsPerSecond: round(count / ((end - first) / 1000)),
  };
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

log('raw kafkajs consumer baseline…');
const baseline = await rawBaseline();
log(`  ${baseline.eventsPerSecond} events/s`);

log('aggregator…');
const opsPort = await freePort();
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
const child = spawn(process.execPath, [...nodeArgs, `${ROOT}services/aggregator/dist/main.js`], {
  env: {
    ...process.env,
    MS_KAFKA_BROKERS: brokers.join(','),
    MS_SCHEMA_REGISTRY_URL: registryUrl,
    MS_CLICKHOUSE_URL: chUrl,
    MS_CLICKHOUSE_DATABASE: database,
    MS_USAGE_TOPIC: topic,
    MS_AGGREGATOR_GROUP_ID: `bench-agg-${tag}`,
    MS_AGGREGATOR_OPS_PORT: String(opsPort),
    MS_AGGREGATOR_FENCE_MS: '0',
    MS_AGGREGATOR_IDLE_MS: '2000',
    MS_AGGREGATOR_TICK_MS: '500',
    MS_LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const rss = [];
const sampler = setInterval(() => {
  const r = rssMb(child.pid);
  if (r !== null) rss.push({ t: Date.now(), mb: r });
}, 500);
let first = 0;
let counted = 0;
let end = 0;
const deadline = Date.now() + 10 * 60_000;
while (Date.now() < deadline) {
  counted = await metric(opsPort, 'meterstream_aggregator_events_total');
  if (counted > 0 && first === 0) first = Date.now();
  if (counted >= EVENTS) {
    end = Date.now();
    break;
  }
  await sleep(250);
}
const ch = createClient({ url: chUrl });
const q = async (query) => (await (await ch.query({ query, format: 'JSONEachRow' })).json())[0];
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
const windows = await q(
  `SELECT count() AS windows, sum(event_count) AS events FROM ${database}.usage_windows`,
);
const aggSeconds = (end - first) / 1000;
const result = {
  benchmark: 'aggregator',
  date: new Date().toISOString(),
  machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
  events: EVENTS,
  partitions: PARTITIONS,
  duplicatesPct: 5,
  baseline,
  aggregator: {
    eventsPerSecond: round(EVENTS / aggSeconds),
    seconds: aggSeconds,
    endToEndSeconds: (frozenAt - first) / 1000,
    endToEndEventsPerSecond: round(EVENTS / ((frozenAt - first) / 1000)),
    windows: Number(windows.windows),
    uniqueEventsInWindows: Number(windows.events),
    dedupHits: await metric(opsPort, 'meterstream_aggregator_dedup_hits_total'),
    rssMbMax: Math.max(...rss.map((r) => r.mb)),
    insertSecondsAvg: round(
      (await metric(
        opsPort,
        'meterstream_aggregator_clickhouse_insert_seconds_sum{table="usage_events"}',
      )) /
        (await metric(
          opsPort,
          'meterstream_aggregator_clickhouse_insert_seconds_count{table="usage_events"}',
        )),
      4,
    ),
    inserts: await metric(
      opsPort,
      'meterstream_aggregator_clickhouse_insert_seconds_count{table="usage_events"}',
    ),
  },
  ratioToRaw: round(EVENTS / aggSeconds / baseline.eventsPerSecond, 3),
};
log(
  `  ${result.aggregator.eventsPerSecond} events/s (ratio ${result.ratioToRaw}), end-to-end ${result.aggregator.endToEndSeconds}s, RSS max ${result.aggregator.rssMbMax} MB`,
);

if (SOAK_SECONDS > 0) {
  // Soak: keep producing fresh events (current hours) for SOAK_SECONDS and sample RSS.
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
  result.soak = {
    seconds: SOAK_SECONDS,
    produced,
    consumed: (await metric(opsPort, 'meterstream_aggregator_events_total')) - EVENTS,
    rssMbFirstMinuteAvg: avg(minute(0, 60)),
    rssMbLastMinuteAvg: avg(minute(SOAK_SECONDS - 60, SOAK_SECONDS + 1)),
    rssMbMax: Math.max(...soakRss.map((r) => r.mb)),
    samples: soakRss,
  };
  log(
    `  soak RSS first minute ${result.soak.rssMbFirstMinuteAvg} MB, last minute ${result.soak.rssMbLastMinuteAvg} MB, max ${result.soak.rssMbMax} MB`,
  );
}
clearInterval(sampler);

child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
await producer.disconnect();
await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
await admin.disconnect();
await ch.command({ query: `DROP DATABASE IF EXISTS ${database}` });
await ch.close();

mkdirSync(`${ROOT}bench/results`, { recursive: true });
const file = `${ROOT}bench/results/aggregator${SOAK_SECONDS > 0 ? '-soak' : ''}-${new Date().toISOString().slice(0, 10)}.json`;
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
log(`wrote ${file}`);
