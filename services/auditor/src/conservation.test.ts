import type { Entitlement, LedgerRecord } from '@meterstream/contracts';
import { describe, expect, it } from 'vitest';
import {
  checkContractTerms,
  conserve,
  ledgerBalance,
  ledgerBucket,
  reconciliationFindingUnits,
  type ConservationInput,
} from './conservation.js';
import type { Finding } from './reconcile.js';
import { ledgerRecord } from '@meterstream/testing';

const H = 3_600_000;
const M = 1_000_000n;
const T0 = Date.UTC(2026, 11, 1, 0);
const key = { productCode: 'p', customer: 'c', dimension: 'd' };

const rec = (hour: number, over: Partial<LedgerRecord> = {}): LedgerRecord =>
  ledgerRecord({ ...key, hour: T0 + hour * H }, over);

const input = (over: Partial<ConservationInput> = {}): ConservationInput => ({
  events: [],
  windows: [],
  ledger: [],
  carryBefore: new Map(),
  freeze: { closedThroughMs: T0 + 10 * H, closedAtMs: new Map() },
  ...over,
});
const opts = { nowMs: T0 + 20 * H, settleMs: 30 * 60_000 };

describe('ledgerBucket', () => {
  it('names the bucket by state and reason code', () => {
    expect(ledgerBucket('accepted', '')).toBe('billed');
    expect(ledgerBucket('sending', '')).toBe('in_flight');
    expect(ledgerBucket('held', 'unknown_subscription: no license')).toBe(
      'held:unknown_subscription',
    );
    expect(ledgerBucket('expired', 'deadline passed; it was held: quantity_above_max: 3e9')).toBe(
      'expired:quantity_above_max',
    );
    expect(ledgerBucket('expired', 'deadline passed')).toBe('expired:deadline');
    expect(ledgerBucket('rejected', 'InvalidUsageDimensionException: x')).toBe(
      'rejected:InvalidUsageDimensionException',
    );
  });
});

describe('ledgerBalance', () => {
  it('balances window + carry in = quantity + carry out', () => {
    const b = ledgerBalance(
      2_750_000n,
      500_000n,
      rec(0, {
        quantity: 3,
        usageMicros: 2_750_000n,
        billableMicros: 2_750_000n,
        carryInMicros: 500_000n,
        carryOutMicros: 250_000n,
      }),
    );
    expect(b).toMatchObject({ bucket: 'billed', units: 3n * M, unexplained: 0n });
  });

  it('explains a contract hour: the units within the entitlement are not billed', () => {
    const b = ledgerBalance(
      10n * M,
      0n,
      rec(0, { quantity: 4, usageMicros: 10n * M, billableMicros: 4n * M }),
    );
    expect(b).toMatchObject({ entitlement: 6n * M, units: 4n * M, unexplained: 0n });
  });

  it('explains the whole units of an hour above the AWS maximum as held', () => {
    const b = ledgerBalance(
      3_000_000_000n * M + 400_000n,
      0n,
      rec(0, {
        state: 'held',
        reason: 'quantity_above_max: 3000000000 units',
        usageMicros: 3_000_000_000n * M + 400_000n,
        billableMicros: 3_000_000_000n * M + 400_000n,
        carryOutMicros: 400_000n,
      }),
    );
    expect(b).toMatchObject({
      bucket: 'held:quantity_above_max',
      units: 3_000_000_000n * M,
      unexplained: 0n,
    });
  });

  it('explains a contract hour held (or expired held) for a missing entitlement: its usage is withheld, the carry passes through', () => {
    for (const [state, reason, bucket] of [
      ['held', 'missing_entitlement: no entitlement term covers it', 'held:missing_entitlement'],
      [
        'expired',
        'past the AWS deadline x; it was held: missing_entitlement: no term',
        'expired:missing_entitlement',
      ],
    ] as const) {
      const b = ledgerBalance(
        80n * M + 250_000n,
        300_000n,
        rec(0, {
          state,
          reason,
          usageMicros: 80n * M + 250_000n,
          billableMicros: 80n * M + 250_000n,
          carryInMicros: 300_000n,
          carryOutMicros: 300_000n,
        }),
      );
      expect(b).toMatchObject({
        bucket,
        units: 80n * M + 250_000n,
        entitlement: 0n,
        unexplained: 0n,
      });
    }
    // The same record read as a plain hold would be 80.25 units gone missing.
    expect(
      ledgerBalance(
        80n * M,
        0n,
        rec(0, {
          state: 'held',
          reason: 'no_plan: x',
          usageMicros: 80n * M,
          billableMicros: 80n * M,
        }),
      ).unexplained,
    ).toBe(80n * M);
  });

  it('finds a window the ledger took only in part, a dropped carry and a lost rounding', () => {
    expect(
      ledgerBalance(
        83n * M,
        0n,
        rec(0, { quantity: 39, usageMicros: 39n * M, billableMicros: 39n * M }),
      ).windowGap,
    ).toBe(44n * M);
    const dropped = ledgerBalance(0n, 900_000n, rec(0, { carryInMicros: 0n }));
    expect(dropped).toMatchObject({ carryGap: 900_000n, unexplained: 900_000n });
    const rounding = ledgerBalance(
      2_500_000n,
      0n,
      rec(0, { quantity: 2, usageMicros: 2_500_000n, billableMicros: 2_500_000n }),
    );
    expect(rounding).toMatchObject({ roundingGap: 500_000n, unexplained: 500_000n });
  });
});

