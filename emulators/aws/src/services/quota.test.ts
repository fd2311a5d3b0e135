import { describe, expect, it } from 'vitest';
import { Quota, QuotaExceeded } from './quota.js';

const T0 = Date.parse('2026-11-26T10:00:00Z');

describe('Quota', () => {
  it('admits N calls per second per operation, account and region, then throttles', () => {
    let rate = 3;
    const q = new Quota(() => rate);
    const admit = (op = 'BatchMeterUsage', account = 'a', region = 'us-east-1', t = T0): string => {
      try {
        q.admit(op, account, region, t);
        return 'ok';
      } catch (err) {
        expect(err).toBeInstanceOf(QuotaExceeded);
        expect(err).toMatchObject({ type: 'ThrottlingException', status: 400 });
        return 'throttled';
      }
    };
    expect([admit(), admit(), admit(), admit()]).toEqual(['ok', 'ok', 'ok', 'throttled']);
    // Another operation, account or region has its own quota; the next second starts afresh.
    expect(admit('MeterUsage')).toBe('ok');
    expect(admit('BatchMeterUsage', 'b')).toBe('ok');
    expect(admit('BatchMeterUsage', 'a', 'eu-west-1')).toBe('ok');
    expect(admit('BatchMeterUsage', 'a', 'us-east-1', T0 + 999)).toBe('throttled');
    expect(admit('BatchMeterUsage', 'a', 'us-east-1', T0 + 1000)).toBe('ok');
    rate = 0; // off: nothing is throttled, calls are still counted
    for (let i = 0; i < 5; i++)
      expect(admit('BatchMeterUsage', 'a', 'us-east-1', T0 + 2000)).toBe('ok');
    expect(
      q.seconds('a').filter((c) => c.operation === 'BatchMeterUsage' && c.region === 'us-east-1'),
    ).toEqual([
      {
        second: '2026-11-26T10:00:00.000Z',
        operation: 'BatchMeterUsage',
        account: 'a',
        region: 'us-east-1',
        accepted: 3,
        throttled: 2,
      },
      {
        second: '2026-11-26T10:00:01.000Z',
        operation: 'BatchMeterUsage',
        account: 'a',
        region: 'us-east-1',
        accepted: 1,
        throttled: 0,
      },
      {
        second: '2026-11-26T10:00:02.000Z',
        operation: 'BatchMeterUsage',
        account: 'a',
        region: 'us-east-1',
        accepted: 5,
        throttled: 0,
      },
    ]);
    expect(q.seconds()).toHaveLength(6);
    q.reset();
    expect(q.seconds()).toEqual([]);
  });

  it('keeps the last hour of seconds per series', () => {
    const q = new Quota(() => 0);
    for (let i = 0; i < 3700; i++) q.admit('BatchMeterUsage', 'a', 'r', T0 + i * 1000);
    const s = q.seconds();
    expect(s).toHaveLength(3600);
    expect(s[0]?.second).toBe(new Date(T0 + 100_000).toISOString());
  });
});
