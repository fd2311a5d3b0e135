import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LedgerRecord } from '@meterstream/contracts';
import type { CloudTrailRecord } from './parse.js';
import { reconcile } from './reconcile.js';
import { ledgerRecord } from '@meterstream/testing';

const H = Date.UTC(2026, 10, 26, 9);
const NOW = H + 2 * 3_600_000;
const opts = { readUntilMs: NOW, graceMs: 15 * 60_000 };

const ledger = (over: Partial<LedgerRecord> = {}): LedgerRecord =>
  ledgerRecord(
    { productCode: 'p1', customer: 'c1', dimension: 'gb', hour: H },
    {
      version: 2n,
      quantity: 10,
      meteringRecordId: 'mr-1',
      awsStatus: 'Success',
      batchId: 'b1',
      attempts: 1,
      updatedAt: H + 60_000,
      ...over,
    },
  );

function ct(over: Partial<CloudTrailRecord> = {}): CloudTrailRecord {
  return {
    eventId: 'ev-1',
    recordIndex: 0,
    eventName: 'BatchMeterUsage',
    eventTimeMs: H + 59_000,
    productCode: 'p1',
    customer: 'c1',
    customerKind: 'identifier',
    licenseArn: '',
    dimension: 'gb',
    timestampMs: H,
    hourMs: H,
    quantity: 10,
    requestQuantity: 10,
    status: 'Success',
    meteringRecordId: 'mr-1',
    errorCode: '',
    allocations: [],
    ...over,
  };
}

const kinds = (r: ReturnType<typeof reconcile>): string[] => r.findings.map((f) => f.kind).sort();

