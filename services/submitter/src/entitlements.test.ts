import { describe, expect, it } from 'vitest';
import { PlanCatalog, validatePlan } from '@meterstream/plans';
import { MICROS } from '@meterstream/runtime';
import { VersionClock, heldReasonOf, recordKey, type LedgerRecord } from './ledger.js';
import { OPEN_END_MS, monthStartOf, termAt, termFor } from './entitlements.js';
import { freeze, type FreezeContext, type FreezeResult } from './planner.js';
import type { Entitlement, Store, UsageWindow } from './store.js';

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 10, 15, 12, 30);
const M = MICROS;
const KEY = { productCode: 'c', customer: 'cust', dimension: 'seats' };

describe('termFor (contract terms from GetEntitlements expiration dates)', () => {
  const e = (quantity: bigint, expirationMs: number | undefined) => ({
    ...KEY,
    quantity,
    expirationMs,
  });
  const JAN = Date.UTC(2026, 0, 1);
  const JUL = Date.UTC(2026, 6, 1);
  const NEXT_JAN = Date.UTC(2027, 0, 1);

  it('starts the first term at the subscription start, else at the sync time’s month start', () => {
    expect(termFor([], { periodStart: JAN }, e(100n, NEXT_JAN), NOW)).toEqual({
      ...KEY,
      quantity: 100n,
      periodStart: JAN,
      periodEnd: NEXT_JAN,
    });
    // Unknown (no subscription, or the registry's "no start given" 1970).
    for (const sub of [undefined, { periodStart: 0 }]) {
      expect(termFor([], sub, e(100n, undefined), NOW)).toMatchObject({
        periodStart: monthStartOf(NOW),
        periodEnd: OPEN_END_MS,
      });
    }
    expect(monthStartOf(NOW)).toBe(Date.UTC(2026, 10, 1));
  });

  it('starts a renewal at the previous term’s end and keeps the old term', () => {
    const first: Entitlement = { ...KEY, quantity: 100n, periodStart: JAN, periodEnd: JUL };
    expect(termFor([first], { periodStart: JAN }, e(120n, NEXT_JAN), NOW)).toEqual({
      ...KEY,
      quantity: 120n,
      periodStart: JUL,
      periodEnd: NEXT_JAN,
    });
  });

  it('amends the current term (same end), ends it early, and ignores what it cannot place', () => {
    const t: Entitlement = { ...KEY, quantity: 100n, periodStart: JUL, periodEnd: NEXT_JAN };
    const old: Entitlement = { ...KEY, quantity: 50n, periodStart: JAN, periodEnd: JUL };
    expect(termFor([old, t], undefined, e(100n, NEXT_JAN), NOW)).toBeUndefined();
    expect(termFor([old, t], undefined, e(150n, NEXT_JAN), NOW)).toEqual({ ...t, quantity: 150n });
    const early = Date.UTC(2026, 9, 1);
    expect(termFor([old, t], undefined, e(100n, early), NOW)).toEqual({ ...t, periodEnd: early });
    expect(termFor([old, t], undefined, e(100n, JUL - HOUR), NOW)).toBeUndefined();
  });

  it('finds the term an hour falls in (start inclusive, end exclusive)', () => {
    const a: Entitlement = { ...KEY, quantity: 1n, periodStart: JAN, periodEnd: JUL };
    const b: Entitlement = { ...KEY, quantity: 2n, periodStart: JUL, periodEnd: NEXT_JAN };
    expect(termAt([a, b], JUL - HOUR)).toBe(a);
    expect(termAt([a, b], JUL)).toBe(b);
    expect(termAt([a, b], NEXT_JAN)).toBeUndefined();
    expect(termAt([a, b], JAN - HOUR)).toBeUndefined();
  });
});

const contractPlans = (): PlanCatalog => {
  const { plan, issues } = validatePlan({
    productCode: 'c',
    name: 'C',
    pricingModel: 'contract',
    versions: [
      {
        effectiveFrom: '2025-01-01T00:00:00Z',
        dimensions: [{ name: 'seats', unit: 'u', pricePerUnit: '1' }],
      },
    ],
  });
  expect(issues).toEqual([]);
  return new PlanCatalog([plan as NonNullable<typeof plan>]);
};

/** A store that keeps a ledger (latest version per record) and serves windows and terms. */
class MemStore {
  ledger = new Map<string, LedgerRecord>();
  windows: UsageWindow[] = [];
  terms: Entitlement[] = [];

