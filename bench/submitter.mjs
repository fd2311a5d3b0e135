// Submitter benchmark: one hour of N customers × 5 dimensions (most records zero) frozen into the
// ledger and accepted by the AWS emulator, end to end, with the emulator's request rate beside it.
//
//   node bench/submitter.mjs [customers=100000] [--concurrency 8] [--wave 5000]
//   node bench/submitter.mjs --quota 10 [customers=2000]
//
// Without --quota the emulator enforces no quota and the submitter's limiter is off
// (MS_SUBMITTER_AWS_RPS=0): it measures the submitter itself. With --quota N both are on at N
// requests a second (AWS: 10, ADR 0008): it measures records a second against the physical limit
// (N × 25) and extrapolates the time to drain one hour of 100 000 customers × 5 dimensions.
//
// Needs the local stack's ClickHouse (npm run stack:up). Builds the submitter and the emulator,
// starts the emulator in this process, spawns `node services/submitter/dist/main.js`, and writes
// bench/results/submitter-<date>.json.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HOUR_MS, benchKafka, hourStart, sleep } from './lib.mjs';

const root = fileURLToPath(new URL('../', import.meta.url));
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const QUOTA = Number(opt('--quota', '0'));
if (!Number.isInteger(QUOTA) || QUOTA < 0) throw new Error('--quota takes a whole number ≥ 0');
const CUSTOMERS = Number(
  args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--quota') ?? (QUOTA ? 2_000 : 100_000),
);
const DIMENSIONS = ['api', 'storage', 'exports', 'seats', 'gpu'];
const CONCURRENCY = opt('--concurrency', '8');
const WAVE = opt('--wave', '5000');
const USAGE_PARTITIONS = 6;

execFileSync('npx', ['tsc', '-b', 'services/submitter', 'emulators/aws'], {
  cwd: root,
  stdio: 'inherit',
});
const { ClickHouse, allowIdentifiers, ident } = await import('@meterstream/clickhouse');
const { TABLES, SUBMITTER_MIGRATIONS } = await import('../services/submitter/dist/index.js');
const { migrate } = await import('@meterstream/clickhouse');
const { startEmulator } = await import('../emulators/aws/dist/index.js');

const chUrl = `http://127.0.0.1:${process.env.MS_CLICKHOUSE_HTTP_PORT ?? 8123}`;
const database = `bench_submitter_${Date.now().toString(36)}`;
allowIdentifiers(database, 'usage_windows', 'window_freezes', 'subscriptions', 'ledger');
const admin = new ClickHouse({ url: chUrl });
await admin.command(`CREATE DATABASE ${database}`);
await admin.close();
const ch = new ClickHouse({ url: chUrl, database, requestTimeoutMs: 300_000 });
// The aggregator's tables the submitter reads, from their contracts.
const single = { database, topology: { kind: 'single' } };
for (const t of [TABLES.usageWindows, TABLES.windowFreezes])
  for (const stmt of t.create(single)) await ch.command(stmt);
await migrate(ch, 'submitter', SUBMITTER_MIGRATIONS, { database, topology: { kind: 'single' } });

// The submitter checks the usage topic's real partition count at start: give it its own topic.
const { ensureTopic } = await import('@meterstream/kafka');
const brokers = process.env.MS_KAFKA_BROKERS ?? `127.0.0.1:${process.env.MS_KAFKA_PORT ?? 9092}`;
const topic = `bench.submitter.${Date.now().toString(36)}`;
const kafkaAdmin = benchKafka('kafkajs', {
  clientId: 'bench-submitter',
  brokers: brokers.split(','),
}).admin();
await kafkaAdmin.connect();
await ensureTopic(kafkaAdmin, { topic, partitions: USAGE_PARTITIONS, replicationFactor: 1 });

