// npm run bench -- kafka — raw Kafka throughput of both clients behind @meterstream/kafka's
// interface (kafkajs, @platformatic/kafka), against Kafka's own Java ProducerPerformance
// (kafka-tools, same broker, same run) as the limit line. Needs the local stack, a build
// (`npx tsc -b packages/kafka`), Java and Maven (the kafka-tools jars are resolved once into
// .stack/cache/kafka-tools-<version>/). Writes bench/results/kafka-clients-<date>.json.
//
// Produce: 200-byte values, 500 records a send, 8 sends in flight, acks=all, idempotent, a
// 6-partition topic, keys `product|customer` of 50 customers. Consume: one group member,
// eachBatch, 6 partitions at once, resolve + commit per batch, the records produced above.
//
// Env: MS_KAFKA_BROKERS, BENCH_KAFKA_RECORDS (per path, default 1 000 000),
//      BENCH_KAFKA_TOOLS_VERSION (default 4.4.0), BENCH_KAFKA_JAVA=0 (skip the Java producer),
//      BENCH_OUT (result file instead of bench/results/kafka-clients-<date>.json).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { createKafkaClient, KAFKA_CLIENT_KINDS } from '@meterstream/kafka';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const brokers = (process.env.MS_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const RECORDS = Number(process.env.BENCH_KAFKA_RECORDS ?? 1_000_000);
const TOOLS_VERSION = process.env.BENCH_KAFKA_TOOLS_VERSION ?? '4.4.0';
const JAVA = process.env.BENCH_KAFKA_JAVA !== '0';
const PARTITIONS = 6;
const BATCH = 500;
const IN_FLIGHT = 8;
const RECORD_BYTES = 200;

const log = (s) => process.stdout.write(`${s}\n`);
const round = (x, d = 0) => Math.round(x * 10 ** d) / 10 ** d;
const logger = pino({ level: 'warn' });
const tag = `${Date.now().toString(36)}.${randomBytes(3).toString('hex')}`;
const client = (kind) =>
  createKafkaClient({ client: kind, brokers, clientId: `bench-${kind}`, logger });
const admin = client('kafkajs').admin();
await admin.connect();
const topics = [];
const freshTopic = async (name) => {
  const topic = `bench.kafka.${name}.${tag}`;
  await admin.createTopic({ topic, partitions: PARTITIONS, replicationFactor: 1 });
  topics.push(topic);
  return topic;
};

// ---- Java ProducerPerformance --------------------------------------------------------------

/** kafka-tools and its runtime classpath from Maven Central, resolved once. */
function kafkaToolsClasspath() {
  const dir = join(ROOT, '.stack', 'cache', `kafka-tools-${TOOLS_VERSION}`);
  const marker = join(dir, '.complete');
  if (!existsSync(marker)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const pom = join(dir, 'pom.xml');
    writeFileSync(
      pom,
      `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>io.meterstream.bench</groupId><artifactId>kafka-tools-classpath</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>${TOOLS_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-nop</artifactId><version>2.0.17</version></dependency>
  </dependencies>
</project>
`,
    );
    log(`resolving org.apache.kafka:kafka-tools:${TOOLS_VERSION} with Maven into ${dir}…`);
    const r = spawnSync(
      'mvn',
      [
        '-q',
        '-B',
        '-f',
        pom,
        'dependency:copy-dependencies',
        '-DincludeScope=runtime',
        `-DoutputDirectory=${join(dir, 'libs')}`,
      ],
      { stdio: 'inherit' },
    );
    if (r.status !== 0) throw new Error('mvn could not resolve kafka-tools');
    if (!readdirSync(join(dir, 'libs')).some((f) => f.startsWith('kafka-tools-'))) {
      throw new Error(`maven resolved no kafka-tools jar into ${dir}/libs`);
    }
    writeFileSync(marker, `${TOOLS_VERSION}\n`);
  }
  return `${join(dir, 'libs')}/*`;
}

/** Runs ProducerPerformance; its last line is the summary ("N records sent, X records/sec …"). */
async function javaProducer(topic) {
  const args = [
    '-cp',
    kafkaToolsClasspath(),
    'org.apache.kafka.tools.ProducerPerformance',
    '--topic',
    topic,
    '--num-records',
    String(RECORDS),
    '--record-size',
    String(RECORD_BYTES),
    '--throughput',
    '-1',
    '--producer-props',
    `bootstrap.servers=${brokers.join(',')}`,
    'acks=all',
    'enable.idempotence=true',
  ];
  const out = await new Promise((resolve, reject) => {
    const p = spawn('java', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    p.stdout.on('data', (d) => (text += d));
    p.on('error', reject);
    p.on('exit', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`ProducerPerformance exited ${code}`)),
    );
  });
  const summary = out.trim().split('\n').pop() ?? '';
  const m = /([\d.]+) records\/sec/.exec(summary);
  if (!m) throw new Error(`cannot read ProducerPerformance output: ${summary}`);
  return {
    kind: 'produce',
    client: 'java-producer-performance',
    records: RECORDS,
    recordsPerSec: round(Number(m[1])),
    summary,
  };
}

