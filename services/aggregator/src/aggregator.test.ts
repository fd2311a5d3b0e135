import { describe, expect, it } from 'vitest';
import { Metrics } from '@meterstream/observability';
import { testLogger } from '@meterstream/testing';
import { HOUR_MS, hourOf, isTooOldForAws } from './hours.js';
import { createAggregatorMetrics } from './metrics.js';
import { PartitionWorker } from './partition.js';
import type { AggregatorStore } from './store.js';
import { quantityToMicros } from './wire.js';

describe('quantityToMicros', () => {
  it('converts exact decimals without floats', () => {
    expect(quantityToMicros('0')).toBe('0');
    expect(quantityToMicros('1')).toBe('1000000');
    expect(quantityToMicros('0.000001')).toBe('1');
    expect(quantityToMicros('007.5')).toBe('7500000');
    expect(quantityToMicros('2147483647.999999')).toBe('2147483647999999');
    expect(quantityToMicros('9999999999.999999')).toBe('9999999999999999');
  });
  it('rejects anything that is not a plain decimal', () => {
    for (const bad of ['', '-1', '1e3', '1.', '.5', '1.1234567', 'NaN', '12345678901', ' 1']) {
      expect(quantityToMicros(bad)).toBeUndefined();
    }
  });
});

describe('isTooOldForAws', () => {
  const now = Date.UTC(2026, 10, 26, 12, 0, 0);
  it('flags usage 24 hours old or more', () => {
    expect(isTooOldForAws(now - 23 * HOUR_MS, now)).toBe(false);
    expect(isTooOldForAws(now - 24 * HOUR_MS, now)).toBe(true);
  });
  it('closes the previous month at 06:00 UTC on the 1st', () => {
    const first = Date.UTC(2026, 11, 1, 0, 0, 0);
    const lastOfNov = first - 60_000;
    expect(isTooOldForAws(lastOfNov, first + 5 * HOUR_MS)).toBe(false);
    expect(isTooOldForAws(lastOfNov, first + 6 * HOUR_MS)).toBe(true);
  });
});

describe('PartitionWorker.billingHour', () => {
  const worker = (): PartitionWorker =>
    new PartitionWorker(
      0,
      {} as AggregatorStore,
      { graceMs: 5 * 60_000, idleMs: 1000, fenceMs: 0, instanceId: 'x', maxBackoffMs: 10 },
      createAggregatorMetrics(new Metrics('t', { defaultMetrics: false })),
      testLogger(),
    );
  const H = hourOf(Date.UTC(2026, 10, 26, 10, 0, 0));
  const now = H + 3 * HOUR_MS;

  it('bills an event in its own hour while that hour is open', () => {
    const w = worker();
    expect(w.billingHour(H + 1000, 'p', 'c', 'd', false, now)).toBe(H);
    expect(w.firstHour).toBe(H);
  });

  it('carries an event of a frozen hour to the first open hour', () => {
    const w = worker();
    w.openFrom = H + 2 * HOUR_MS;
    expect(w.billingHour(H + 1000, 'p', 'c', 'd', false, now)).toBe(H + 2 * HOUR_MS);
    expect(w.billingHour(H + 2 * HOUR_MS + 5, 'p', 'c', 'd', false, now)).toBe(H + 2 * HOUR_MS);
  });

  it('carries too-old usage at least to the current hour', () => {
    const w = worker();
    expect(w.billingHour(H - 30 * HOUR_MS, 'p', 'c', 'd', true, now)).toBe(hourOf(now));
  });

  it('freezes an hour once the watermark passes its end plus grace', () => {
    const w = worker();
    w.billingHour(H + 1000, 'p', 'c', 'd', false, now);
    expect(w.freezeDue(H + HOUR_MS + 4 * 60_000)).toBe(false);
    expect(w.freezeDue(H + HOUR_MS + 5 * 60_000)).toBe(true);
    expect(w.dueHour(H + HOUR_MS + 5 * 60_000)).toBe(H);
    // An idle partition that never saw an event may still record its hours.
    expect(worker().freezeDue(now, true)).toBe(true);
    expect(worker().freezeDue(now)).toBe(false);
  });
});
