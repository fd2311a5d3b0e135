import { isMeterstreamError } from '@meterstream/errors';
import { describe, expect, it } from 'vitest';
import {
  FINDING_TRANSITIONS,
  assertFindingTransition,
  ledgerEvidence,
  ledgerFromEvidence,
  type FindingStatus,
} from './audit-findings.js';
import type { LedgerRecord } from './ledger.js';

const H = Date.UTC(2026, 10, 26, 9);

const record: LedgerRecord = {
  productCode: 'p1',
  customer: 'c1',
  customerKind: 'account',
  dimension: 'gb',
  hour: H,
  version: 1_780_000_000_000_000_123n,
  state: 'accepted',
  quantity: 10,
  usageMicros: 10_400_000n,
  billableMicros: 10_400_000n,
  carryInMicros: 0n,
  carryOutMicros: 400_000n,
  meteringRecordId: 'mr-1',
  awsStatus: 'Success',
  reason: '',
  attempts: 1,
  batchId: 'b1',
  runId: 'r1',
  instanceId: 'i1',
  workPartition: 3,
  licenseArn: 'arn:aws:license-manager::1:license:l-1',
  pricePerUnit: '0.01',
  deadline: H + 6 * 3_600_000,
  updatedAt: H + 60_000,
  usageFromHour: H - 3_600_000,
};

describe('ledger_record evidence', () => {
  it('round-trips a ledger record, 64-bit values exactly (as decimal strings)', () => {
    const json = ledgerEvidence(record);
    expect(JSON.parse(json)).toMatchObject({ version: '1780000000000000123', hour: H });
    expect(ledgerFromEvidence(json)).toEqual(record);
  });

  it('is empty without a record, and reads back as none', () => {
    expect(ledgerEvidence(null)).toBe('');
    expect(ledgerFromEvidence('')).toBeNull();
  });

  it('reads what auditors wrote before the ledger contract (hourMs, updatedAtMs, numeric version)', () => {
    const old = JSON.stringify({
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
      batchId: 'b1',
      attempts: 1,
      updatedAtMs: H + 60_000,
    });
    expect(ledgerFromEvidence(old)).toEqual({
      productCode: 'p1',
      customer: 'c1',
      customerKind: 'identifier',
      dimension: 'gb',
      hour: H,
      version: 1_700_000_000_000_000n,
      state: 'accepted',
      quantity: 10,
      // What the old evidence did not carry reads as zero or empty.
      usageMicros: 0n,
      billableMicros: 0n,
      carryInMicros: 0n,
      carryOutMicros: 0n,
      meteringRecordId: 'mr-1',
      awsStatus: 'Success',
      reason: '',
      attempts: 1,
      batchId: 'b1',
      runId: '',
      instanceId: '',
      workPartition: 0,
      licenseArn: '',
      pricePerUnit: '',
      deadline: 0,
      updatedAt: H + 60_000,
      usageFromHour: H,
    });
  });
});

describe('finding transitions', () => {
  it('allows what the table lists and refuses the rest with ILLEGAL_STATE_TRANSITION', () => {
    const all: FindingStatus[] = ['open', 'explained', 'resolved'];
    for (const from of all) {
      for (const to of all) {
        const legal = FINDING_TRANSITIONS[from].includes(to);
        if (legal) expect(() => assertFindingTransition(from, to)).not.toThrow();
        else {
          try {
            assertFindingTransition(from, to);
            expect.unreachable(`${from} -> ${to} passed`);
          } catch (err) {
            expect(isMeterstreamError(err, 'ILLEGAL_STATE_TRANSITION')).toBe(true);
          }
        }
      }
    }
    // The audit never resolves or reopens what an operator explained.
    expect(FINDING_TRANSITIONS.explained).toEqual(['explained']);
    // A new finding starts open, nothing else.
    expect(() => assertFindingTransition(undefined, 'open')).not.toThrow();
    expect(() => assertFindingTransition(undefined, 'resolved')).toThrow(/\(new\) -> resolved/);
  });
});
