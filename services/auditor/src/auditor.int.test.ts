import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchMeterUsageCommand,
  MarketplaceMeteringClient,
  type UsageRecord,
} from '@aws-sdk/client-marketplace-metering';
import { startEmulator, type RunningEmulator } from '@meterstream/aws-emulator';
import { ident, migrate } from '@meterstream/clickhouse';
import { Metrics } from '@meterstream/observability';
import {
  freshDatabase,
  testLogger,
  testStack,
  type TestDatabase,
  emulatorAdmin,
} from '@meterstream/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrateAuditor } from './migrations.js';
import { runAuditOnce, type AuditorConfig, type AuditorDeps } from './auditor.js';
import { EXIT, runCli } from './cli.js';
import { cloudTrailApi } from './cloudtrail.js';
import { auditorEnvSchema } from './env.js';
import { sleep } from '@meterstream/runtime';
import { RateLimiter } from './limiter.js';
import { auditorMetrics } from './metrics.js';
import type { Notifier } from './notify.js';
import type { Finding } from './reconcile.js';
import { AuditStore } from './store.js';
// The other side of the contract comes from its owners' migrations (ADR 0001), not our own DDL.
import { MIGRATIONS as AGGREGATOR_MIGRATIONS } from '@meterstream/aggregator';
import { SUBMITTER_MIGRATIONS } from '@meterstream/submitter';

const H = 3_600_000;
const DELIVERY_DELAY_MS = 300;
const GRACE_MS = 1_200;
const PRODUCT = 'prod-audit';
const NEW_PRODUCT = 'prod-new';
const ACCOUNT = '111122223333';
const LICENSE = `arn:aws:license-manager::${ACCOUNT}:license:l-0123456789abcdef`;
const CUSTOMERS = ['cust-1', 'cust-2', 'cust-3'];
const DIMENSIONS = ['api_calls', 'storage'];

interface Harness {
  db: TestDatabase;
  dir: string;
  emulator: RunningEmulator;
  metering: MarketplaceMeteringClient;
  api: ReturnType<typeof cloudTrailApi>;
  store: AuditStore;
  config: AuditorConfig;
  metrics: Metrics;
  notified: Finding[];
  deps(over?: Partial<AuditorDeps>): AuditorDeps;
  admin(method: string, path: string, body?: unknown): Promise<unknown>;
  /** Sends records like the submitter: ledger `frozen` before the send, the answer after. */
  meter(productCode: string, records: UsageRecord[]): Promise<void>;
  /** Waits until CloudTrail has delivered and the grace has passed. */
  settle(): Promise<void>;
}

let h: Harness | undefined;
let offset = 1000;
let version = 1;