describe('conserve', () => {
  it('a clean chain has no findings and balances to pending carry', () => {
    const c = conserve(
      input({
        events: [
          { ...key, hourMs: T0, micros: 2_750_000n, tooOldMicros: 0n, events: 2 },
          { ...key, hourMs: T0 + H, micros: 2n * M, tooOldMicros: 500_000n, events: 2 },
        ],
        windows: [
          { ...key, hourMs: T0, micros: 2_750_000n, partitions: 1 },
          { ...key, hourMs: T0 + H, micros: 2_500_000n, partitions: 2 },
        ],
        ledger: [
          rec(0, {
            quantity: 3,
            usageMicros: 2_750_000n,
            billableMicros: 2_750_000n,
            carryInMicros: 500_000n,
            carryOutMicros: 250_000n,
          }),
          rec(1, {
            quantity: 2,
            usageMicros: 2_500_000n,
            billableMicros: 2_500_000n,
            carryInMicros: 250_000n,
            carryOutMicros: 750_000n,
          }),
        ],
        carryBefore: new Map([['["p","c","d"]', { hourMs: T0 - H, carryOutMicros: 500_000n }]]),
      }),
      opts,
    );
    expect(c.findings).toEqual([]);
    expect(c.eventsWindows).toMatchObject({
      eventsMicros: 4_750_000n,
      tooOldMicros: 500_000n,
      windowsMicros: 5_250_000n,
      unexplainedMicros: 0n,
    });
    // 5.25 in windows + 0.5 carried in = 5 billed + 0.75 pending carry.
    expect(c.windowsLedger).toEqual({
      windowsMicros: 5_250_000n,
      carryInMicros: 500_000n,
      buckets: { billed: 5n * M, pending_carry: 750_000n },
      unexplainedMicros: 0n,
      unbilledMicros: 0n,
    });
  });

  it('reports an event without a window in a closed hour, not in an open one', () => {
    const c = conserve(
      input({
        events: [
          { ...key, hourMs: T0, micros: 4n * M, tooOldMicros: 0n, events: 1 },
          { ...key, hourMs: T0 + 11 * H, micros: 1n * M, tooOldMicros: 0n, events: 1 },
        ],
      }),
      opts,
    );
    expect(c.findings.map((f) => [f.kind, f.hourMs, JSON.parse(f.raw ?? '{}')])).toEqual([
      [
        'conservation_events_windows',
        T0,
        {
          events_micros: '4000000',
          too_old_micros: '0',
          windows_micros: '0',
          unexplained_micros: '4000000',
        },
      ],
    ]);
    expect(c.eventsWindows.openEventsMicros).toBe(1n * M);
    expect(c.eventsWindows.unexplainedMicros).toBe(4n * M);
  });

  it('a window without a ledger record awaits the planner until its hour settled', () => {
    const windows = [{ ...key, hourMs: T0 + 2 * H, micros: 3n * M, partitions: 1 }];
    const events = [{ ...key, hourMs: T0 + 2 * H, micros: 3n * M, tooOldMicros: 0n, events: 3 }];
    const closedAtMs = new Map([[T0 + 2 * H, T0 + 3 * H + 60_000]]);
    const early = conserve(
      input({ events, windows, freeze: { closedThroughMs: T0 + 2 * H, closedAtMs } }),
      {
        nowMs: T0 + 3 * H + 120_000,
        settleMs: 30 * 60_000,
      },
    );
    expect(early.findings).toEqual([]);
    expect(early.windowsLedger.buckets).toEqual({ awaiting_planner: 3n * M });
    const late = conserve(
      input({ events, windows, freeze: { closedThroughMs: T0 + 2 * H, closedAtMs } }),
      {
        nowMs: T0 + 4 * H,
        settleMs: 30 * 60_000,
      },
    );
    expect(late.findings.map((f) => [f.kind, f.detail])).toEqual([
      [
        'conservation_windows_ledger',
        'window 3 has no ledger record though its hour is frozen on every partition: 3 unexplained',
      ],
    ]);
    expect(late.windowsLedger.unexplainedMicros).toBe(3n * M);
  });

  it('finding ids are stable per kind and key', () => {
    const run = (): string[] =>
      conserve(
        input({ events: [{ ...key, hourMs: T0, micros: 1n, tooOldMicros: 0n, events: 1 }] }),
        opts,
      ).findings.map((f) => f.id);
    expect(run()).toEqual(run());
  });
});

