import fc from 'fast-check';
import { raw, sql } from '@meterstream/clickhouse';
import { freshDatabase, type TestDatabase } from '@meterstream/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ENTITLEMENTS,
  ENTITLEMENT_TERMS,
  LEDGER,
  LEDGER_STATES,
  SUBSCRIPTIONS,
  entitlementFromRow,
  entitlementRows,
  ledgerFromRow,
  ledgerToRow,
  subscriptionFromRow,
  subscriptionToRow,
  type Entitlement,
  type LedgerRecord,
  type Subscription,
} from './index.js';

// Every table's codec against the real server: what a writer stores, a reader gets back exactly.
const HOUR = 3_600_000;
const hourArb = fc.integer({ min: 400_000, max: 500_000 }).map((h) => h * HOUR);
const secondArb = fc.integer({ min: 1_500_000_000, max: 1_900_000_000 }).map((s) => s * 1000);
const micros = fc.bigInt({ min: 0n, max: 2n ** 62n });
const textArb = fc.string({ maxLength: 20 });

const ledgerArb: fc.Arbitrary<LedgerRecord> = fc
  .record({
    productCode: textArb,
    customer: textArb,
    customerKind: fc.constantFrom('identifier' as const, 'account' as const),
    dimension: textArb,
    hour: hourArb,
    version: fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }),
    state: fc.constantFrom(...LEDGER_STATES),
    quantity: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    usageMicros: micros,
    billableMicros: micros,
    carryInMicros: micros,
    carryOutMicros: micros,
    meteringRecordId: textArb,
    awsStatus: textArb,
    reason: textArb,
    attempts: fc.nat(1000),
    batchId: textArb,
    runId: textArb,
    instanceId: textArb,
    workPartition: fc.nat(65535),
    licenseArn: textArb,
    pricePerUnit: textArb,
    deadline: secondArb,
    updatedAt: secondArb,
    earlier: fc.nat(3),
  })
  .map(({ earlier, ...r }) => ({ ...r, usageFromHour: r.hour - earlier * HOUR }));

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase('contracts');
  const ctx = { database: db.name, topology: { kind: 'single' as const } };
  for (const s of [
    ...LEDGER.create(ctx),
    ...LEDGER.addUsageFromHour(ctx),
    ...SUBSCRIPTIONS.create(ctx),
    ...ENTITLEMENTS.create(ctx),
    ...ENTITLEMENT_TERMS.create(ctx),
  ])
    await db.ch.command(s);
});
afterAll(() => db?.drop());

describe('table contracts on the real server', () => {
  it('ledger: a record written with ledgerToRow reads back equal with LEDGER.select', async () => {
    const records = fc.sample(ledgerArb, { numRuns: 200, seed: 20261202 });
    const byKey = new Map(records.map((r, i) => [`${i}`, { ...r, runId: `${i}` }]));
    await db.ch.insert(LEDGER.in(db.name), [...byKey.values()].map(ledgerToRow));
    const rows = await db.ch.query<Record<string, unknown>>(
      sql`SELECT ${raw(LEDGER.select)} FROM ${LEDGER.in(db.name)}`,
    );
    expect(rows).toHaveLength(records.length);
    for (const row of rows) {
      const read = ledgerFromRow(row);
      expect(read).toEqual(byKey.get(read.runId));
    }
  });

  it('subscriptions: the latest version wins and reads back equal', async () => {
    const sub: Subscription = {
      productCode: 'p1',
      customer: 'c1',
      customerKind: 'account',
      licenseArn: 'arn:aws:license-manager::1:license:l-1',
      buyerName: 'Buyer',
      agreementId: 'agmt-1',
      status: 'active',
      periodStart: Date.UTC(2026, 0, 1),
      periodEnd: Date.UTC(2027, 0, 1),
      source: 'test',
    };
    const cancelled = { ...sub, status: 'cancelled' as const };
    const now = Date.UTC(2026, 5, 1);
    await db.ch.insert(SUBSCRIPTIONS.in(db.name), [
      subscriptionToRow(sub, now, 0),
      subscriptionToRow(cancelled, now, 1),
    ]);
    const rows = await db.ch.query<Record<string, unknown>>(
      sql`SELECT ${raw(SUBSCRIPTIONS.select)} FROM ${SUBSCRIPTIONS.in(db.name)} FINAL`,
    );
    expect(rows.map(subscriptionFromRow)).toEqual([cancelled]);
  });

  it('entitlements: every term in entitlement_terms, the last one in entitlements', async () => {
    const first: Entitlement = {
      productCode: 'p1',
      customer: 'c1',
      dimension: 'users',
      quantity: 2n ** 40n,
      periodStart: Date.UTC(2026, 0, 1),
      periodEnd: Date.UTC(2026, 6, 1),
    };
    const renewal = {
      ...first,
      quantity: 7n,
      periodStart: first.periodEnd,
      periodEnd: Date.UTC(2027, 0, 1),
    };
    const { terms, current } = entitlementRows([first, renewal], Date.UTC(2026, 5, 1));
    await db.ch.insert(ENTITLEMENT_TERMS.in(db.name), terms);
    await db.ch.insert(ENTITLEMENTS.in(db.name), current);
    const read = async (t: typeof ENTITLEMENTS | typeof ENTITLEMENT_TERMS) =>
      (
        await db.ch.query<Record<string, unknown>>(
          sql`SELECT ${raw(t.select)} FROM ${t.in(db.name)} FINAL ORDER BY ps`,
        )
      ).map(entitlementFromRow);
    expect(await read(ENTITLEMENT_TERMS)).toEqual([first, renewal]);
    expect(await read(ENTITLEMENTS)).toEqual([renewal]);
  });
});
