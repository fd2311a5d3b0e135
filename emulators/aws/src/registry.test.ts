import { describe, expect, it } from 'vitest';
import type { EmulatorContext } from './context.js';
import { Registry } from './registry.js';
import { emptyState, type State } from './state.js';

function setup(): {
  registry: Registry;
  ctx: EmulatorContext & { state: State };
  touched: () => number;
} {
  let touches = 0;
  const ctx = {
    state: emptyState(1),
    settings: { accountId: '111122223333', cloudTrailDelayMs: 0, seed: 1 },
    now: () => 0,
    nextId: (p: string) => p,
    touch: () => {
      touches += 1;
    },
  };
  const registry = new Registry(ctx);
  registry.putProduct({ productCode: 'prod-a', dimensions: ['d'], licenseArn: false });
  return { registry, ctx, touched: () => touches };
}

describe('Registry', () => {
  it('rejects a subscription to an unregistered product', () => {
    const { registry } = setup();
    expect(() =>
      registry.addSubscription({ productCode: 'nope', customerIdentifier: 'c' }),
    ).toThrow(expect.objectContaining({ type: 'NotFound', status: 404 }));
  });

  it('finds a subscription by identifier, account or license; a license replaces only itself', () => {
    const { registry, ctx, touched } = setup();
    registry.addSubscription({ productCode: 'prod-a', customerIdentifier: 'c1' });
    registry.addSubscription({
      productCode: 'prod-a',
      customerAwsAccountId: '123',
      licenseArn: 'arn:aws:l1',
    });
    expect(registry.findSubscription('prod-a', { CustomerIdentifier: 'c1' })).toEqual({
      productCode: 'prod-a',
      customerIdentifier: 'c1',
    });
    expect(registry.findSubscription('prod-a', { CustomerAWSAccountId: '123' })?.licenseArn).toBe(
      'arn:aws:l1',
    );
    expect(registry.findSubscription('prod-b', { CustomerIdentifier: 'c1' })).toBeUndefined();
    // Concurrent Agreements: a second license of the same account is added, not a replacement.
    registry.addSubscription({
      productCode: 'prod-a',
      customerAwsAccountId: '123',
      licenseArn: 'arn:aws:l2',
    });
    expect(ctx.state.subscriptions).toHaveLength(3);
    expect(registry.license('arn:aws:l1')?.customerAwsAccountId).toBe('123');
    expect(registry.license('arn:aws:l2')?.customerAwsAccountId).toBe('123');
    // The same license again replaces it; a license-less subscription replaces the customer's
    // license-less one.
    const replaced = registry.addSubscription({
      productCode: 'prod-a',
      customerAwsAccountId: '123',
      licenseArn: 'arn:aws:l2',
      endTime: '2027-01-01T00:00:00.000Z',
    });
    expect(replaced.map((s) => s.licenseArn)).toEqual(['arn:aws:l2']);
    expect(registry.license('arn:aws:l2')?.endTime).toBe('2027-01-01T00:00:00.000Z');
    expect(registry.addSubscription({ productCode: 'prod-a', customerIdentifier: 'c1' })).toEqual([
      { productCode: 'prod-a', customerIdentifier: 'c1' },
    ]);
    expect(ctx.state.subscriptions).toHaveLength(3);
    expect(registry.license('arn:aws:nope')).toBeUndefined();
    expect(touched()).toBe(6);
  });

  it('finds only subscriptions AWS still meters: a license deprovisioned over an hour ago is gone', () => {
    const { registry } = setup();
    const H = 3_600_000;
    registry.addSubscription({
      productCode: 'prod-a',
      customerAwsAccountId: '123',
      licenseArn: 'arn:aws:old',
      deprovisionedAt: new Date(0).toISOString(),
    });
    registry.addSubscription({
      productCode: 'prod-a',
      customerAwsAccountId: '123',
      licenseArn: 'arn:aws:new',
    });
    const find = (now: number) =>
      registry.findSubscription('prod-a', { CustomerAWSAccountId: '123' }, now)?.licenseArn;
    expect(find(H - 1)).toBe('arn:aws:old');
    expect(find(H)).toBe('arn:aws:new');
  });

  it('sees subscriptions changed behind its back (reset, reload)', () => {
    const { registry, ctx } = setup();
    registry.addSubscription({ productCode: 'prod-a', customerIdentifier: 'c1' });
    expect(registry.findSubscription('prod-a', { CustomerIdentifier: 'c1' })).toBeDefined();
    ctx.state = emptyState(1);
    expect(registry.findSubscription('prod-a', { CustomerIdentifier: 'c1' })).toBeUndefined();
    ctx.state.subscriptions.push({ productCode: 'prod-a', customerIdentifier: 'c2' });
    expect(registry.findSubscription('prod-a', { CustomerIdentifier: 'c2' })).toBeDefined();
  });

  it('keeps one entitlement per product, dimension and customer', () => {
    const { registry, ctx } = setup();
    const e = { productCode: 'prod-a', dimension: 'd', customerIdentifier: 'c1' };
    registry.addEntitlement({ ...e, value: { IntegerValue: 1 } });
    registry.addEntitlement({ ...e, value: { IntegerValue: 2 } });
    registry.addEntitlement({ ...e, dimension: 'other', value: { IntegerValue: 3 } });
    expect(ctx.state.entitlements.map((x) => x.value.IntegerValue)).toEqual([2, 3]);
  });
});
