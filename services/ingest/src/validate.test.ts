import { describe, expect, it } from 'vitest';
import type { UsageEvent } from '@meterstream/schemas';
import type { Principal } from './keys.js';
import type { PlanLookup } from './plans.js';
import { checkEvents, type CheckOptions } from './validate.js';

const NOW = Date.parse('2026-11-26T12:00:00Z');
const ARN = 'arn:aws:license-manager::123456789012:license:l-abc';

const plans: PlanLookup = {
  resolveProduct: (ref) =>
    ref === 'analytics'
      ? { productCode: 'analytics', customerIdStyle: 'customerIdentifier' }
      : ref === 'platform' || ref === ARN
        ? { productCode: 'platform', licenseArn: ARN, customerIdStyle: 'customerAwsAccountId' }
        : undefined,
  hasDimension: (code, dim) => (code === 'analytics' ? dim === 'api_calls' : dim === 'seats'),
};

const principal: Principal = { tenant: 'acme', keyId: 'k1', products: 'all' } as Principal;

const options = (extra: Partial<CheckOptions> = {}): CheckOptions => ({
  principal,
  plans,
  now: NOW,
  maxEventAgeMs: 86_400_000,
  maxEventSkewMs: 60_000,
  maxEventBytes: 1_000,
  newId: () => 'new-id',
  encode: (ev: UsageEvent) => Buffer.from(JSON.stringify(ev)),
  ...extra,
});

const ev = (extra: Record<string, unknown> = {}) => ({
  input: {
    id: 'e1',
    productCode: 'analytics',
    customerIdentifier: 'c1',
    dimension: 'api_calls',
    quantity: '2',
    timestamp: '2026-11-26T11:59:00Z',
    ...extra,
  },
});

describe('checkEvents', () => {
  it('accepts valid events, fills in the plan license and defaults, and keys the records', () => {
    const r = checkEvents(
      [
        ev(),
        ev({
          id: 'e2',
          productCode: 'platform',
          customerIdentifier: undefined,
          customerAwsAccountId: '123456789012',
          dimension: 'seats',
        }),
      ],
      options(),
    );
    expect(r.errors).toEqual([]);
    expect(r.events.map((e) => [e.id, e.productCode, e.licenseArn])).toEqual([
      ['e1', 'analytics', null],
      ['e2', 'platform', ARN],
    ]);
    expect(r.events[0]).toMatchObject({ source: 'ingest/acme', actor: 'key:k1' });
    expect(r.records).toHaveLength(2);
    expect(JSON.parse(r.records[1]!.value.toString())).toMatchObject({ licenseArn: ARN });
  });

  it('names each rejected event with its reasons and counts the kinds', () => {
    const r = checkEvents(
      [
        ev(),
        ev({ id: 'e1' }),
        ev({ id: 'e3', productCode: 'nope' }),
        ev({ id: 'e4', dimension: 'seats' }),
        { reasons: [{ field: '', message: 'not JSON' }], unreadable: true },
      ],
      options(),
    );
    expect(r.errors.map((e) => [e.index, e.reasons[0]?.field])).toEqual([
      [1, 'id'],
      [2, 'productCode'],
      [3, 'dimension'],
      [4, ''],
    ]);
    expect(Object.fromEntries(r.rejected)).toEqual({
      invalid: 1,
      unknown_product: 1,
      unknown_dimension: 1,
      malformed: 1,
    });
  });

  it('forbids products outside the key scope, requires the plan customer id, limits the size', () => {
    const scoped = { ...principal, products: new Set(['platform']) } as Principal;
    expect(checkEvents([ev()], options({ principal: scoped })).rejected.get('forbidden')).toBe(1);
    const noAccount = checkEvents([ev({ productCode: 'platform', dimension: 'seats' })], options());
    expect(noAccount.errors[0]?.reasons[0]?.field).toBe('customerAwsAccountId');
    const big = checkEvents([ev()], options({ maxEventBytes: 10 }));
    expect(big.errors[0]?.reasons[0]?.message).toMatch(/^encodes to \d+ bytes; at most 10$/);
  });
});
