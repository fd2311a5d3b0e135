import { describe, expect, it } from 'vitest';
import { PlanCatalog, validatePlan } from '@meterstream/plans';
import { MICROS } from '@meterstream/runtime';
import { VersionClock, heldReasonOf, type LedgerRecord } from './ledger.js';
import { freeze, type FreezeContext } from './planner.js';
import type { Store, Subscription, UsageWindow } from './store.js';

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 10, 15, 12, 30);
const H = Date.UTC(2026, 10, 15, 8);

const plans = (): PlanCatalog => {
  const { plan, issues } = validatePlan({
    productCode: 'p',
    name: 'P',
    pricingModel: 'subscription',
    versions: [
      {
        effectiveFrom: '2025-01-01T00:00:00Z',
        dimensions: [{ name: 'api', unit: 'u', pricePerUnit: '1' }],
      },
    ],
  });
  expect(issues).toEqual([]);
  return new PlanCatalog([plan as NonNullable<typeof plan>]);
};

const window = (customer: string, micros: bigint): UsageWindow => ({
  productCode: 'p',
  customer,
  customerKind: 'identifier',
  dimension: 'api',
  hour: H,
  quantityMicros: micros,
  usageFromHour: H,
});

/** A Store with nothing in it but what a test gives; records what the planner writes. */
function fakeStore(over: Partial<Store>, written: LedgerRecord[]): Store {
  const base: Partial<Store> = {
    fullyFrozenHours: () => Promise.resolve([]),
    pendingWindows: () => Promise.resolve([]),
    subscriptions: () => Promise.resolve([]),
    entitlements: () => Promise.resolve([]),
    hourFills: () => Promise.resolve(new Set<string>()),
    latestPerKey: () => Promise.resolve(new Map()),
    latestPerKeyOf: () => Promise.resolve(new Map()),
    windowsBetween: () => Promise.resolve([]),
    ledgerByState: () => Promise.resolve([]),
    writeLedger: (rs: readonly LedgerRecord[]) => {
      written.push(...rs);
      return Promise.resolve();
    },
    markHourFills: () => Promise.resolve(),
  };
  return { ...base, ...over } as Store;
}

const ctxOf = (store: Store): FreezeContext => ({
  store,
  plans: plans(),
  clock: new VersionClock(() => NOW),
  usagePartitions: 1,
  workPartitions: 1,
  owned: [0],
  lookbackHours: 30,
  runId: 'r',
  instanceId: 'i',
});

describe('freeze', () => {
  it('holds one key-hour above the AWS maximum and freezes every other key', async () => {
    const written: LedgerRecord[] = [];
    const huge = 2n ** 31n * MICROS + 250_000n;
    const store = fakeStore(
      {
        pendingWindows: () => Promise.resolve([window('huge', huge), window('small', 3n * MICROS)]),
      },
      written,
    );
    const out = await freeze(ctxOf(store), NOW);
    const by = new Map(out.frozen.map((r) => [r.customer, r]));
    expect(by.get('small')).toMatchObject({ state: 'frozen', quantity: 3 });
    const held = by.get('huge');
    expect(held).toMatchObject({ state: 'held', quantity: 0, usageMicros: huge });
    expect(heldReasonOf(held?.reason ?? '')).toBe('quantity_above_max');
    // The whole units are held; only the fraction chains on to the key's next hour.
    expect(held?.carryOutMicros).toBe(250_000n);
    expect(written).toHaveLength(2);
    expect(held?.deadline).toBe(H + 24 * HOUR);
  });

  it('never zero-fills a key whose window the aggregator writes while the planner reads', async () => {
    const written: LedgerRecord[] = [];
    const sub: Subscription = {
      productCode: 'p',
      customer: 'c',
      customerKind: 'identifier',
      licenseArn: '',
      buyerName: '',
      agreementId: '',
      status: 'active',
      periodStart: 0,
      periodEnd: Date.UTC(2100, 0, 1),
      source: 'test',
    };
    // The aggregator writes the window of (c, api, H) and then marks H frozen, right after the
    // planner's windows read returned: the read saw neither, a later frozen-hours read sees H.
    let aggregatorDone = false;
    const store = fakeStore(
      {
        subscriptions: () => Promise.resolve([sub]),
        fullyFrozenHours: async () => {
          // Reads issued together are both in flight before either answers.
          await new Promise((r) => setImmediate(r));
          return aggregatorDone ? [H] : [];
        },
        pendingWindows: () => {
          const seen = aggregatorDone ? [window('c', 9n * MICROS)] : [];
          aggregatorDone = true;
          return Promise.resolve(
            seen.filter(
              (w) => !written.some((r) => r.customer === w.customer && r.hour === w.hour),
            ),
          );
        },
      },
      written,
    );
    await freeze(ctxOf(store), NOW);
    // Nothing for H yet, above all no zero record that would shadow the window for good.
    expect(written.filter((r) => r.hour === H)).toEqual([]);
    await freeze(ctxOf(store), NOW);
    expect(written.filter((r) => r.hour === H)).toMatchObject([
      { customer: 'c', dimension: 'api', state: 'frozen', quantity: 9 },
    ]);
  });

  it('takes the carry of a key idle for longer than the lookback from its latest record', async () => {
    const written: LedgerRecord[] = [];
    const idleSince = H - 100 * HOUR;
    const asked: { keys: string[]; before: number }[] = [];
    const store = fakeStore(
      {
        pendingWindows: () => Promise.resolve([window('idle', 700_000n)]),
        // The bounded read knows nothing of the key: its last record is 100 hours old.
        latestPerKeyOf: (keys, before) => {
          asked.push({ keys: keys.map((k) => `${k.productCode}|${k.customer}`), before });
          return Promise.resolve(
            new Map([['p|idle|api', { hour: idleSince, carryOutMicros: 400_000n }]]),
          );
        },
      },
      written,
    );
    await freeze(ctxOf(store), NOW);
    expect(asked).toEqual([{ keys: ['p|idle'], before: H - 30 * HOUR - 48 * HOUR + 4 * HOUR }]);
    expect(written).toMatchObject([
      { customer: 'idle', hour: H, quantity: 1, carryInMicros: 400_000n, carryOutMicros: 100_000n },
    ]);
  });
});
