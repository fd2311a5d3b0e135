import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowIdentifiers, ident, migrate } from '@meterstream/clickhouse';
import { freshDatabase, type TestDatabase } from '@meterstream/testing';
import { AUDITOR_MIGRATIONS } from '@meterstream/auditor';
import { MIGRATIONS as AGGREGATOR_MIGRATIONS } from '@meterstream/aggregator';
import { SUBMITTER_MIGRATIONS, Store } from '@meterstream/submitter';
import { ClickHouseData } from './clickhouse-data.js';
import { migrateConsole } from './migrations.js';
import type { Submission } from './model.js';

const H = Date.UTC(2026, 10, 26, 10);
const HOUR = 3_600_000;
let db: TestDatabase;
let data: ClickHouseData;

const sec = (ms: number): number => Math.floor(ms / 1000);

function ledgerRow(o: {
  product?: string;
  customer: string;
  dimension: string;
  hour: number;
  version: number;
  state: string;
  quantity: number;
  reason?: string;
}): Record<string, unknown> {
  return {
    product_code: o.product ?? 'demo-analytics',
    customer: o.customer,
    dimension: o.dimension,
    hour: sec(o.hour),
    version: o.version,
    state: o.state,
    quantity: o.quantity,
    usage_micros: o.quantity * 1_000_000,
    billable_micros: o.quantity * 1_000_000,
    carry_in_micros: 0,
    carry_out_micros: 0,
    metering_record_id: '',
    aws_status: '',
    reason: o.reason ?? '',
    attempts: 1,
    batch_id: '',
    run_id: '',
    instance_id: '',
    work_partition: 0,
    customer_kind: 'identifier',
    license_arn: '',
    price_per_unit: '1',
    deadline: sec(o.hour + 24 * HOUR),
    updated_at: sec(o.hour + o.version * 1000),
  };
}

beforeAll(async () => {
  db = await freshDatabase('console_data');
  data = new ClickHouseData(db.ch, db.name);
});

afterAll(async () => {
  await db?.drop();
});