// Plans: one product with five dimensions.
const plansDir = mkdtempSync(join(tmpdir(), 'bench-plans-'));
writeFileSync(
  join(plansDir, 'bench.yaml'),
  `productCode: bench-product\nname: Bench\npricingModel: subscription\nversions:\n  - effectiveFrom: 2025-01-01T00:00:00Z\n    dimensions:\n` +
    DIMENSIONS.map((d) => `      - { name: ${d}, unit: u, pricePerUnit: "0.01" }\n`).join(''),
);

// Emulator in this process. Subscriptions go straight into its state: its admin API replaces a
// subscription with a linear scan, which would make loading 100 000 of them quadratic.
let requests = 0;
let firstRequest = 0;
let lastRequest = 0;
const emu = await startEmulator({
  port: 0,
  seed: 1,
  meteringRps: QUOTA,
  onExchange: (e) => {
    if (e.operation !== 'BatchMeterUsage') return;
    requests++;
    lastRequest = Date.now();
    if (!firstRequest) firstRequest = lastRequest;
  },
});
emu.core.putProduct({ productCode: 'bench-product', dimensions: DIMENSIONS, licenseArn: false });
const customers = Array.from(
  { length: CUSTOMERS },
  (_, i) => `bench-${String(i).padStart(7, '0')}`,
);
for (const c of customers)
  emu.core.state.subscriptions.push({ productCode: 'bench-product', customerIdentifier: c });

// ClickHouse: subscriptions, ~10 % of customers with usage on 2 dimensions, the hour frozen.
const hour = hourStart(Date.now()) - 2 * HOUR_MS;
const s = (ms) => Math.floor(ms / 1000);
const now = s(Date.now());
await ch.insert(
  ident(`${database}.subscriptions`),
  customers.map((c, i) => ({
    product_code: 'bench-product',
    customer: c,
    customer_kind: 'identifier',
    license_arn: '',
    buyer_name: '',
    agreement_id: '',
    status: 'active',
    period_start: 0,
    period_end: s(Date.UTC(2100, 0, 1)),
    source: 'cli',
    updated_at: now,
    version: String(i + 1),
  })),
);
const windows = [];
for (let i = 0; i < CUSTOMERS; i += 10) {
  for (const d of DIMENSIONS.slice(0, 2)) {
    windows.push({
      product_code: 'bench-product',
      customer: customers[i],
      customer_kind: 'identifier',
      dimension: d,
      hour: s(hour),
      quantity_micros: String(((i % 97) + 1) * 1_000_000 + 250_000),
      event_count: 1,
      late_quantity_micros: 0,
      first_event_at: s(hour),
      last_event_at: s(hour),
      frozen_at: now,
      freeze_kind: 'watermark',
      kafka_partition: i % USAGE_PARTITIONS,
    });
  }
}
await ch.insert(ident(`${database}.usage_windows`), windows);
await ch.insert(
  ident(`${database}.window_freezes`),
  Array.from({ length: USAGE_PARTITIONS }, (_, p) => ({
    kafka_partition: p,
    hour: s(hour),
    frozen_at: now,
    watermark: now,
  })),
);

const total = CUSTOMERS * DIMENSIONS.length;
console.log(
  `bench: ${CUSTOMERS} customers × ${DIMENSIONS.length} dimensions = ${total} records, ${windows.length} with usage`,
);