describe('reconciliationFindingUnits', () => {
  const f = (over: Partial<Finding>): Finding => ({
    id: 'x',
    kind: 'missing_in_cloudtrail',
    productCode: 'p',
    customer: 'c',
    customerKind: '',
    dimension: 'd',
    hourMs: T0,
    ledgerQuantity: 9,
    ledgerState: 'accepted',
    cloudTrailQuantities: [],
    cloudTrailStatuses: [],
    eventIds: [],
    meteringRecordIds: [],
    ledger: null,
    detail: '',
    ...over,
  });
  it('counts the units the ledger and CloudTrail disagree on', () => {
    expect(reconciliationFindingUnits(f({}))).toBe(9);
    expect(
      reconciliationFindingUnits(f({ kind: 'quantity_mismatch', cloudTrailQuantities: [7] })),
    ).toBe(2);
    expect(
      reconciliationFindingUnits(
        f({ kind: 'unknown_to_ledger', ledgerQuantity: null, cloudTrailQuantities: [4] }),
      ),
    ).toBe(4);
  });
});

// Issue 13: each loss it lists, in the shape it leaves in the tables when its fix is disabled, is
// one finding with its exact amount. (Item 5 — a missing entitlement billed as overage — bills
// too much rather than losing usage, and item 8 — ingest reading a quantity wrongly — happens
// before the first table; the conservation chain cannot see either, their own tests cover them.)
describe('conserve: each loss of issue 13 with its fix disabled is a finding', () => {
  const other = { productCode: 'p', customer: 'other', dimension: 'd' };
  // The events of each window, unless a test says otherwise: only the stage under test differs.
  const findingsOf = (i: ConservationInput) =>
    conserve(
      i.events.length > 0
        ? i
        : { ...i, events: i.windows.map((w) => ({ ...w, tooOldMicros: 0n, events: 1 })) },
      opts,
    ).findings.map((f) => ({
      kind: f.kind,
      customer: f.customer,
      amounts: JSON.parse(f.raw ?? '{}') as Record<string, string>,
    }));

  it('item 1: a poison key stops the planner, so other keys windows never reach the ledger', () => {
    expect(
      findingsOf(
        input({
          windows: [
            { ...key, hourMs: T0, micros: 3_000_000_000n * M, partitions: 1 },
            { ...other, hourMs: T0, micros: 5n * M, partitions: 1 },
          ],
        }),
      ),
    ).toEqual([
      {
        kind: 'conservation_windows_ledger',
        customer: 'c',
        amounts: expect.objectContaining({ unexplained_micros: (3_000_000_000n * M).toString() }),
      },
      {
        kind: 'conservation_windows_ledger',
        customer: 'other',
        amounts: expect.objectContaining({ unexplained_micros: '5000000' }),
      },
    ]);
  });

  it('item 2: one partition window of two billed (83 used, 39 billed)', () => {
    const f = findingsOf(
      input({
        windows: [{ ...key, hourMs: T0, micros: 83n * M, partitions: 2 }],
        ledger: [rec(0, { quantity: 39, usageMicros: 39n * M, billableMicros: 39n * M })],
      }),
    );
    expect(f).toEqual([
      {
        kind: 'conservation_windows_ledger',
        customer: 'c',
        amounts: expect.objectContaining({ unexplained_micros: '44000000' }),
      },
    ]);
  });

  it('item 3: the planner race writes a zero record over a window', () => {
    const f = findingsOf(
      input({
        windows: [{ ...key, hourMs: T0, micros: 4n * M, partitions: 1 }],
        ledger: [rec(0)],
      }),
    );
    expect(f.map((x) => [x.kind, x.amounts.unexplained_micros])).toEqual([
      ['conservation_windows_ledger', '4000000'],
    ]);
  });

  it('items 4 and 6: usage rejected for good or expired while held is unbilled, with its amount', () => {
    const f = findingsOf(
      input({
        windows: [
          { ...key, hourMs: T0, micros: 7n * M, partitions: 1 },
          { ...other, hourMs: T0, micros: 6n * M, partitions: 1 },
        ],
        ledger: [
          rec(0, {
            state: 'rejected',
            reason: 'InvalidLicenseException: no license for the customer',
            quantity: 7,
            usageMicros: 7n * M,
            billableMicros: 7n * M,
          }),
          {
            ...rec(0, {
              state: 'expired',
              reason: 'deadline passed; it was held: dimension_not_in_plan: dimension d',
              quantity: 6,
              usageMicros: 6n * M,
              billableMicros: 6n * M,
            }),
            ...other,
          },
        ],
      }),
    );
    expect(f).toEqual([
      {
        kind: 'conservation_unbilled',
        customer: 'c',
        amounts: { unbilled_micros: '7000000', windows_micros: '7000000' },
      },
      {
        kind: 'conservation_unbilled',
        customer: 'other',
        amounts: { unbilled_micros: '6000000', windows_micros: '6000000' },
      },
    ]);
    const c = conserve(input({ ledger: [], windows: [] }), opts);
    expect(c.windowsLedger.unbilledMicros).toBe(0n);
  });

  it('item 7: a dropped carry and a re-sent id counted twice', () => {
    const f = findingsOf(
      input({
        events: [
          { ...key, hourMs: T0, micros: 1_900_000n, tooOldMicros: 0n, events: 1 },
          { ...key, hourMs: T0 + H, micros: 3n * M, tooOldMicros: 0n, events: 1 },
        ],
        windows: [
          { ...key, hourMs: T0, micros: 1_900_000n, partitions: 1 },
          { ...key, hourMs: T0 + H, micros: 6n * M, partitions: 1 },
        ],
        ledger: [
          rec(0, {
            quantity: 1,
            usageMicros: 1_900_000n,
            billableMicros: 1_900_000n,
            carryOutMicros: 900_000n,
          }),
          rec(1, { quantity: 6, usageMicros: 6n * M, billableMicros: 6n * M }),
        ],
      }),
    );
    expect(f.map((x) => [x.kind, x.amounts.unexplained_micros])).toEqual([
      ['conservation_events_windows', '-3000000'],
      ['conservation_windows_ledger', '900000'],
    ]);
  });
});