async function harness(
  options: { pageSize?: number; lookupThrottlingRate?: number; delayMs?: number } = {},
): Promise<Harness> {
  const db = await freshDatabase('auditor');
  const ctx = { database: db.name, topology: { kind: 'single' } as const };
  await migrate(db.ch, 'aggregator', AGGREGATOR_MIGRATIONS, ctx);
  await migrate(db.ch, 'submitter', SUBMITTER_MIGRATIONS, ctx);
  await migrateAuditor(db.ch, db.name, { kind: 'single' });
  const dir = mkdtempSync(join(tmpdir(), 'auditor-'));
  const emulator = await startEmulator({
    port: 0,
    stateFile: join(dir, 'state.json'),
    seed: 7,
    cloudTrailDelayMs: options.delayMs ?? DELIVERY_DELAY_MS,
  });
  const creds = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };
  const metering = new MarketplaceMeteringClient({
    endpoint: emulator.url,
    region: 'us-east-1',
    credentials: creds,
    maxAttempts: 1,
  });
  const api = cloudTrailApi({ region: 'us-east-1', endpoint: emulator.url, credentials: creds });
  const admin = emulatorAdmin(emulator.url);
  await admin('PUT', `/_admin/products/${PRODUCT}`, { dimensions: DIMENSIONS });
  for (const c of CUSTOMERS)
    await admin('POST', '/_admin/subscriptions', { productCode: PRODUCT, customerIdentifier: c });
  await admin('PUT', `/_admin/products/${NEW_PRODUCT}`, {
    dimensions: DIMENSIONS,
    licenseArn: true,
  });
  await admin('POST', '/_admin/subscriptions', {
    productCode: NEW_PRODUCT,
    customerAwsAccountId: ACCOUNT,
    licenseArn: LICENSE,
  });
  if (options.lookupThrottlingRate)
    await admin('POST', '/_admin/faults', { lookupThrottlingRate: options.lookupThrottlingRate });
  const metrics = new Metrics('meterstream_auditor', { defaultMetrics: false });
  const m = auditorMetrics(metrics);
  const notified: Finding[] = [];
  const capture: Notifier = { name: 'capture', notify: async (fs) => void notified.push(...fs) };
  const config: AuditorConfig = {
    database: db.name,
    topology: { kind: 'single' },
    deliveryGraceMs: GRACE_MS,
    initialLookbackMs: 30 * H,
    reconcileLookbackMs: 30 * H,
    intervalMs: 500,
    pageSize: options.pageSize ?? 50,
    lookupBy: 'EventSource',
    lookupRatePerSecond: 2,
    maxRetries: 12,
    backoffMs: 100,
    checkpointName: 'cloudtrail',
  };
  const ledger = ident(`${db.name}.ledger`);
  const events = ident(`${db.name}.usage_events`);
  const windows = ident(`${db.name}.usage_windows`);
  const customerOf = (r: UsageRecord): [string, string] =>
    r.CustomerAWSAccountId
      ? [r.CustomerAWSAccountId, 'account']
      : [r.CustomerIdentifier ?? '', 'identifier'];
  const ledgerRow = (
    productCode: string,
    r: UsageRecord,
    over: Record<string, unknown>,
  ): Record<string, unknown> => {
    const [customer, kind] = customerOf(r);
    return {
      product_code: productCode,
      customer,
      customer_kind: kind,
      dimension: r.Dimension,
      hour: Math.floor((r.Timestamp?.getTime() ?? 0) / 1000),
      version: version++,
      state: 'frozen',
      quantity: r.Quantity ?? 0,
      // As the submitter writes it: the window's usage, all billable, no carry (whole units).
      usage_micros: (r.Quantity ?? 0) * 1_000_000,
      billable_micros: (r.Quantity ?? 0) * 1_000_000,
      carry_in_micros: 0,
      carry_out_micros: 0,
      metering_record_id: '',
      aws_status: '',
      reason: '',
      attempts: 0,
      batch_id: '',
      license_arn: r.LicenseArn ?? '',
      updated_at: Math.floor(Date.now() / 1000),
      ...over,
    };
  };
  const self: Harness = {
    db,
    dir,
    emulator,
    metering,
    api,
    store: new AuditStore(db.ch, db.name),
    config,
    metrics,
    notified,
    admin,
    deps: (over = {}) => ({
      ch: db.ch,
      cloudTrail: api,
      logger: testLogger('auditor'),
      metrics: m,
      notifiers: [capture],
      ...over,
    }),
    async meter(productCode, records) {
      // The aggregator's side of the lineage: one usage event per record, its window.
      const nowS = Math.floor(Date.now() / 1000);
      await db.ch.insert(
        events,
        records.map((r) => {
          const [customer, kind] = customerOf(r);
          const hourS = Math.floor((r.Timestamp?.getTime() ?? 0) / 1000);
          return {
            id: `ue-${productCode}-${customer}-${r.Dimension}-${hourS}`,
            product_code: productCode,
            license_arn: r.LicenseArn ?? '',
            customer,
            customer_kind: kind,
            dimension: r.Dimension,
            quantity: String(r.Quantity ?? 0),
            quantity_micros: (r.Quantity ?? 0) * 1_000_000,
            event_time: hourS + 1,
            event_time_ms: hourS * 1000 + 1234,
            allocations: '[]',
            source: 'test',
            actor: null,
            attributes: '{}',
            kafka_partition: 2,
            kafka_offset: offset++,
            event_hour: hourS,
            billing_hour: hourS,
            too_old: 0,
            ingested_at: nowS,
          };
        }),
      );
      await db.ch.insert(
        windows,
        records.map((r) => {
          const [customer, kind] = customerOf(r);
          const hourS = Math.floor((r.Timestamp?.getTime() ?? 0) / 1000);
          return {
            product_code: productCode,
            customer,
            customer_kind: kind,
            dimension: r.Dimension,
            hour: hourS,
            quantity_micros: (r.Quantity ?? 0) * 1_000_000,
            event_count: 1,
            late_quantity_micros: 0,
            first_event_at: hourS,
            last_event_at: hourS,
            frozen_at: nowS,
            freeze_kind: 'watermark',
            kafka_partition: 2,
          };
        }),
      );
      await db.ch.insert(
        ledger,
        records.map((r) => ledgerRow(productCode, r, {})),
      );
      const out = await metering.send(
        new BatchMeterUsageCommand({ ProductCode: productCode, UsageRecords: records }),
      );
      expect(out.UnprocessedRecords ?? []).toEqual([]);
      const state = {
        Success: 'accepted',
        DuplicateRecord: 'duplicate',
        CustomerNotSubscribed: 'not_subscribed',
      } as const;
      await db.ch.insert(
        ledger,
        (out.Results ?? []).map((res) =>
          ledgerRow(productCode, res.UsageRecord ?? { Dimension: '', Timestamp: new Date(0) }, {
            state: state[(res.Status ?? 'Success') as keyof typeof state],
            metering_record_id: res.MeteringRecordId ?? '',
            aws_status: res.Status ?? '',
            attempts: 1,
            batch_id: 'batch-1',
          }),
        ),
      );
    },
    settle: () => sleep(GRACE_MS + DELIVERY_DELAY_MS + 200),
  };
  h = self;
  return self;
}