  store(): Store {
    const s: Partial<Store> = {
      fullyFrozenHours: () => Promise.resolve([...new Set(this.windows.map((w) => w.hour))]),
      pendingWindows: () =>
        Promise.resolve(this.windows.filter((w) => !this.ledger.has(recordKey(w)))),
      subscriptions: () => Promise.resolve([]),
      entitlements: () => Promise.resolve(this.terms),
      hourFills: () => Promise.resolve(new Set<string>()),
      markHourFills: () => Promise.resolve(),
      latestPerKey: () => {
        const out = new Map<string, { hour: number; carryOutMicros: bigint }>();
        for (const r of this.ledger.values()) {
          const k = `${r.productCode}|${r.customer}|${r.dimension}`;
          const cur = out.get(k);
          if (!cur || cur.hour < r.hour)
            out.set(k, { hour: r.hour, carryOutMicros: r.carryOutMicros });
        }
        return Promise.resolve(out);
      },
      latestPerKeyOf: () => Promise.resolve(new Map()),
      windowsBetween: (_p, from, to) =>
        Promise.resolve(this.windows.filter((w) => w.hour >= from && w.hour < to)),
      ledgerByState: (states, from) =>
        Promise.resolve(
          [...this.ledger.values()].filter((r) => states.includes(r.state) && r.hour >= from),
        ),
      writeLedger: (rs) => {
        for (const r of rs) {
          const cur = this.ledger.get(recordKey(r));
          if (!cur || cur.version < r.version) this.ledger.set(recordKey(r), r);
        }
        return Promise.resolve();
      },
    };
    return s as Store;
  }

  window(hour: number, micros: bigint): void {
    this.windows.push({
      ...KEY,
      customerKind: 'identifier',
      hour,
      quantityMicros: micros,
      usageFromHour: hour,
    });
  }

  at(hour: number): LedgerRecord {
    return this.ledger.get(recordKey({ ...KEY, hour })) as LedgerRecord;
  }
}

let clockMs = NOW;
const vclock = new VersionClock(() => clockMs);
const run = (mem: MemStore): Promise<FreezeResult> => {
  clockMs += 1000;
  const ctx: FreezeContext = {
    store: mem.store(),
    plans: contractPlans(),
    clock: vclock,
    usagePartitions: 1,
    workPartitions: 1,
    owned: [0],
    lookbackHours: 30,
    runId: `r${clockMs}`,
    instanceId: 'i',
  };
  return freeze(ctx, NOW);
};
const H1 = Date.UTC(2026, 10, 15, 6);