describe('checkContractTerms (issue 13, item 5)', () => {
  const term = (startHour: number, endHour: number, quantity: bigint): Entitlement => ({
    ...key,
    quantity,
    periodStart: T0 + startHour * H,
    periodEnd: T0 + endHour * H,
  });
  const used = (hour: number, usage: bigint, billable: bigint): LedgerRecord =>
    rec(hour, { usageMicros: usage, billableMicros: billable, quantity: Number(billable / M) });
  const amounts = (fs: Finding[]) =>
    fs.map((f) => [f.customer, f.hourMs, JSON.parse(f.raw ?? '{}') as Record<string, string>]);
  const range = [T0, T0 + 10 * H] as const;

  it('finds nothing when each hour bills what its term leaves', () => {
    const terms = [term(0, 2, 100n), term(2, 100, 50n)];
    const ledger = [used(0, 60n * M, 0n), used(1, 60n * M, 20n * M), used(2, 70n * M, 20n * M)];
    expect(checkContractTerms(terms, ledger, ...range).findings).toEqual([]);
  });

  it('a renewal that kept the first term’s start (billed 20 in the new term instead of 0): one finding', () => {
    const terms = [term(0, 2, 100n), term(2, 100, 100n)];
    // The unfixed planner counted the old term's 120 against the new term's 100 included.
    const ledger = [used(0, 60n * M, 0n), used(1, 60n * M, 20n * M), used(2, 20n * M, 20n * M)];
    expect(checkContractTerms(terms, ledger, ...range).unexplainedMicros).toBe(20n * M);
    expect(amounts(checkContractTerms(terms, ledger, ...range).findings)).toEqual([
      [
        'c',
        T0 + 2 * H,
        {
          billable_micros: '20000000',
          expected_billable_micros: '0',
          usage_micros: '20000000',
          used_before_micros: '0',
          entitled_micros: '100000000',
        },
      ],
    ]);
  });

  it('usage billed with no term of the customer (the unfixed entitlement 0): one finding; a known contract’s other dimension is not', () => {
    const other = { ...term(0, 100, 10n), customer: 'other' };
    const known = { ...term(0, 100, 10n), dimension: 'seats' };
    const ledger: LedgerRecord[] = [
      { ...used(3, 80n * M, 80n * M), customer: 'stranger' },
      used(3, 5n * M, 5n * M), // key c|d has no term, but c's contract (seats) is known
      {
        ...used(4, 9n * M, 9n * M),
        customer: 'stranger',
        state: 'held',
        reason: 'missing_entitlement: x',
      },
    ];
    expect(amounts(checkContractTerms([other, known], ledger, ...range).findings)).toEqual([
      [
        'stranger',
        T0 + 3 * H,
        { billable_micros: '80000000', usage_micros: '80000000', entitled_micros: '0' },
      ],
    ]);
  });

  it('does not judge a term that began before the ledger it was given', () => {
    const ledger = [used(5, 10n * M, 10n * M)];
    expect(checkContractTerms([term(0, 100, 100n)], ledger, ...range, T0 + 5 * H).findings).toEqual(
      [],
    );
    expect(checkContractTerms([term(0, 100, 100n)], ledger, ...range).findings).toHaveLength(1);
  });
});
