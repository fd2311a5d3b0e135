import { describe, expect, it } from 'vitest';
import { loadPlans } from '@meterstream/plans';
import { contractRows, listingRows, loadContracts } from './contracts.js';
import { MemoryData } from './memory.js';
import type { ConsoleData, Subscription } from './model.js';

const AT = new Date('2026-11-26T10:20:00Z');
const sub = (customer: string, over: Partial<Subscription> = {}): Subscription => ({
  productCode: 'demo-analytics',
  customer,
  customerKind: 'identifier',
  licenseArn: '',
  buyerName: customer,
  agreementId: '',
  status: 'active',
  periodStart: Date.parse('2026-01-01T00:00:00Z'),
  periodEnd: Date.parse('2099-01-01T00:00:00Z'),
  source: 'entitlements',
  ...over,
});

function data(): MemoryData {
  const d = new MemoryData();
  d.subs = [sub('a'), sub('b'), sub('gone', { status: 'cancelled' })];
  d.ents = [
    // In force at AT: its period bounds the usage that counts against it.
    {
      productCode: 'demo-analytics',
      customer: 'a',
      dimension: 'api_calls',
      quantity: 100n,
      periodStart: Date.parse('2026-11-01T00:00:00Z'),
      periodEnd: Date.parse('2026-12-01T00:00:00Z'),
    },
    // Expired: shown nowhere.
    {
      productCode: 'demo-analytics',
      customer: 'b',
      dimension: 'api_calls',
      quantity: 7n,
      periodStart: Date.parse('2026-01-01T00:00:00Z'),
      periodEnd: Date.parse('2026-02-01T00:00:00Z'),
    },
  ];
  d.usage.set('demo-analytics|a|api_calls', 42_500_000n);
  d.setLedger({
    productCode: 'demo-analytics',
    customer: 'b',
    dimension: 'api_calls',
    hour: new Date('2026-11-26T09:00:00Z'),
    state: 'held',
    quantity: 1,
  });
  return d;
}

describe('contracts', () => {
  it('reads usage within the entitlement period in force, else within the contract period', async () => {
    const d = data();
    const periods: unknown[] = [];
    const spy: ConsoleData = Object.assign(Object.create(d) as MemoryData, {
      usageMicros: (p: string, ps: readonly unknown[]) => {
        periods.push(...ps);
        return d.usageMicros(p);
      },
    });
    await loadContracts(spy, 'demo-analytics', AT);
    expect(periods).toEqual([
      {
        customer: 'a',
        from: new Date('2026-11-01T00:00:00Z'),
        to: new Date('2026-12-01T00:00:00Z'),
      },
      { customer: 'b', from: new Date(sub('b').periodStart), to: new Date(sub('b').periodEnd) },
      {
        customer: 'gone',
        from: new Date(sub('gone').periodStart),
        to: new Date(sub('gone').periodEnd),
      },
    ]);
  });

  it('builds one row per contract: active, entitlements in force, usage per dimension, last status', async () => {
    const state = await loadContracts(data(), 'demo-analytics', AT);
    const rows = contractRows(state, [{ name: 'api_calls' }, { name: 'exports' }]);
    expect(
      rows.map((r) => [r.sub.customer, r.active, [...r.entitlements], [...r.usage], r.lastStatus]),
    ).toEqual([
      [
        'a',
        true,
        [['api_calls', 100n]],
        [
          ['api_calls', 42_500_000n],
          ['exports', 0n],
        ],
        undefined,
      ],
      [
        'b',
        true,
        [],
        [
          ['api_calls', 0n],
          ['exports', 0n],
        ],
        'held',
      ],
      [
        'gone',
        false,
        [],
        [
          ['api_calls', 0n],
          ['exports', 0n],
        ],
        undefined,
      ],
    ]);
  });

  it('lists every plan with its dimensions in force and its active subscribers', async () => {
    const catalog = await loadPlans(new URL('../../../plans', import.meta.url).pathname);
    const rows = await listingRows(data(), catalog, AT);
    const analytics = rows.find((r) => r.plan.productCode === 'demo-analytics');
    expect(rows).toHaveLength(catalog.plans.length);
    expect(analytics?.subscribers).toBe(2);
    expect(analytics?.dimensions).toContain('exports');
    expect(analytics?.lastStatus).toBe('held');
  });
});
