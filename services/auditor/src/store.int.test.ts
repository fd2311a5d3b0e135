import { LEDGER, AUDIT_FINDINGS, ledgerToRow, type LedgerRecord } from '@meterstream/contracts';
import { HOUR_MS } from '@meterstream/runtime';
import { stackTest, type TestDatabase } from '@meterstream/testing';
import { describe, expect } from 'vitest';
import { migrateAuditor } from './migrations.js';
import { findingId } from './reconcile.js';
import { buildReport } from './report.js';
import { AuditStore } from './store.js';
import { ledgerRecord } from '@meterstream/testing';

const H = Date.UTC(2026, 0, 5, 9);
const key = { productCode: 'p1', customer: 'c1', dimension: 'gb', hour: H };

/** The auditor's tables, and the ledger as the submitter's migrations 1 and 3 make it. */
async function setUp(db: TestDatabase): Promise<AuditStore> {
  await migrateAuditor(db.ch, db.name, { kind: 'single' });
  const ctx = { database: db.name, topology: { kind: 'single' } as const };
  for (const s of [...LEDGER.create(ctx), ...LEDGER.addUsageFromHour(ctx)]) await db.ch.command(s);
  return new AuditStore(db.ch, db.name);
}

async function writeLedger(db: TestDatabase, records: readonly LedgerRecord[]): Promise<void> {
  await db.ch.insert(LEDGER.in(db.name), records.map(ledgerToRow));
}

const accepted = ledgerRecord(key, {
  version: 1_780_000_000_000_000_002n,
  quantity: 10,
  usageMicros: 10_400_000n,
  billableMicros: 10_400_000n,
  carryOutMicros: 400_000n,
  meteringRecordId: 'mr-1',
  awsStatus: 'Success',
  attempts: 1,
  updatedAt: H + 60_000,
  usageFromHour: H - HOUR_MS,
});

describe('AuditStore reads the ledger through its contract', () => {
  stackTest(
    'the latest version of each record, whole, by range, key and product',
    async ({ db }) => {
      const store = await setUp(db);
      const sending = { ...accepted, version: accepted.version - 1n, state: 'sending' as const };
      const other = ledgerRecord({ ...key, productCode: 'p2' }, { quantity: 3 });
      const later = ledgerRecord({ ...key, hour: H + HOUR_MS });
      await writeLedger(db, [sending, accepted, other, later]);
      const byProduct = (a: LedgerRecord, b: LedgerRecord): number =>
        a.productCode < b.productCode ? -1 : 1;
      expect((await store.ledger(H, H + HOUR_MS)).sort(byProduct)).toEqual([accepted, other]);
      const k = { ...key, hourMs: H };
      expect(await store.ledger(H, H + 2 * HOUR_MS, { key: k })).toEqual([accepted]);
      expect(await store.ledger(H, H + 2 * HOUR_MS, { productCodes: ['p2'] })).toEqual([other]);
    },
  );

  stackTest(
    'a finding keeps its ledger record as evidence, 64-bit values exact',
    async ({ db }) => {
      const store = await setUp(db);
      const id = findingId('missing_in_cloudtrail', ['p1', 'c1', 'gb', H]);
      await store.writeFindings(
        [
          {
            id,
            kind: 'missing_in_cloudtrail',
            ...key,
            customerKind: 'identifier',
            hourMs: H,
            ledgerQuantity: 10,
            ledgerState: 'accepted',
            cloudTrailQuantities: [],
            cloudTrailStatuses: [],
            eventIds: [],
            meteringRecordIds: [],
            ledger: accepted,
            detail: 'x',
            status: 'open',
            note: '',
            notified: false,
            notifiedChannels: [],
            firstSeenMs: H + HOUR_MS,
            updatedMs: H + HOUR_MS,
          },
        ],
        H + HOUR_MS,
      );
      const [f] = await store.findings({ ids: [id] });
      expect(f?.ledger).toEqual(accepted);
    },
  );

  stackTest(
    'a finding stored before the contract (old evidence) still reads and reports',
    async ({ db }) => {
      const store = await setUp(db);
      await writeLedger(db, [accepted]);
      const id = findingId('missing_in_cloudtrail', ['p1', 'c1', 'gb', H]);
      // What an auditor wrote before the ledger's contract: its own copy of the record's shape.
      const old = {
        productCode: 'p1',
        customer: 'c1',
        customerKind: 'identifier',
        dimension: 'gb',
        hourMs: H,
        version: 1_700_000_000_000_000,
        state: 'accepted',
        quantity: 10,
        meteringRecordId: 'mr-1',
        awsStatus: 'Success',
        licenseArn: '',
        batchId: '',
        attempts: 1,
        updatedAtMs: H + 60_000,
      };
      const s = (ms: number): number => Math.floor(ms / 1000);
      await db.ch.insert(AUDIT_FINDINGS.in(db.name), [
        {
          finding_id: id,
          kind: 'missing_in_cloudtrail',
          status: 'explained',
          product_code: 'p1',
          customer: 'c1',
          customer_kind: 'identifier',
          dimension: 'gb',
          hour: s(H),
          ledger_quantity: 10,
          ledger_state: 'accepted',
          cloudtrail_quantities: [],
          cloudtrail_statuses: [],
          event_ids: [],
          metering_record_ids: [],
          ledger_record: JSON.stringify(old),
          raw_event: '',
          detail: 'ledger accepted quantity 10; no CloudTrail record after the delivery grace',
          note: 'AWS support case 42',
          notified: 1,
          notified_channels: ['log'],
          first_seen_at: s(H + HOUR_MS),
          updated_at: s(H + HOUR_MS),
          version: 1,
        },
      ]);
      const [f] = await store.findings({ ids: [id] });
      expect(f?.ledger).toMatchObject({
        hour: H,
        version: 1_700_000_000_000_000n,
        updatedAt: H + 60_000,
        quantity: 10,
        usageMicros: 0n,
      });
      await store.saveCheckpoint('cloudtrail', H + 3 * HOUR_MS, H + 3 * HOUR_MS);
      const report = await buildReport(store, {
        fromMs: H,
        toMs: H + HOUR_MS,
        graceMs: 60_000,
        checkpointName: 'cloudtrail',
      });
      expect(report.findings.map((x) => [x.id, x.status, x.note, x.ledger])).toEqual([
        [id, 'explained', 'AWS support case 42', accepted],
      ]);
      expect(report.unexplained).toBe(0);
    },
  );
});
