import { ident } from '@meterstream/clickhouse';
import { Metrics } from '@meterstream/observability';
import { testLogger } from '@meterstream/testing';
import { afterAll, describe, expect, it } from 'vitest';
// The real submitter writes the ledger (its harness: aggregator and submitter migrations, emulator).
import { startSubmitter, type SubmitterHandle } from '@meterstream/submitter';
import {
  CONTRACT,
  CONTRACT_ARN,
  HOUR,
  M,
  SUB,
  clock,
  freezeHours,
  hoursAgo,
  insertWindows,
  startHarness,
  subscribe,
  type Harness,
} from '@meterstream/submitter/testing';
import { migrateAuditor } from './migrations.js';
import { runAuditOnce } from './auditor.js';
import { sleep } from '@meterstream/runtime';
import { auditorMetrics } from './metrics.js';
import { buildReport, formatReport } from './report.js';
import { AuditStore } from './store.js';
import { testAuditorConfig, testCloudTrail } from './testing.js';

const cleanups: (() => Promise<void> | void)[] = [];

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A harness with the auditor's tables and a running submitter, closed after the file. */
async function setUp(): Promise<{
  x: Harness;
  sub: SubmitterHandle;
  api: ReturnType<typeof testCloudTrail>;
}> {
  const x = await startHarness();
  cleanups.push(() => x.close());
  await migrateAuditor(x.db.ch, x.db.name, { kind: 'single' });
  const sub = await startSubmitter(x.config(), { logger: testLogger('submitter') });
  cleanups.push(() => sub.close());
  const api = testCloudTrail(x.emu.url);
  cleanups.push(() => api.destroy());
  return { x, sub, api };
}

async function runSubmitter(sub: SubmitterHandle): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const run = await sub.runNow();
    if (run.status === 'done') break;
  }
}

const conservation = {
  settleMs: 0,
  dedupLookbackMs: 8 * 24 * HOUR,
  carryLookbackMs: 35 * 24 * HOUR,
};

const auditorConfig = (x: Harness) => testAuditorConfig(x.db.name, 12, { conservation });

let offset = 100;
/** Writes `usage_events` rows as the aggregator does (ADR 0001): one row per Kafka message. */
async function insertEvents(
  x: Harness,
  rows: {
    id: string;
    customer: string;
    dimension: string;
    micros: bigint;
    billingHour: number;
    productCode?: string;
    account?: boolean;
    /** The event's own hour (earlier than the billing hour when it was carried). */
    eventHour?: number;
    tooOld?: boolean;
    partition?: number;
  }[],
): Promise<void> {
  const now = Math.floor(clock.now() / 1000);
  await x.db.ch.insert(
    ident(`${x.db.name}.usage_events`),
    rows.map((r) => {
      const eh = (r.eventHour ?? r.billingHour) / 1000;
      return {
        id: r.id,
        product_code: r.productCode ?? SUB,
        license_arn: null,
        customer: r.customer,
        customer_kind: r.account ? 'account' : 'identifier',
        dimension: r.dimension,
        quantity: (Number(r.micros) / 1e6).toString(),
        quantity_micros: r.micros.toString(),
        event_time: eh + 60,
        event_time_ms: (eh + 60) * 1000,
        allocations: '[]',
        source: 'test',
        actor: null,
        attributes: '{}',
        kafka_partition: r.partition ?? 0,
        kafka_offset: offset++,
        event_hour: eh,
        billing_hour: r.billingHour / 1000,
        too_old: r.tooOld ? 1 : 0,
        ingested_at: now,
      };
    }),
  );
}