describe('contract hours and their terms (issue 13, item 5)', () => {
  it('holds usage without an entitlement term instead of billing it as overage', async () => {
    const mem = new MemStore();
    mem.window(H1, 80n * M);
    const out = await run(mem);
    expect(out.missingEntitlements).toEqual(['c']);
    const r = mem.at(H1);
    // Today's main: entitlement 0, all 80 units billed as overage.
    expect(r).toMatchObject({ state: 'held', quantity: 0, attempts: 0, usageMicros: 80n * M });
    expect(heldReasonOf(r.reason)).toBe('missing_entitlement');
    // The whole usage is held (billable = usage: nothing consumed yet); the carry passes through.
    expect(r.billableMicros).toBe(80n * M);
    expect(r.carryOutMicros).toBe(r.carryInMicros);
  });

  it('bills all usage of a dimension the known contract includes nothing of (pay-as-you-go)', async () => {
    const mem = new MemStore();
    mem.window(H1, 7n * M);
    // The customer's contract is known (a term of another dimension covers the hour).
    mem.terms.push({
      ...KEY,
      dimension: 'storage',
      quantity: 100n,
      periodStart: H1 - 24 * HOUR,
      periodEnd: H1 + 24 * HOUR,
    });
    const out = await run(mem);
    expect(out.missingEntitlements).toEqual([]);
    expect(mem.at(H1)).toMatchObject({ state: 'frozen', quantity: 7, billableMicros: 7n * M });
  });

  it('plans the held hours once the term is known: 80 of 100 bills 0, then the overage, carry exact', async () => {
    const mem = new MemStore();
    // 50.6 + 49.6 + 10.3 = 110.5 units against 100 included: 10.5 overage, 10 billed, 0.5 carried.
    mem.window(H1, 50_600_000n);
    mem.window(H1 + HOUR, 49_600_000n);
    mem.window(H1 + 2 * HOUR, 10_300_000n);
    await run(mem);
    expect([0, 1, 2].map((i) => mem.at(H1 + i * HOUR).state)).toEqual(['held', 'held', 'held']);
    // The later hours wait behind the first: their carry cannot be settled before its.
    expect(mem.at(H1 + HOUR).reason).toMatch(/^missing_entitlement: an earlier hour/);
    // Another run without the term changes nothing (an unchanged hold writes no version).
    const again = await run(mem);
    expect(again.frozen).toEqual([]);
    expect(again.rewritten).toEqual([]);

    mem.terms = [{ ...KEY, quantity: 100n, periodStart: H1 - 24 * HOUR, periodEnd: OPEN_END_MS }];
    const out = await run(mem);
    expect(out.missingEntitlements).toEqual([]);
    const rs = [0, 1, 2].map((i) => mem.at(H1 + i * HOUR));
    expect(rs.map((r) => [r.state, r.quantity, r.billableMicros, r.carryOutMicros])).toEqual([
      ['frozen', 0, 0n, 0n],
      ['frozen', 0, 200_000n, 200_000n],
      ['frozen', 10, 10_300_000n, 500_000n],
    ]);
    for (let i = 1; i < rs.length; i++)
      expect(rs[i]?.carryInMicros).toBe(rs[i - 1]?.carryOutMicros);
    // Invariant 5: billed + carry = the overage, rounded once.
    expect(rs.reduce((n, r) => n + BigInt(r.quantity), 0n) * M + 500_000n).toBe(10_500_000n);

    // A new hour of the key chains from the planned ones, as usual.
    mem.window(H1 + 3 * HOUR, 1_600_000n);
    await run(mem);
    expect(mem.at(H1 + 3 * HOUR)).toMatchObject({
      state: 'frozen',
      quantity: 2,
      carryInMicros: 500_000n,
      carryOutMicros: 100_000n,
    });
  });

  it('counts usage against the term its hour falls in: a renewal starts from zero', async () => {
    const mem = new MemStore();
    const renewal = H1 + 2 * HOUR;
    mem.terms = [
      { ...KEY, quantity: 100n, periodStart: H1 - 24 * HOUR, periodEnd: renewal },
      { ...KEY, quantity: 100n, periodStart: renewal, periodEnd: OPEN_END_MS },
    ];
    mem.window(H1, 60n * M);
    mem.window(H1 + HOUR, 50n * M); // 110 in the first term: 10 overage
    mem.window(renewal, 80n * M); // 80 of the new term's 100: nothing billed
    mem.window(renewal + HOUR, 30n * M); // 110 in the new term: 10 overage
    await run(mem);
    expect([0, 1, 2, 3].map((i) => mem.at(H1 + i * HOUR).quantity)).toEqual([0, 10, 0, 10]);
  });

  it('keeps later hours behind an hour with no term until that one expires, then plans them exactly', async () => {
    const mem = new MemStore();
    // The term starts one hour too late for the first hour (e.g. a month-start guess).
    mem.terms = [{ ...KEY, quantity: 5n, periodStart: H1 + HOUR, periodEnd: OPEN_END_MS }];
    mem.window(H1, 2_700_000n);
    mem.window(H1 + HOUR, 7_400_000n);
    await run(mem);
    expect(mem.at(H1).state).toBe('held');
    // The second hour has a term, but its carry depends on the first: it waits.
    expect(mem.at(H1 + HOUR)).toMatchObject({ state: 'held', quantity: 0 });
    // The first hour reaches its AWS deadline (the sender expires it, carry unchanged).
    const first = mem.at(H1);
    mem.ledger.set(recordKey(first), {
      ...first,
      state: 'expired',
      version: first.version + 10n,
      reason: `past the AWS deadline; it was held: ${first.reason}`,
    });
    const out = await run(mem);
    expect(out.frozen.map((r) => r.hour)).toEqual([H1 + HOUR]);
    // 7.4 used of 5 included: 2.4 overage, 2 billed, 0.4 carried.
    expect(mem.at(H1 + HOUR)).toMatchObject({
      state: 'frozen',
      quantity: 2,
      carryInMicros: 0n,
      carryOutMicros: 400_000n,
    });
  });
});