afterEach(async () => {
  if (!h) return;
  const x = h;
  h = undefined;
  x.metering.destroy();
  x.api.destroy();
  await x.emulator.close();
  rmSync(x.dir, { recursive: true, force: true });
  await x.db.drop();
});

const thisHour = (): Date => new Date(Math.floor(Date.now() / H) * H);
const rec = (
  customer: string,
  dimension: string,
  quantity: number,
  hour = thisHour(),
): UsageRecord => ({
  CustomerIdentifier: customer,
  Dimension: dimension,
  Quantity: quantity,
  Timestamp: hour,
});
const accountRec = (dimension: string, quantity: number): UsageRecord => ({
  CustomerAWSAccountId: ACCOUNT,
  LicenseArn: LICENSE,
  Dimension: dimension,
  Quantity: quantity,
  Timestamp: thisHour(),
  UsageAllocations: [
    { AllocatedUsageQuantity: quantity - 1, Tags: [{ Key: 'team', Value: 'alpha' }] },
    { AllocatedUsageQuantity: 1, Tags: [{ Key: 'team', Value: 'beta' }] },
  ],
});

async function cleanTraffic(x: Harness): Promise<void> {
  await x.meter(PRODUCT, [
    rec('cust-2', 'api_calls', 5),
    rec('cust-2', 'storage', 0),
    rec('cust-3', 'api_calls', 11),
  ]);
  await x.meter(NEW_PRODUCT, [accountRec('api_calls', 40), accountRec('storage', 3)]);
}

async function setFaults(x: Harness, cloudTrail: Record<string, number>): Promise<void> {
  await x.admin('POST', '/_admin/faults', { cloudTrail });
}

const io = (): {
  out: string[];
  err: string[];
  stdout: (s: string) => void;
  stderr: (s: string) => void;
} => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (s) => void out.push(s), stderr: (s) => void err.push(s) };
};
const envFor = (x: Harness) =>
  auditorEnvSchema.parse({
    MS_CLICKHOUSE_DATABASE: x.db.name,
    MS_AUDITOR_DELIVERY_GRACE_MS: String(GRACE_MS),
  });