const started = Date.now();
const child = spawn(process.execPath, [join(root, 'services/submitter/dist/main.js')], {
  cwd: root,
  env: {
    PATH: process.env.PATH ?? '',
    MS_CLICKHOUSE_URL: chUrl,
    MS_CLICKHOUSE_DATABASE: database,
    MS_KAFKA_BROKERS: brokers,
    MS_USAGE_TOPIC: topic,
    MS_USAGE_TOPIC_PARTITIONS: String(USAGE_PARTITIONS),
    MS_AWS_ENDPOINT: emu.url,
    MS_AWS_ACCESS_KEY_ID: 'AKIDBENCH',
    MS_AWS_SECRET_ACCESS_KEY: 'secret',
    MS_PLANS_DIR: plansDir,
    MS_SUBMITTER_OWNERSHIP: 'static',
    MS_SUBMITTER_TICK_MS: '1000',
    MS_SUBMITTER_CONCURRENCY: CONCURRENCY,
    MS_SUBMITTER_WAVE_SIZE: WAVE,
    MS_SUBMITTER_AWS_RPS: String(QUOTA),
    MS_SUBMITTER_OPS_PORT: '0',
    MS_LOG_LEVEL: 'debug',
    NODE_OPTIONS: '--max-old-space-size=3072',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
// The submitter logs each wave's timings at debug level: ledger writes vs. time inside AWS calls.
const waves = [];
let freezeMs = null;
let pending = '';
child.stdout.on('data', (chunk) => {
  pending += chunk.toString();
  const lines = pending.split('\n');
  pending = lines.pop() ?? '';
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    const e = JSON.parse(line);
    if (e.msg === 'wave done') {
      waves.push({
        records: e.records,
        markSendingMs: e.markSendingMs,
        callsMs: e.callsMs,
        writeResultsMs: e.writeResultsMs,
      });
    } else if (e.msg === 'freeze done' && e.frozen > 0) freezeMs = e.freezeMs;
    else if (e.level === 'warn' || e.level === 'error' || e.level === 'fatal')
      process.stderr.write(`${line}\n`);
  }
});

let frozenAt = 0;
let counts = {};
for (;;) {
  await sleep(2000);
  let rows;
  try {
    rows = await ch.query(
      `SELECT state, count() AS n FROM ${database}.ledger FINAL GROUP BY state`,
    );
  } catch (err) {
    process.stdout.write(`  poll failed (${err.message}); retrying\n`);
    continue;
  }
  counts = Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  const all = Object.values(counts).reduce((a, b) => a + b, 0);
  if (!frozenAt && all >= total) frozenAt = Date.now();
  process.stdout.write(
    `  ${((Date.now() - started) / 1000).toFixed(0)} s ${JSON.stringify(counts)} emulator requests ${requests}\n`,
  );
  if ((counts.accepted ?? 0) >= total) break;
  if (child.exitCode !== null) throw new Error(`submitter exited with ${child.exitCode}`);
  if (Date.now() - started > 60 * 60_000) throw new Error('bench timed out after 60 minutes');
}
const finished = Date.now();
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));

const billed = emu.core.state.billing.length;
const sum = (k) => waves.reduce((a, w) => a + w[k], 0) / 1000;

/**
 * At the quota: records a second while sending against the physical limit (quota × 25), the
 * emulator's busiest second, and the drain time of one hour of 100 000 × 5 records extrapolated
 * from this run's send rate (the rate is fixed by the quota, so it scales linearly).
 */