describe('conservation audit: events -> windows -> ledger -> CloudTrail', () => {
  it('a clean chain gives no conservation finding; a loss injected at each stage is one finding with its key and amount', async () => {
    const { x, sub, api } = await setUp();
    const [h4, h3, h2] = [4, 3, 2].map(hoursAgo) as [number, number, number];
    await freezeHours(x.db.ch, x.db.name, [h4, h3, h2]);
    await subscribe(x, SUB, 'cons-a');
    // cons-a/api: 1.5 + 1.25 in h4 (e1 replayed: counts once); 2 + 0.5 too old (carried) in h3;
    // 1 late from h3 carried into h2. Fractions chain: billed 2, 3, 1 and 0.25 pending.
    await insertEvents(x, [
      { id: 'e1', customer: 'cons-a', dimension: 'api', micros: 1_500_000n, billingHour: h4 },
      { id: 'e2', customer: 'cons-a', dimension: 'api', micros: 1_250_000n, billingHour: h4 },
      { id: 'e1', customer: 'cons-a', dimension: 'api', micros: 1_500_000n, billingHour: h4 },
      { id: 'e3', customer: 'cons-a', dimension: 'api', micros: 2n * M, billingHour: h3 },
      {
        id: 'e4',
        customer: 'cons-a',
        dimension: 'api',
        micros: 500_000n,
        billingHour: h3,
        eventHour: h3 - 30 * HOUR,
        tooOld: true,
      },
      {
        id: 'e5',
        customer: 'cons-a',
        dimension: 'api',
        micros: 1n * M,
        billingHour: h2,
        eventHour: h3,
      },
    ]);
    await insertWindows(x.db.ch, x.db.name, [
      { productCode: SUB, customer: 'cons-a', dimension: 'api', hour: h4, micros: 2_750_000n },
      { productCode: SUB, customer: 'cons-a', dimension: 'api', hour: h3, micros: 2_500_000n },
      { productCode: SUB, customer: 'cons-a', dimension: 'api', hour: h2, micros: 1n * M },
    ]);
    await runSubmitter(sub);
    const config = auditorConfig(x);
    const metrics = new Metrics('meterstream_auditor', { defaultMetrics: false });
    const deps = {
      ch: x.db.ch,
      cloudTrail: api,
      logger: testLogger('auditor'),
      metrics: auditorMetrics(metrics),
      notifiers: [],
      now: clock.now,
    };
    // CloudTrail delivery (emulator) and the grace, so stage (c) is settled too.
    await sleep(2_000 + 2_500 + 500);
    const clean = await runAuditOnce(config, deps);
    expect(clean.conservation?.findings).toEqual([]);
    expect(clean.reconciliation.findings).toEqual([]);
    expect(clean.conservation?.eventsWindows).toEqual({
      eventsMicros: 5_750_000n,
      tooOldMicros: 500_000n,
      windowsMicros: 6_250_000n,
      openEventsMicros: 0n,
      unexplainedMicros: 0n,
    });
    expect(clean.conservation?.windowsLedger).toEqual({
      windowsMicros: 6_250_000n,
      carryInMicros: 0n,
      buckets: { billed: 6n * M, pending_carry: 250_000n },
      unexplainedMicros: 0n,
      unbilledMicros: 0n,
    });
    expect(await metrics.text()).toContain(
      'meterstream_auditor_unexplained_units{stage="windows_ledger"} 0',
    );

    // Injected losses, one per stage, each on its own key in an older frozen hour (h6):
    const h6 = hoursAgo(6);
    await freezeHours(x.db.ch, x.db.name, [h6]);
    // (a) an event the windows never counted;
    await insertEvents(x, [
      { id: 'lost-1', customer: 'cons-b', dimension: 'api', micros: 4n * M, billingHour: h6 },
    ]);
    // (b) a window the ledger never billed (its events are there);
    await insertEvents(x, [
      { id: 'c-1', customer: 'cons-c', dimension: 'api', micros: 3n * M, billingHour: h6 },
    ]);
    await insertWindows(x.db.ch, x.db.name, [
      { productCode: SUB, customer: 'cons-c', dimension: 'api', hour: h6, micros: 3n * M },
    ]);
    // (b) a ledger record that took only one partition's window (issue 13, item 2): 3 of 5.
    await insertEvents(x, [
      { id: 'd-1', customer: 'cons-d', dimension: 'api', micros: 3n * M, billingHour: h6 },
      {
        id: 'd-2',
        customer: 'cons-d',
        dimension: 'api',
        micros: 2n * M,
        billingHour: h6,
        partition: 1,
      },
    ]);
    await insertWindows(x.db.ch, x.db.name, [
      { productCode: SUB, customer: 'cons-d', dimension: 'api', hour: h6, micros: 3n * M },
      {
        productCode: SUB,
        customer: 'cons-d',
        dimension: 'api',
        hour: h6,
        micros: 2n * M,
        partition: 1,
      },
    ]);
    await x.db.ch.insert(ident(`${x.db.name}.ledger`), [
      {
        product_code: SUB,
        customer: 'cons-d',
        dimension: 'api',
        hour: h6 / 1000,
        version: 1,
        state: 'frozen',
        quantity: 3,
        usage_micros: '3000000',
        billable_micros: '3000000',
        carry_in_micros: 0,
        carry_out_micros: 0,
        customer_kind: 'identifier',
        deadline: (h6 + 24 * HOUR) / 1000,
        updated_at: Math.floor(clock.now() / 1000),
      },
    ]);

    // (b) usage AWS never billed and that no AWS final answer ended: a permanent rejection
    // (issue 13, item 4, as it was before records were held).
    await insertEvents(x, [
      { id: 'e-1', customer: 'cons-e', dimension: 'api', micros: 2n * M, billingHour: h6 },
    ]);
    await insertWindows(x.db.ch, x.db.name, [
      { productCode: SUB, customer: 'cons-e', dimension: 'api', hour: h6, micros: 2n * M },
    ]);
    await x.db.ch.insert(ident(`${x.db.name}.ledger`), [
      {
        product_code: SUB,
        customer: 'cons-e',
        dimension: 'api',
        hour: h6 / 1000,
        version: 1,
        state: 'rejected',
        reason: 'InvalidLicenseException: no license for the customer',
        quantity: 2,
        usage_micros: '2000000',
        billable_micros: '2000000',
        carry_in_micros: 0,
        carry_out_micros: 0,
        customer_kind: 'identifier',
        deadline: (h6 + 24 * HOUR) / 1000,
        updated_at: Math.floor(clock.now() / 1000),
      },
    ]);

    // Contract usage billed with no term of its customer (issue 13, item 5, unfixed: entitlement
    // 0, all 8 billed as overage), while the product's contracts are known (another customer's).
    await x.store.upsertEntitlements([
      {
        productCode: CONTRACT,
        customer: '111122223333',
        dimension: 'seats',
        quantity: 10n,
        periodStart: hoursAgo(30),
        periodEnd: hoursAgo(-30),
      },
    ]);
    await insertEvents(x, [
      {
        id: 'f-1',
        productCode: CONTRACT,
        customer: '444455556666',
        account: true,
        dimension: 'seats',
        micros: 8n * M,
        billingHour: h6,
      },
    ]);
    await insertWindows(x.db.ch, x.db.name, [
      {
        productCode: CONTRACT,
        customer: '444455556666',
        account: true,
        dimension: 'seats',
        hour: h6,
        micros: 8n * M,
      },
    ]);
    await x.db.ch.insert(ident(`${x.db.name}.ledger`), [
      {
        product_code: CONTRACT,
        customer: '444455556666',
        dimension: 'seats',
        hour: h6 / 1000,
        version: 1,
        state: 'accepted',
        quantity: 8,
        usage_micros: '8000000',
        billable_micros: '8000000',
        carry_in_micros: 0,
        carry_out_micros: 0,
        customer_kind: 'account',
        deadline: (h6 + 24 * HOUR) / 1000,
        updated_at: Math.floor(clock.now() / 1000),
      },
    ]);

    const lossy = await runAuditOnce(config, deps);
    const found = (lossy.conservation?.findings ?? []).map((f) => ({
      kind: f.kind,
      key: [f.productCode, f.customer, f.dimension, f.hourMs],
      amounts: JSON.parse(f.raw ?? '{}') as Record<string, string>,
    }));
    expect(found).toEqual([
      {
        kind: 'conservation_events_windows',
        key: [SUB, 'cons-b', 'api', h6],
        amounts: {
          events_micros: '4000000',
          too_old_micros: '0',
          windows_micros: '0',
          unexplained_micros: '4000000',
        },
      },
      {
        kind: 'conservation_windows_ledger',
        key: [SUB, 'cons-c', 'api', h6],
        amounts: {
          windows_micros: '3000000',
          ledger_usage_micros: '0',
          unexplained_micros: '3000000',
        },
      },
      {
        kind: 'conservation_windows_ledger',
        key: [SUB, 'cons-d', 'api', h6],
        amounts: expect.objectContaining({
          windows_micros: '5000000',
          ledger_usage_micros: '3000000',
          ledger_quantity_micros: '3000000',
          unexplained_micros: '2000000',
        }) as Record<string, string>,
      },
      {
        kind: 'conservation_unbilled',
        key: [SUB, 'cons-e', 'api', h6],
        amounts: { unbilled_micros: '2000000', windows_micros: '2000000' },
      },
      {
        kind: 'conservation_entitlement',
        key: [CONTRACT, '444455556666', 'seats', h6],
        amounts: { billable_micros: '8000000', usage_micros: '8000000', entitled_micros: '0' },
      },
    ]);
    // Stored through the findings store (open, once), and on the gauge per stage.
    const store = new AuditStore(x.db.ch, x.db.name);
    const stored = await store.findings({ status: 'open' });
    expect(
      stored
        .filter((f) => f.kind.startsWith('conservation_'))
        .map((f) => f.customer)
        .sort(),
    ).toEqual(['444455556666', 'cons-b', 'cons-c', 'cons-d', 'cons-e']);
    const text = await metrics.text();
    expect(text).toContain('meterstream_auditor_unexplained_units{stage="events_windows"} 4');
    // 2 of cons-d's window + 3 of cons-c's + 8 billed without a contract term.
    expect(text).toContain('meterstream_auditor_unexplained_units{stage="windows_ledger"} 13');
    expect(text).toContain('meterstream_auditor_findings_open{kind="conservation_entitlement"} 1');
    expect(text).toContain(
      'meterstream_auditor_findings_open{kind="conservation_windows_ledger"} 2',
    );
    expect(text).toContain('meterstream_auditor_unexplained_units{stage="ledger_unbilled"} 2');

    // `audit report` shows the chain and fails on the unexplained findings.
    const report = await buildReport(store, {
      fromMs: hoursAgo(8),
      toMs: hoursAgo(0) + HOUR,
      graceMs: 2_500,
      checkpointName: 'cloudtrail',
      conservation: { ...conservation, nowMs: clock.now() },
    });
    expect(report.chain?.eventsWindows.unexplainedMicros).toBe('4');
    expect(report.chain?.windowsLedger.unexplained).toBe('13');
    expect(report.chain?.windowsLedger.unbilled).toBe('2');
    expect(report.unexplained).toBeGreaterThanOrEqual(5);
    const printed = formatReport(report);
    expect(printed).toContain('Conservation chain (units)');
    expect(printed).toMatch(
      /\[conservation_windows_ledger\] ms-sub \/ cons-d \/ api \/ .*: window 5 but ledger usage 3/,
    );
    expect(printed).toMatch(
      /\[conservation_entitlement\] ms-contract \/ 444455556666 \/ seats .*no term/,
    );
    if (process.env.MS_PRINT_REPORT) console.log(printed);
  });

  it('a contract entitlement, a key on two partitions, a not-subscribed customer and a held record are explained, not findings', async () => {
    const { x, sub, api } = await setUp();
    const [h10, h9, h8] = [10, 9, 8].map(hoursAgo) as [number, number, number];
    await freezeHours(x.db.ch, x.db.name, [h10, h9, h8]);
    const acct = '123456789012';
    await subscribe(x, CONTRACT, acct, { account: true, licenseArn: CONTRACT_ARN });
    await x.store.upsertEntitlements([
      {
        productCode: CONTRACT,
        customer: acct,
        dimension: 'seats',
        quantity: 1000n,
        periodStart: hoursAgo(23),
        periodEnd: Date.UTC(2100, 0, 1),
      },
    ]);
    await subscribe(x, SUB, 'cons-p');
    // Contract: 400 + 400 + 400 seats against 1000 included: 200 billed, 1000 entitlement.
    const seats = [h10, h9, h8].map((hour, i) => ({
      id: `seat-${i}`,
      productCode: CONTRACT,
      customer: acct,
      account: true,
      dimension: 'seats',
      micros: 400n * M,
      billingHour: hour,
    }));
    await insertEvents(x, seats);
    await insertWindows(
      x.db.ch,
      x.db.name,
      seats.map((e) => ({
        productCode: CONTRACT,
        customer: acct,
        dimension: 'seats',
        hour: e.billingHour,
        micros: e.micros,
        account: true,
      })),
    );
    // One key's events on two partitions (two producers' partitioners): windows 3 + 2.
    await insertEvents(x, [
      { id: 'p-0', customer: 'cons-p', dimension: 'api', micros: 3n * M, billingHour: h9 },
      {
        id: 'p-1',
        customer: 'cons-p',
        dimension: 'api',
        micros: 2n * M,
        billingHour: h9,
        partition: 1,
      },
      // Not subscribed at AWS: CustomerNotSubscribed ends it.
      { id: 'n-0', customer: 'cons-nobody', dimension: 'api', micros: 3n * M, billingHour: h8 },
      // An account customer nobody registered: held (no entitlement term, no subscription).
      {
        id: 'u-0',
        productCode: CONTRACT,
        customer: '999988887777',
        account: true,
        dimension: 'seats',
        micros: 7n * M,
        billingHour: h8,
      },
    ]);
    await insertWindows(x.db.ch, x.db.name, [
      { productCode: SUB, customer: 'cons-p', dimension: 'api', hour: h9, micros: 3n * M },
      {
        productCode: SUB,
        customer: 'cons-p',
        dimension: 'api',
        hour: h9,
        micros: 2n * M,
        partition: 1,
      },
      { productCode: SUB, customer: 'cons-nobody', dimension: 'api', hour: h8, micros: 3n * M },
      {
        productCode: CONTRACT,
        customer: '999988887777',
        dimension: 'seats',
        hour: h8,
        micros: 7n * M,
        account: true,
      },
    ]);
    await runSubmitter(sub);
    const deps = {
      ch: x.db.ch,
      cloudTrail: api,
      logger: testLogger('auditor'),
      notifiers: [],
      now: clock.now,
    };
    const r = await runAuditOnce(auditorConfig(x), deps);
    expect(r.conservation?.findings).toEqual([]);
    expect(r.conservation?.eventsWindows).toMatchObject({
      eventsMicros: 1215n * M,
      windowsMicros: 1215n * M,
      unexplainedMicros: 0n,
    });
    const wl = r.conservation?.windowsLedger;
    expect(wl?.unexplainedMicros).toBe(0n);
    expect(wl?.windowsMicros).toBe(1215n * M);
    // Every unit is in a bucket with its reason: 200 billed + 5 billed (both partitions),
    // 1000 within the entitlement, 3 not subscribed, 7 held.
    expect(wl?.buckets).toMatchObject({
      billed: 205n * M,
      entitlement: 1000n * M,
      not_subscribed: 3n * M,
    });
    const held = Object.entries(wl?.buckets ?? {}).filter(([k]) => k.startsWith('held:'));
    // A contract customer nobody registered has no entitlement term either: the planner holds its
    // usage for that first (ADR 0006), never billing it as overage; the units are withheld whole.
    expect(held).toEqual([['held:missing_entitlement', 7n * M]]);
  });
});