// ---- our clients ------------------------------------------------------------------------------

const value = randomBytes(RECORD_BYTES);
const batchOf = (start) =>
  Array.from({ length: BATCH }, (_, i) => ({
    key: `bench-product|customer-${(start + i) % 50}`,
    value,
  }));

/** One measured path. */
const rate = (kind, client, records, seconds) => ({
  kind,
  client,
  records,
  seconds: round(seconds, 3),
  recordsPerSec: round(records / seconds),
});

async function produce(kind, topic) {
  const producer = client(kind).producer();
  await producer.connect();
  let next = 0;
  const started = process.hrtime.bigint();
  const loop = async () => {
    while (next < RECORDS) {
      const start = next;
      next += BATCH;
      await producer.send(topic, batchOf(start).slice(0, Math.min(BATCH, RECORDS - start)));
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, loop));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await producer.disconnect();
  return rate('produce', kind, RECORDS, seconds);
}

async function consume(kind, topic) {
  const consumer = client(kind).consumer({
    groupId: `bench-consume-${kind}-${tag}`,
    maxBytesPerPartition: 1024 * 1024,
    maxBytes: 10 * 1024 * 1024,
    maxWaitTimeMs: 250,
  });
  let count = 0;
  let first = 0n;
  let finish;
  const done = new Promise((r) => (finish = r));
  await consumer.run({
    topics: [topic],
    fromBeginning: true,
    partitionsConsumedConcurrently: PARTITIONS,
    eachBatch: async (ctx) => {
      if (first === 0n) first = process.hrtime.bigint();
      const last = ctx.batch.messages[ctx.batch.messages.length - 1];
      count += ctx.batch.messages.length;
      ctx.resolveOffset(last.offset);
      await consumer.commitOffsets([
        { topic, partition: ctx.batch.partition, offset: String(BigInt(last.offset) + 1n) },
      ]);
      if (count >= RECORDS) finish(process.hrtime.bigint());
    },
  });
  const end = await done;
  await consumer.disconnect();
  const seconds = Number(end - first) / 1e9;
  return rate('consume', kind, count, seconds);
}

const runs = [];
const show = (r) => {
  runs.push({ ...r, loadAvg1m: round(loadavg()[0], 2) });
  log(
    `${r.kind.padEnd(8)} ${r.client.padEnd(26)} ${String(r.recordsPerSec).padStart(9)} records/s  load=${round(loadavg()[0], 2)}`,
  );
};

try {
  if (JAVA) show(await javaProducer(await freshTopic('java')));
  const produced = {};
  for (const kind of KAFKA_CLIENT_KINDS) {
    produced[kind] = await freshTopic(`produce-${kind}`);
    show(await produce(kind, produced[kind]));
  }
  // Both consumers read the same records: the ones kafkajs produced.
  for (const kind of KAFKA_CLIENT_KINDS) show(await consume(kind, produced.kafkajs));

  const measured = (kind, c) => runs.find((r) => r.kind === kind && r.client === c)?.recordsPerSec;
  const java = measured('produce', 'java-producer-performance');
  const summary = {};
  for (const kind of KAFKA_CLIENT_KINDS) {
    summary[`${kind}ProduceVsJava`] = java ? round(measured('produce', kind) / java, 3) : null;
  }
  summary.platformaticVsKafkajsProduce = round(
    measured('produce', 'platformatic') / measured('produce', 'kafkajs'),
    3,
  );
  summary.platformaticVsKafkajsConsume = round(
    measured('consume', 'platformatic') / measured('consume', 'kafkajs'),
    3,
  );
  log('');
  for (const kind of KAFKA_CLIENT_KINDS) {
    if (java)
      log(
        `${kind} produce / Java ProducerPerformance: ${(summary[`${kind}ProduceVsJava`] * 100).toFixed(1)} %`,
      );
  }
  log(
    `platformatic / kafkajs: produce ${summary.platformaticVsKafkajsProduce}×, consume ${summary.platformaticVsKafkajsConsume}×`,
  );
  const date = new Date().toISOString();
  const machine = {
    cpus: cpus().length,
    node: process.version,
    loadAvg: loadavg().map((x) => round(x, 1)),
  };
  const out = {
    date,
    machine,
    settings: {
      records: RECORDS,
      partitions: PARTITIONS,
      batch: BATCH,
      inFlight: IN_FLIGHT,
      recordBytes: RECORD_BYTES,
      acks: 'all',
      idempotent: true,
      kafkaTools: TOOLS_VERSION,
    },
    summary,
    runs,
  };
  const file =
    process.env.BENCH_OUT ?? join(ROOT, `bench/results/kafka-clients-${date.slice(0, 10)}.json`);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  log(`wrote ${file}`);
} finally {
  await admin.deleteTopics(topics).catch(() => undefined);
  await admin.disconnect();
}