describe('auditor against the AWS emulator', () => {
  beforeEach(() => {
    version = 1;
  });

  it('a clean run gives zero findings, and the report exits 0', async () => {
    const x = await harness();
    await cleanTraffic(x);
    // An identical retry of a batch (what the submitter does after a lost answer) is not a finding.
    await x.meter(PRODUCT, [rec('cust-2', 'api_calls', 5)]);
    await x.settle();
    const r = await runAuditOnce(x.config, x.deps());
    expect(r.reconciliation.findings).toEqual([]);
    expect(r.reconciliation.outcomes.matched).toBe(5);
    expect(r.newEvents).toBe(3);
    expect(x.notified).toEqual([]);
    const o = io();
    const code = await runCli(['audit', 'report', '--from', 'now-2h', '--to', 'now'], o, {
      store: x.store,
      env: envFor(x),
    });
    expect(o.err).toEqual([]);
    expect(o.out.join('')).toContain('0 unexplained finding(s).');
    expect(o.out.join('')).toContain(ACCOUNT);
    expect(code).toBe(0);
    expect(await x.metrics.text()).toMatch(/meterstream_auditor_last_success_timestamp_seconds \d/);
    // `audit run` (one pass from the CLI) continues from the daemon's checkpoint: nothing new.
    const run = io();
    const runEnv = auditorEnvSchema.parse({
      MS_CLICKHOUSE_URL: (await testStack()).clickhouseUrl,
      MS_CLICKHOUSE_DATABASE: x.db.name,
      MS_AUDITOR_DELIVERY_GRACE_MS: String(GRACE_MS),
      MS_AWS_ENDPOINT: x.emulator.url,
      MS_AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      MS_AWS_SECRET_ACCESS_KEY: 'secret',
      MS_LOG_LEVEL: 'silent',
    });
    expect(await runCli(['audit', 'run'], run, { store: x.store, env: runEnv })).toBe(0);
    expect(JSON.parse(run.out.join(''))).toMatchObject({
      newEvents: 0,
      findings: 0,
      newFindings: 0,
    });
  });

  it('a dropped CloudTrail event gives exactly one missing_in_cloudtrail, notified once', async () => {
    const x = await harness();
    await setFaults(x, { dropRate: 1 });
    await x.meter(PRODUCT, [rec('cust-1', 'api_calls', 9)]);
    await setFaults(x, {});
    await cleanTraffic(x);
    await x.settle();
    const r = await runAuditOnce(x.config, x.deps());
    expect(r.reconciliation.findings.map((f) => [f.kind, f.customer, f.ledgerQuantity])).toEqual([
      ['missing_in_cloudtrail', 'cust-1', 9],
    ]);
    await runAuditOnce(x.config, x.deps());
    expect(x.notified.map((f) => f.kind)).toEqual(['missing_in_cloudtrail']);
    const stored = await x.store.findings();
    expect(stored).toHaveLength(1);
    expect(stored[0]?.ledger?.meteringRecordId).toBeTruthy();
    expect(await x.metrics.text()).toContain(
      'meterstream_auditor_findings_total{kind="missing_in_cloudtrail"} 1',
    );
    expect(await x.metrics.text()).toContain(
      'meterstream_auditor_findings_open{kind="missing_in_cloudtrail"} 1',
    );
    // The report fails until someone explains the finding.
    const env = envFor(x);
    const json = io();
    expect(
      await runCli(
        ['audit', 'report', '--from', 'now-2h', '--to', 'now', '--format', 'json'],
        json,
        { store: x.store, env },
      ),
    ).toBe(2);
    const report = JSON.parse(json.out.join('')) as {
      unexplained: number;
      byKind: Record<string, number>;
    };
    expect(report).toMatchObject({ unexplained: 1, byKind: { missing_in_cloudtrail: 1 } });
    const id = stored[0]?.id ?? '';
    expect(
      await runCli(['audit', 'explain', id.slice(0, 10), '--note', 'AWS support case 42'], io(), {
        store: x.store,
        env,
      }),
    ).toBe(0);
    expect(
      await runCli(['audit', 'report', '--from', 'now-2h', '--to', 'now'], io(), {
        store: x.store,
        env,
      }),
    ).toBe(0);
  });

  it('a report whose conservation chain cannot be checked says so and exits 4, not 0', async () => {
    // The auditor's and submitter's tables, but not the aggregator's: nothing to follow usage from.
    const db = await freshDatabase('auditor_unchecked');
    try {
      await migrateAuditor(db.ch, db.name, { kind: 'single' });
      await migrate(db.ch, 'submitter', SUBMITTER_MIGRATIONS, {
        database: db.name,
        topology: { kind: 'single' },
      });
      const o = io();
      const code = await runCli(['audit', 'report', '--from', 'now-2h', '--to', 'now'], o, {
        store: new AuditStore(db.ch, db.name),
        env: auditorEnvSchema.parse({ MS_CLICKHOUSE_DATABASE: db.name }),
      });
      expect(o.out.join('')).toContain('Conservation chain not checked');
      expect(o.out.join('')).toContain('0 unexplained finding(s).');
      expect(code).toBe(EXIT.unchecked);
    } finally {
      await db.drop();
    }
  });

  it('an altered quantity gives exactly one quantity_mismatch', async () => {
    const x = await harness();
    await setFaults(x, { alterQuantityRate: 1 });
    await x.meter(PRODUCT, [rec('cust-1', 'storage', 20), rec('cust-1', 'api_calls', 3)]);
    await setFaults(x, {});
    await cleanTraffic(x);
    await x.settle();
    const r = await runAuditOnce(x.config, x.deps());
    expect(
      r.reconciliation.findings.map((f) => [
        f.kind,
        f.customer,
        f.dimension,
        f.ledgerQuantity,
        f.cloudTrailQuantities,
      ]),
    ).toEqual([['quantity_mismatch', 'cust-1', 'storage', 20, [21]]]);
  });

  it('a foreign record gives exactly one unknown_to_ledger', async () => {
    const x = await harness();
    await setFaults(x, { injectForeignRate: 1 });
    await x.meter(PRODUCT, [rec('cust-1', 'storage', 2)]);
    await setFaults(x, {});
    await cleanTraffic(x);
    await x.settle();
    const r = await runAuditOnce(x.config, x.deps());
    expect(r.reconciliation.findings).toHaveLength(1);
    expect(r.reconciliation.findings[0]).toMatchObject({
      kind: 'unknown_to_ledger',
      customer: 'foreign-customer',
      ledger: null,
    });
    expect(r.reconciliation.findings[0]?.eventIds).toHaveLength(1);
  });

  it('a duplicate with another quantity gives exactly one conflicting_duplicate', async () => {
    const x = await harness();
    await setFaults(x, { duplicateOtherQuantityRate: 1 });
    await x.meter(PRODUCT, [rec('cust-3', 'storage', 4), rec('cust-1', 'storage', 6)]);
    await setFaults(x, {});
    await cleanTraffic(x);
    await x.settle();
    const r = await runAuditOnce(x.config, x.deps());
    expect(
      r.reconciliation.findings.map((f) => [
        f.kind,
        f.customer,
        [...f.cloudTrailQuantities].sort((a, b) => a - b),
      ]),
    ).toEqual([['conflicting_duplicate', 'cust-3', [4, 11]]]);
    expect(r.reconciliation.findings[0]?.eventIds).toHaveLength(2);
  });

  it('LookupEvents throttling slows the auditor but loses nothing', async () => {
    const x = await harness({ pageSize: 10, lookupThrottlingRate: 0.4 });
    const hours = Array.from({ length: 5 }, (_, i) => new Date(thisHour().getTime() - i * H));
    for (const hour of hours) {
      for (const c of CUSTOMERS)
        for (const d of DIMENSIONS)
          await x.meter(PRODUCT, [rec(c, d, hour.getUTCHours() + 1, hour)]);
    }
    await x.settle();
    const started = Date.now();
    const r = await runAuditOnce(x.config, x.deps());
    expect(r.read.throttled).toBeGreaterThan(0);
    expect(r.read.pages).toBeGreaterThanOrEqual(3);
    expect(r.read.requests).toBe(r.read.pages + r.read.throttled);
    // Paced at 2 requests a second.
    expect(Date.now() - started).toBeGreaterThanOrEqual(((r.read.requests - 2) / 2) * 1000 - 100);
    expect(r.newEvents).toBe(30);
    expect(await x.store.countEvents()).toBe(30);
    expect(r.reconciliation.findings).toEqual([]);
    expect(r.reconciliation.outcomes.matched).toBe(30);
    expect(await x.metrics.text()).toMatch(
      /meterstream_auditor_lookup_requests_total\{outcome="throttled"\} [1-9]/,
    );
  });

  it('a restart resumes from the checkpoint without counting an event twice', async () => {
    const x = await harness({ pageSize: 2 });
    await cleanTraffic(x);
    await x.settle();
    const first = await runAuditOnce(x.config, x.deps());
    expect(first.newEvents).toBe(2);
    const checkpoint = await x.store.checkpoint('cloudtrail');
    expect(checkpoint).toBe(first.readUntilMs);

    // A "crashed" process: the read dies after its first page, so the checkpoint stays put.
    await x.meter(PRODUCT, [rec('cust-1', 'api_calls', 1)]);
    await x.meter(PRODUCT, [rec('cust-1', 'storage', 2)]);
    await x.meter(PRODUCT, [rec('cust-3', 'storage', 3)]);
    await x.settle();
    let calls = 0;
    const dying = {
      lookupEvents: async (input: Parameters<typeof x.api.lookupEvents>[0]) => {
        if (++calls > 1)
          throw Object.assign(new Error('connection lost'), { name: 'AccessDeniedException' });
        return x.api.lookupEvents(input);
      },
    };
    await expect(runAuditOnce(x.config, x.deps({ cloudTrail: dying }))).rejects.toMatchObject({
      code: 'AWS_REJECTED',
    });
    expect(await x.store.checkpoint('cloudtrail')).toBe(checkpoint);

    // A new process (new limiter, new client state) picks up from the checkpoint.
    const second = await runAuditOnce(x.config, x.deps({ limiter: new RateLimiter(2) }));
    expect(second.readFromMs).toBe((checkpoint ?? 0) - GRACE_MS);
    expect(second.newEvents + second.duplicateEvents).toBeGreaterThanOrEqual(3);
    expect(await x.store.countEvents()).toBe(5);
    const again = await runAuditOnce(x.config, x.deps());
    expect(again.newEvents).toBe(0);
    expect(await x.store.countEvents()).toBe(5);
    // Stored rows may repeat (ReplacingMergeTree merges later); reads count each record once.
    const records = await x.store.cloudTrailRecords(
      thisHour().getTime() - H,
      thisHour().getTime() + H,
    );
    expect(records).toHaveLength(8);
    expect(again.reconciliation.findings).toEqual([]);
    expect(again.reconciliation.outcomes.matched).toBe(8);
  });

  it('an event delivered after the grace is found by the periodic rescan and its finding resolves', async () => {
    const x = await harness({ delayMs: 3_000 });
    const config = { ...x.config, rescanEveryMs: 60_000 };
    await x.meter(PRODUCT, [rec('cust-1', 'api_calls', 8)]);
    await sleep(GRACE_MS + 1_000);
    const early = await runAuditOnce(config, x.deps());
    expect(early.reconciliation.findings.map((f) => f.kind)).toEqual(['missing_in_cloudtrail']);
    await sleep(3_000);
    // The sliding window has moved past the event's time: an ordinary run cannot see it.
    const ordinary = await runAuditOnce(config, x.deps());
    expect(ordinary.rescan).toBe(false);
    expect(ordinary.reconciliation.findings.map((f) => f.kind)).toEqual(['missing_in_cloudtrail']);
    const rescan = await runAuditOnce({ ...config, rescanEveryMs: 1 }, x.deps());
    expect(rescan.rescan).toBe(true);
    expect(rescan.newEvents).toBe(1);
    expect(rescan.reconciliation.findings).toEqual([]);
    const [stored] = await x.store.findings();
    expect(stored?.status).toBe('resolved');
    expect(x.notified).toHaveLength(1);
  });

  it('trace returns the full chain for a random event', async () => {
    const x = await harness();
    await cleanTraffic(x);
    await x.settle();
    await runAuditOnce(x.config, x.deps());
    const ids = await x.db.ch.query<{ id: string }>(`SELECT id FROM ${x.db.name}.usage_events`);
    const pick = ids[Math.floor(Math.random() * ids.length)]?.id ?? '';
    const o = io();
    const code = await runCli(['trace', pick, '--format', 'json'], o, {
      store: x.store,
      env: envFor(x),
    });
    expect(o.err).toEqual([]);
    expect(code).toBe(0);
    const t = JSON.parse(o.out.join('')) as {
      complete: boolean;
      kafka: { partition: number; offset: string };
      window: Record<string, unknown>;
      ledger: { latest: Record<string, unknown>; history: unknown[] };
      awsResult: { meteringRecordId: string; status: string };
      cloudTrail: { eventId: string; status: string; meteringRecordId: string }[];
    };
    expect(t.complete).toBe(true);
    expect(t.kafka.partition).toBe(2);
    expect(Number(t.kafka.offset)).toBeGreaterThanOrEqual(1000);
    expect(t.window).toBeTruthy();
    expect(t.ledger.latest.state).toBe('accepted');
    expect(t.ledger.history).toHaveLength(2);
    expect(t.awsResult.status).toBe('Success');
    expect(t.cloudTrail).toHaveLength(1);
    expect(t.cloudTrail[0]?.meteringRecordId).toBe(t.awsResult.meteringRecordId);
    const trail = (await x.admin('GET', '/_admin/cloudtrail')) as { events: { eventId: string }[] };
    expect(trail.events.map((e) => e.eventId)).toContain(t.cloudTrail[0]?.eventId);
    const text = io();
    expect(await runCli(['trace', pick], text, { store: x.store, env: envFor(x) })).toBe(0);
    expect(text.out.join('')).toContain('chain complete');
    expect(await runCli(['trace', 'no-such-event'], io(), { store: x.store, env: envFor(x) })).toBe(
      3,
    );
  });
});