describe('reconcile', () => {
  it('matches a ledger record with its CloudTrail record (and identical retries)', () => {
    const r = reconcile([ledger()], [ct(), ct({ eventId: 'ev-2' })], opts);
    expect(r.findings).toEqual([]);
    expect(r.outcomes.matched).toBe(1);
    expect(r.summaries[0]).toMatchObject({
      matched: 1,
      ledgerAcceptedQuantity: 10,
      cloudTrailBilledQuantity: 10,
    });
  });

  it('flags an accepted record missing from CloudTrail only after the delivery grace', () => {
    expect(reconcile([ledger()], [], opts).findings.map((f) => f.kind)).toEqual([
      'missing_in_cloudtrail',
    ]);
    const early = reconcile([ledger()], [], { ...opts, readUntilMs: H + 60_000 + 60_000 });
    expect(early.findings).toEqual([]);
    expect(early.outcomes.pending).toBe(1);
    // Failed calls and unprocessed records are not deliveries of the record.
    const failed = reconcile(
      [ledger()],
      [ct({ status: 'Error', errorCode: 'ThrottlingException' })],
      opts,
    );
    expect(kinds(failed)).toEqual(['missing_in_cloudtrail']);
  });

  it('flags CloudTrail records the ledger does not know, with their event ids', () => {
    const r = reconcile([], [ct({ customer: 'foreign', eventId: 'ev-9' })], opts);
    expect(r.findings).toMatchObject([
      { kind: 'unknown_to_ledger', customer: 'foreign', eventIds: ['ev-9'] },
    ]);
  });

  it('flags a quantity that differs', () => {
    const r = reconcile([ledger()], [ct({ quantity: 11 })], opts);
    expect(r.findings).toMatchObject([
      { kind: 'quantity_mismatch', ledgerQuantity: 10, cloudTrailQuantities: [11] },
    ]);
  });

  it('flags a duplicate with another quantity as conflicting_duplicate only', () => {
    const r = reconcile([ledger()], [ct(), ct({ eventId: 'ev-2', quantity: 17 })], opts);
    expect(kinds(r)).toEqual(['conflicting_duplicate']);
    expect(r.findings[0]?.eventIds).toEqual(['ev-1', 'ev-2']);
    // A DuplicateRecord answer with another quantity is a conflicting send too.
    const d = reconcile(
      [ledger()],
      [ct(), ct({ eventId: 'ev-2', quantity: 3, status: 'DuplicateRecord' })],
      opts,
    );
    expect(kinds(d)).toEqual(['conflicting_duplicate']);
    // When neither quantity is the ledger's, both are reported.
    const both = reconcile(
      [ledger()],
      [ct({ quantity: 4 }), ct({ eventId: 'ev-2', quantity: 3 })],
      opts,
    );
    expect(kinds(both)).toEqual(['conflicting_duplicate', 'quantity_mismatch']);
  });

  it('flags statuses that differ', () => {
    expect(
      kinds(
        reconcile(
          [ledger()],
          [ct({ status: 'CustomerNotSubscribed', meteringRecordId: '' })],
          opts,
        ),
      ),
    ).toEqual(['status_mismatch']);
    expect(kinds(reconcile([ledger({ state: 'not_subscribed' })], [ct()], opts))).toEqual([
      'status_mismatch',
    ]);
    expect(kinds(reconcile([ledger({ state: 'rejected' })], [ct()], opts))).toEqual([
      'status_mismatch',
    ]);
    expect(kinds(reconcile([ledger({ meteringRecordId: 'mr-other' })], [ct()], opts))).toEqual([
      'status_mismatch',
    ]);
    const ns = reconcile(
      [ledger({ state: 'not_subscribed', quantity: 10 })],
      [ct({ status: 'CustomerNotSubscribed' })],
      opts,
    );
    expect(ns.findings).toEqual([]);
  });

  it('leaves records in flight alone until the submitter had time to record the answer', () => {
    const inFlight = reconcile(
      [ledger({ state: 'sending' })],
      [ct({ eventTimeMs: NOW - 60_000 })],
      opts,
    );
    expect(inFlight.findings).toEqual([]);
    expect(inFlight.outcomes.pending).toBe(1);
    expect(kinds(reconcile([ledger({ state: 'sending' })], [ct()], opts))).toEqual([
      'status_mismatch',
    ]);
    expect(reconcile([ledger({ state: 'expired' })], [], opts).outcomes.not_billed).toBe(1);
  });

  it('counts a held record as pending, never as missing from CloudTrail', () => {
    // Held long past the delivery grace: the record was never answered Success, so CloudTrail
    // has nothing for it, and it may still be sent before its deadline.
    const held = reconcile([ledger({ state: 'held', updatedAt: NOW - 86_400_000 })], [], opts);
    expect(held.findings).toEqual([]);
    expect(held.outcomes.pending).toBe(1);
    expect(kinds(reconcile([ledger({ state: 'held' })], [ct()], opts))).toEqual([
      'status_mismatch',
    ]);
  });

  it('keys by product, customer, dimension and hour: each side only meets its own key', () => {
    const other = { customer: 'c2' };
    const r = reconcile(
      [ledger(), ledger(other)],
      [ct(), ct({ ...other, eventId: 'ev-3', meteringRecordId: 'mr-1' })],
      opts,
    );
    expect(r.findings).toEqual([]);
    expect(r.summaries.map((s) => s.customer)).toEqual(['c1', 'c2']);
  });

  it('is clean for any set of faithfully logged records, and ids are stable', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.record({
            c: fc.constantFrom('a', 'b', 'c'),
            d: fc.constantFrom('x', 'y'),
            h: fc.nat(5),
            q: fc.nat(1000),
          }),
          {
            selector: (k) => `${k.c}|${k.d}|${k.h}`,
          },
        ),
        (keys) => {
          const l = keys.map((k, i) =>
            ledger({
              customer: k.c,
              dimension: k.d,
              hour: H + k.h * 3_600_000,
              quantity: k.q,
              meteringRecordId: `m${i}`,
            }),
          );
          const c = keys.map((k, i) =>
            ct({
              eventId: `e${i}`,
              customer: k.c,
              dimension: k.d,
              hourMs: H + k.h * 3_600_000,
              quantity: k.q,
              meteringRecordId: `m${i}`,
            }),
          );
          expect(reconcile(l, c, { ...opts, readUntilMs: NOW + 10 * 3_600_000 }).findings).toEqual(
            [],
          );
          const dropped = reconcile(l, c.slice(1), { ...opts, readUntilMs: NOW + 10 * 3_600_000 });
          expect(dropped.findings.map((f) => f.kind)).toEqual(
            keys.length > 0 ? ['missing_in_cloudtrail'] : [],
          );
        },
      ),
    );
    const a = reconcile([ledger()], [], opts).findings[0]?.id;
    expect(a).toBe(reconcile([ledger()], [], opts).findings[0]?.id);
    expect(a).not.toBe(reconcile([ledger({ hour: H + 3_600_000 })], [], opts).findings[0]?.id);
  });
});

describe('mergeReconciliations', () => {
  it('equals reconciling the whole range at once when the parts are disjoint hours', async () => {
    const { mergeReconciliations } = await import('./reconcile.js');
    const l = [ledger(), ledger({ hour: H + 3_600_000, quantity: 4 }), ledger({ customer: 'c2' })];
    const c = [ct(), ct({ eventId: 'e2', hourMs: H + 3_600_000, quantity: 5 })];
    const whole = reconcile(l, c, opts);
    const parts = mergeReconciliations([
      reconcile(
        l.filter((x) => x.hour === H),
        c.filter((x) => x.hourMs === H),
        opts,
      ),
      reconcile(
        l.filter((x) => x.hour !== H),
        c.filter((x) => x.hourMs !== H),
        opts,
      ),
    ]);
    expect(parts.outcomes).toEqual(whole.outcomes);
    expect(parts.summaries).toEqual(whole.summaries);
    expect(parts.findings.map((f) => f.id).sort()).toEqual(whole.findings.map((f) => f.id).sort());
  });
});