describe('ClickHouseData', () => {
  it('shows nothing (and no error) before the other services have created their tables', async () => {
    expect(await data.subscriptions()).toEqual([]);
    expect(await data.ledger({ limit: 10 })).toEqual([]);
    expect((await data.lastStatuses()).size).toBe(0);
    expect(await data.auditFindings(10)).toBeUndefined();
    expect(await data.findSubmission('00000000-0000-4000-8000-000000000000')).toBeUndefined();
  });

  it('reads subscriptions, entitlements, usage, the latest ledger state, findings and submissions', async () => {
    const topology = { kind: 'single' } as const;
    await migrate(db.ch, 'aggregator', AGGREGATOR_MIGRATIONS, { database: db.name, topology });
    await migrate(db.ch, 'submitter', SUBMITTER_MIGRATIONS, { database: db.name, topology });
    await migrate(db.ch, 'auditor', AUDITOR_MIGRATIONS, { database: db.name, topology });
    await migrateConsole(db.ch, db.name, topology);
    await migrateConsole(db.ch, db.name, topology); // idempotent

    allowIdentifiers('audit_findings');
    const store = new Store(db.ch, db.name);
    await store.upsertEntitlements([
      {
        productCode: 'demo-platform',
        customer: '111122223333',
        dimension: 'seats',
        quantity: 10n,
        periodStart: H - 10 * HOUR,
        periodEnd: H + 10 * HOUR,
      },
    ]);
    const ents = await data.entitlements('demo-platform');
    expect(ents.map((e) => [e.customer, e.dimension, e.quantity, e.periodEnd])).toEqual([
      ['111122223333', 'seats', 10n, H + 10 * HOUR],
    ]);
    expect(await data.entitlements('demo-analytics')).toEqual([]);
    const odd = "O'Brien \\ Sons";
    await store.upsertSubscriptions([
      {
        productCode: 'demo-analytics',
        customer: odd,
        customerKind: 'identifier',
        licenseArn: '',
        buyerName: 'Old name',
        agreementId: 'a1',
        status: 'active',
        periodStart: H - 10 * HOUR,
        periodEnd: Date.UTC(2100, 0, 1),
        source: 'cli',
      },
    ]);
    await store.upsertSubscriptions([
      {
        productCode: 'demo-analytics',
        customer: odd,
        customerKind: 'identifier',
        licenseArn: '',
        buyerName: 'New name',
        agreementId: 'a1',
        status: 'active',
        periodStart: H - 10 * HOUR,
        periodEnd: Date.UTC(2100, 0, 1),
        source: 'cli',
      },
    ]);
    const subs = await data.subscriptions('demo-analytics');
    expect(subs.map((s) => [s.customer, s.buyerName, s.periodStart])).toEqual([
      [odd, 'New name', H - 10 * HOUR],
    ]);

    // Usage inside the contract period counts; an hour before it does not.
    await db.ch.insert(
      ident(`${db.name}.usage_windows`),
      [H - 11 * HOUR, H - 2 * HOUR, H - HOUR].map((hour, i) => ({
        product_code: 'demo-analytics',
        customer: odd,
        customer_kind: 'identifier',
        dimension: 'api_calls',
        hour: sec(hour),
        quantity_micros: String((i + 1) * 1_500_000),
        event_count: 1,
        late_quantity_micros: 0,
        late_event_count: 0,
        too_old_event_count: 0,
        duplicate_count: 0,
        first_event_at: sec(hour),
        last_event_at: sec(hour),
        frozen_at: sec(hour + HOUR),
        freeze_kind: 'watermark',
        kafka_partition: 0,
        request_id: '',
        early_all: 0,
      })),
    );
    const usage = await data.usageMicros('demo-analytics', [
      { customer: odd, from: new Date(H - 10 * HOUR), to: new Date(Date.UTC(2100, 0, 1)) },
    ]);
    expect(usage.get(`${odd}|api_calls`)).toBe(7_500_000n);

    await db.ch.insert(ident(`${db.name}.ledger`), [
      ledgerRow({
        customer: odd,
        dimension: 'api_calls',
        hour: H - HOUR,
        version: 1,
        state: 'frozen',
        quantity: 4,
      }),
      ledgerRow({
        customer: odd,
        dimension: 'api_calls',
        hour: H - HOUR,
        version: 2,
        state: 'accepted',
        quantity: 4,
      }),
      ledgerRow({
        customer: odd,
        dimension: 'api_calls',
        hour: H,
        version: 1,
        state: 'frozen',
        quantity: 2,
      }),
      ledgerRow({
        customer: odd,
        dimension: 'api_calls',
        hour: H,
        version: 3,
        state: 'rejected',
        quantity: 2,
        reason: 'nope',
      }),
      ledgerRow({
        customer: 'c2',
        dimension: 'exports',
        hour: H,
        version: 1,
        state: 'sending',
        quantity: 1,
      }),
      ledgerRow({
        product: 'demo-platform',
        customer: '111122223333',
        dimension: 'seats',
        hour: H - 2 * HOUR,
        version: 1,
        state: 'duplicate',
        quantity: 5,
      }),
    ]);
    const all = await data.ledger({ limit: 100 });
    expect(all.map((r) => [r.customer, r.hour.getTime(), r.status, r.quantity, r.reason])).toEqual([
      [odd, H, 'rejected', 2, 'nope'],
      ['c2', H, 'pending', 1, ''],
      [odd, H - HOUR, 'accepted', 4, ''],
      ['111122223333', H - 2 * HOUR, 'duplicate', 5, ''],
    ]);
    expect(
      (await data.ledger({ limit: 100, customer: odd, from: new Date(H) })).map((r) => r.status),
    ).toEqual(['rejected']);
    expect(
      (await data.ledger({ limit: 100, dimension: 'seats' })).map((r) => r.productCode),
    ).toEqual(['demo-platform']);
    expect(
      (await data.ledger({ limit: 100, productCode: 'demo-analytics', to: new Date(H) })).map(
        (r) => r.status,
      ),
    ).toEqual(['accepted']);
    expect(await data.ledger({ limit: 1 })).toHaveLength(1);

    const recs = await data.records([
      { productCode: 'demo-analytics', customer: odd, dimension: 'api_calls', hour: new Date(H) },
      { productCode: 'demo-analytics', customer: odd, dimension: 'exports', hour: new Date(H) },
    ]);
    expect(recs.map((r) => r.state)).toEqual(['rejected']);

    expect(Object.fromEntries(await data.lastStatuses())).toEqual({
      'demo-analytics': expect.stringMatching(/pending|rejected/),
      'demo-platform': 'duplicate',
    });
    expect(Object.fromEntries(await data.lastStatuses('demo-analytics'))).toEqual({
      [odd]: 'rejected',
      c2: 'pending',
    });

    await db.ch.insert(
      ident(`${db.name}.audit_findings`),
      [1, 2].map((version) => ({
        finding_id: 'f1',
        kind: 'quantity_mismatch',
        status: version === 1 ? 'open' : 'resolved',
        product_code: 'demo-analytics',
        customer: odd,
        customer_kind: 'identifier',
        dimension: 'api_calls',
        hour: sec(H),
        ledger_quantity: 2,
        ledger_state: 'accepted',
        cloudtrail_quantities: [3],
        cloudtrail_statuses: ['Success'],
        event_ids: [],
        metering_record_ids: [],
        ledger_record: '',
        raw_event: '',
        detail: 'ledger 2, CloudTrail 3',
        note: '',
        notified: 0,
        first_seen_at: sec(H + HOUR),
        updated_at: sec(H + HOUR),
        version,
      })),
    );
    const findings = await data.auditFindings(10);
    expect(
      findings?.map((f) => [f.kind, f.status, f.customer, f.hour?.getTime(), f.detail]),
    ).toEqual([['quantity_mismatch', 'resolved', odd, H, 'ledger 2, CloudTrail 3']]);

    const submission: Submission = {
      id: '11111111-2222-4333-8444-555555555555',
      actor: 'olga',
      productCode: 'demo-analytics',
      hour: new Date(H),
      at: new Date(H + 1234),
      lines: [
        {
          customer: odd,
          customerKind: 'identifier',
          licenseArn: '',
          dimension: 'api_calls',
          quantity: '2147483647',
          quantityMicros: 2_147_483_647_000_000n,
          eventId: 'console:x:0',
        },
        {
          customer: 'c2',
          customerKind: 'identifier',
          licenseArn: '',
          dimension: 'exports',
          quantity: '0.000001',
          quantityMicros: 1n,
          eventId: 'console:x:1',
        },
      ],
    };
    await data.recordSubmission(submission);
    expect(await data.findSubmission(submission.id)).toEqual(submission);
    const manual = await data.manualKeys('demo-analytics');
    expect(manual.get(`demo-analytics|${odd}|api_calls|${H}`)).toBe('olga');
    expect(manual.size).toBe(2);
  });
});
