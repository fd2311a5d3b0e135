import { MeterstreamError, type ErrorCode } from '@meterstream/errors';
import { allowIdentifiers, type ClickHouse, type SqlFragment } from '@meterstream/clickhouse';
import { describe, expect, it } from 'vitest';
import { Store, usageFromHourOf } from './store.js';

const H = Date.UTC(2026, 10, 15, 8);
const HOUR = 3_600_000;
allowIdentifiers('db');

/** A ClickHouse whose queries fail with `failures` codes first, then answer `rows`. */
function flakyClickHouse(
  failures: ErrorCode[],
  rows: Record<string, unknown>[],
): { ch: ClickHouse; calls: () => number } {
  let calls = 0;
  const ch = {
    query: (_q: SqlFragment) => {
      const code = failures[calls++];
      return code
        ? Promise.reject(new MeterstreamError(code, `query failed (${code})`))
        : Promise.resolve(rows);
    },
  } as unknown as ClickHouse;
  return { ch, calls: () => calls };
}

describe('usageFromHourOf', () => {
  it('keeps an earlier origin hour, and reads anything else as the record’s own hour', () => {
    expect(usageFromHourOf(H, H - 3 * HOUR)).toBe(H - 3 * HOUR);
    expect(usageFromHourOf(H, H - 3 * HOUR + 59_000)).toBe(H - 3 * HOUR);
    expect(usageFromHourOf(H, 0)).toBe(H);
    expect(usageFromHourOf(H, H)).toBe(H);
    expect(usageFromHourOf(H, H + HOUR)).toBe(H);
  });
});

describe('Store', () => {
  it('retries a read while ClickHouse is unavailable, and maps the rows', async () => {
    const { ch, calls } = flakyClickHouse(
      ['CLICKHOUSE_UNAVAILABLE', 'CLICKHOUSE_UNAVAILABLE'],
      [{ h: H / 1000 }, { h: (H + HOUR) / 1000 }],
    );
    const store = new Store(ch, 'db');
    expect(await store.fullyFrozenHours(H, 6)).toEqual([H, H + HOUR]);
    expect(calls()).toBe(3);
  });

  it('gives up after 4 attempts, and at once on an error that is not unavailability', async () => {
    const down = flakyClickHouse(Array<ErrorCode>(4).fill('CLICKHOUSE_UNAVAILABLE'), []);
    await expect(new Store(down.ch, 'db').fullyFrozenHours(H, 6)).rejects.toThrow(/UNAVAILABLE/);
    expect(down.calls()).toBe(4);
    const bad = flakyClickHouse(['CLICKHOUSE_QUERY_FAILED'], []);
    await expect(new Store(bad.ch, 'db').fullyFrozenHours(H, 6)).rejects.toThrow(/QUERY_FAILED/);
    expect(bad.calls()).toBe(1);
  });

  it('reads windows summed over partitions with the origin hour of late usage', async () => {
    const { ch } = flakyClickHouse(
      [],
      [
        {
          product_code: 'p',
          customer: '123456789012',
          customer_kind: 'account',
          dimension: 'd',
          hour_s: H / 1000,
          q: '2500000',
          from_s: (H - 2 * HOUR) / 1000,
        },
      ],
    );
    expect(await new Store(ch, 'db').windowsBetween(['p'], H, H + HOUR)).toEqual([
      {
        productCode: 'p',
        customer: '123456789012',
        customerKind: 'account',
        dimension: 'd',
        hour: H,
        quantityMicros: 2_500_000n,
        usageFromHour: H - 2 * HOUR,
      },
    ]);
  });
});