function quotaReport(records) {
  const seconds = emu.core.quota.seconds().filter((c) => c.operation === 'BatchMeterUsage');
  const physical = QUOTA * 25;
  // The whole seconds from the first call to the last, as the emulator counted them.
  const at = seconds.map((c) => Date.parse(c.second));
  const sendSeconds = at.length > 0 ? (Math.max(...at) - Math.min(...at)) / 1000 + 1 : 0;
  const measured = sendSeconds > 0 ? records / sendSeconds : null;
  const sending = measured === null ? null : 500_000 / measured;
  const overhead =
    (((freezeMs ?? 0) / 1000 + sum('markSendingMs') + sum('writeResultsMs')) / records) * 500_000;
  return {
    requestsPerSecondQuota: QUOTA,
    physicalLimitRecordsPerSecond: physical,
    sendSeconds,
    recordsPerSecondWhileSending: measured,
    ofPhysicalLimit: measured === null ? null : measured / physical,
    busiestSecond: Math.max(0, ...seconds.map((c) => c.accepted + c.throttled)),
    throttledCalls: seconds.reduce((n, c) => n + c.throttled, 0),
    drainOneHourOf100kx5: {
      extrapolated: true,
      note: `EXTRAPOLATED from ${records} records: 500 000 ÷ the measured send rate, plus the freeze and ledger writes scaled linearly (they run between waves, not during calls); the physical limit is 500 000 ÷ ${physical}`,
      records: 500_000,
      sendingSeconds: sending,
      freezeAndLedgerSeconds: overhead,
      estimatedSeconds: sending === null ? null : sending + overhead,
      physicalLimitSeconds: 500_000 / physical,
    },
  };
}
const elapsedS = (finished - started) / 1000;
const sendSpanS = (lastRequest - firstRequest) / 1000;
const result = {
  bench: 'submitter',
  date: new Date().toISOString(),
  machine: {
    cpus: cpus().length,
    model: cpus()[0]?.model,
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  },
  size: {
    customers: CUSTOMERS,
    dimensions: DIMENSIONS.length,
    records: total,
    withUsage: windows.length,
  },
  settings: { concurrency: Number(CONCURRENCY), wave: Number(WAVE), batch: 25, quota: QUOTA },
  endToEndSeconds: elapsedS,
  allFrozenAfterSeconds: frozenAt ? (frozenAt - started) / 1000 : null,
  recordsPerSecond: total / elapsedS,
  emulator: {
    batchMeterUsageRequests: requests,
    requestsPerSecond: sendSpanS > 0 ? requests / sendSpanS : null,
    recordsBilled: billed,
  },
  ledger: counts,
  phases: {
    freezeSeconds: freezeMs === null ? null : freezeMs / 1000,
    ledgerWriteSeconds: sum('markSendingMs') + sum('writeResultsMs'),
    insideAwsCallsSeconds: sum('callsMs'),
    waves,
  },
  ...(QUOTA ? { quota: quotaReport(total) } : { extrapolation: extrapolation() }),
};
function extrapolation() {
  return {
    note: 'For runs smaller than 100 000 customers: scales freeze and ledger writes linearly and uses the first wave as the per-record cost of AWS calls. A full-size run measures it directly (endToEndSeconds).',
    recordsFor100k: 500_000,
    estimatedSecondsFor100k:
      waves.length > 0 && freezeMs !== null
        ? ((freezeMs / 1000 + sum('markSendingMs') + sum('writeResultsMs')) / total) * 500_000 +
          (waves[0].callsMs / 1000 / waves[0].records) * 500_000
        : null,
  };
}
console.log(JSON.stringify(result, null, 2));
if (result.quota) {
  const q = result.quota;
  const d = q.drainOneHourOf100kx5;
  console.log(
    `at the quota of ${QUOTA} requests/s: ${q.recordsPerSecondWhileSending?.toFixed(1)} records/s while sending, ` +
      `${((q.ofPhysicalLimit ?? 0) * 100).toFixed(1)} % of the physical limit (${q.physicalLimitRecordsPerSecond}/s); ` +
      `busiest second ${q.busiestSecond} calls, ${q.throttledCalls} throttled. One hour of 100 000 × 5 would drain in ` +
      `${d.estimatedSeconds?.toFixed(0)} s (EXTRAPOLATED from ${total} records; physical limit ${d.physicalLimitSeconds} s)`,
  );
}
mkdirSync(join(root, 'bench/results'), { recursive: true });
const file = join(
  root,
  `bench/results/submitter-${new Date().toISOString().slice(0, 10)}-${CUSTOMERS}${QUOTA ? `-quota${QUOTA}` : ''}.json`,
);
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${file}`);
await emu.close();
await ch.command(`DROP DATABASE IF EXISTS ${database}`);
await kafkaAdmin.deleteTopics([topic]).catch(() => undefined);
await kafkaAdmin.disconnect();
await ch.close();
