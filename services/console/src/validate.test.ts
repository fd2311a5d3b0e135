import { describe, expect, it } from 'vitest';
import { loadPlans } from '@meterstream/plans';
import { formatMicros } from '@meterstream/runtime';
import type { Subscription } from './model.js';
import { hourOf, isActive, overage, parseQuantity, validateLines } from './validate.js';

describe('parseQuantity', () => {
  it('accepts non-negative decimals with at most 6 places, exactly', () => {
    expect(parseQuantity('0')).toBe(0n);
    expect(parseQuantity(' 12 ')).toBe(12_000_000n);
    expect(parseQuantity('0.000001')).toBe(1n);
    expect(parseQuantity('1.5')).toBe(1_500_000n);
    expect(parseQuantity('2147483647')).toBe(2_147_483_647_000_000n);
  });

  it('names what is wrong', () => {
    expect(parseQuantity('')).toBe('enter a quantity');
    expect(parseQuantity('-1')).toBe('must not be negative');
    expect(parseQuantity('1.1234567')).toBe('at most 6 decimal places');
    expect(parseQuantity('2147483647.000001')).toBe('at most 2147483647 (the AWS limit)');
    expect(parseQuantity('99999999999')).toBe('at most 2147483647 (the AWS limit)');
    expect(parseQuantity('99999999999.5')).toBe('at most 2147483647 (the AWS limit)');
    expect(parseQuantity('99999999999.1234567')).toBe('at most 6 decimal places');
    for (const bad of ['1e3', '0x10', '1,5', 'NaN', 'Infinity', '.5', '5.', '+3']) {
      expect(parseQuantity(bad), bad).toBe('must be a number such as 12 or 0.5');
    }
  });

  it('round-trips through formatMicros', () => {
    for (const s of ['0', '1', '1.5', '0.000001', '123.45', '2147483647']) {
      expect(formatMicros(parseQuantity(s) as bigint)).toBe(s);
    }
  });
});

describe('overage', () => {
  it('bills everything without an entitlement', () => {
    expect(overage(undefined, 5_000_000n, 3_000_000n)).toBe(3_000_000n);
  });
  it('bills only what crosses the entitlement', () => {
    // 10 included, 8 used: of 5 more, 3 are overage.
    expect(overage(10n, 8_000_000n, 5_000_000n)).toBe(3_000_000n);
    expect(overage(10n, 0n, 4_000_000n)).toBe(0n);
    expect(overage(10n, 12_000_000n, 1_000_000n)).toBe(1_000_000n);
  });
});

describe('validateLines', () => {
  const now = new Date('2026-11-26T10:20:00Z');
  const sub = (customer: string, extra: Partial<Subscription> = {}): Subscription => ({
    productCode: 'demo-platform',
    customer,
    customerKind: 'account',
    licenseArn: 'arn:aws:license-manager::111122223333:license:l-x',
    buyerName: customer,
    agreementId: '',
    status: 'active',
    periodStart: Date.parse('2026-01-01T00:00:00Z'),
    periodEnd: Date.parse('2027-01-01T00:00:00Z'),
    source: 'cli',
    ...extra,
  });

  it('validates every line and computes overage from entitlements and usage', async () => {
    const catalog = await loadPlans(new URL('../../../plans', import.meta.url).pathname);
    const plan = catalog.resolveProduct('demo-platform');
    if (!plan) throw new Error('demo-platform plan missing');
    const ctx = {
      plan,
      catalog,
      now,
      subscriptions: [
        sub('111111111111'),
        sub('222222222222', { periodEnd: Date.parse('2026-06-01T00:00:00Z') }),
      ],
      entitlements: [
        {
          productCode: 'demo-platform',
          customer: '111111111111',
          dimension: 'seats',
          quantity: 10n,
          periodStart: Date.parse('2026-01-01T00:00:00Z'),
          periodEnd: Date.parse('2027-01-01T00:00:00Z'),
        },
      ],
      usage: new Map([['111111111111|seats', 8_000_000n]]),
      eventId: (i: number) => `e${i}`,
    };
    const ok = validateLines(
      [
        { customer: '111111111111', dimension: 'seats', quantity: '5' },
        { customer: '111111111111', dimension: 'compute_hours', quantity: '0.25' },
      ],
      ctx,
    );
    expect(ok.errors).toEqual([]);
    expect(
      ok.lines.map((l) => [l.dimension, l.quantity, formatMicros(l.overageMicros), l.eventId]),
    ).toEqual([
      ['seats', '5', '3', 'e0'],
      ['compute_hours', '0.25', '0.25', 'e1'],
    ]);
    const bad = validateLines(
      [
        { customer: '222222222222', dimension: 'seats', quantity: '1' },
        { customer: '111111111111', dimension: 'seats', quantity: '1' },
        { customer: '111111111111', dimension: 'seats', quantity: '2' },
        { customer: '111111111111', dimension: 'api_calls', quantity: '2' },
        'garbage',
      ],
      ctx,
    );
    expect(bad.lines).toEqual([]);
    expect(bad.errors.map((e) => [e.index, e.message])).toEqual([
      [0, 'contract is not active'],
      [2, 'the same contract and dimension appear twice'],
      [3, 'dimension is not part of the product’s current plan'],
      [4, 'unknown contract for this product'],
    ]);
    expect(validateLines([], ctx).errors[0]?.message).toMatch(/select at least one/);
    expect(validateLines({ lines: 1 }, ctx).errors).toHaveLength(1);
    expect(validateLines(new Array(501).fill({}), ctx).errors[0]?.message).toMatch(/at most 500/);
  });

  it('knows active contracts and hours', () => {
    expect(isActive(sub('a'), now)).toBe(true);
    expect(isActive(sub('a', { status: 'cancelled' }), now)).toBe(false);
    expect(isActive(sub('a', { periodStart: Date.parse('2026-12-01T00:00:00Z') }), now)).toBe(
      false,
    );
    expect(hourOf(now).toISOString()).toBe('2026-11-26T10:00:00.000Z');
  });
});
