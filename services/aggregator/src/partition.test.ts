import { describe, expect, it } from 'vitest';
import { MeterstreamError } from '@meterstream/errors';
import { Metrics } from '@meterstream/observability';
import { testLogger } from '@meterstream/testing';
import { HOUR_MS, hourOf } from './hours.js';
import { createAggregatorMetrics } from './metrics.js';
import { BatchAborted, PartitionWorker, type WorkContext } from './partition.js';
import type { AggregatorStore, FreezeScope } from './store.js';

const H = hourOf(Date.UTC(2026, 10, 26, 10, 0, 0));
const now = H + 3 * HOUR_MS;
const key = { productCode: 'p', customer: 'c', dimension: 'd' };
const alive: WorkContext = { alive: () => true, heartbeat: async () => {} };

/** An in-memory stand-in for the ClickHouse statements a worker makes. */
class FakeStore {
  owner: string | undefined;
  /** Billing hours of the rows written so far. */
  rowHours: number[] = [];
  windows: FreezeScope[] = [];
  freezes: { hours: readonly number[]; offset: string; owner: string }[] = [];
  early: {
    h: number;
    product_code: string;
    customer: string;
    dimension: string;
    early_all: number;
  }[] = [];
  /** Calls to fail (with a retriable error) before answering. */
  failures = 0;

  private async answer<T>(v: T): Promise<T> {
    if (this.failures > 0) {
      this.failures--;
      throw new MeterstreamError('CLICKHOUSE_UNAVAILABLE', 'down', { retriable: true });
    }
    return v;
  }
  claim = async (_p: number, owner: string) => {
    await this.answer(undefined);
    this.owner = owner;
  };
  currentOwner = async () => this.answer(this.owner);
  lastFrozenHour = async () => {
    const hours = this.freezes.flatMap((f) => f.hours);
    return this.answer(hours.length === 0 ? undefined : Math.max(...hours));
  };
  lastWindowHour = async () => this.answer(undefined);
  firstBillingHour = async () =>
    this.answer(this.rowHours.length === 0 ? undefined : Math.min(...this.rowHours));
  earlyFreezes = async () => this.answer(this.early);
  billingHours = async (_p: number, from: number, to: number) =>
    this.answer([...new Set(this.rowHours)].filter((h) => h >= from && h <= to).sort());
  freezeWindows = async (s: FreezeScope) => {
    await this.answer(undefined);
    this.windows.push(s);
  };
  windowStats = async () => this.answer({ windows: 1, duplicates: 0 });
  recordFreezes = async (
    _p: number,
    hours: readonly number[],
    _wm: number,
    offset: string,
    owner: string,
  ) => {
    await this.answer(undefined);
    this.freezes.push({ hours, offset, owner });
  };
}

function worker(store = new FakeStore()): PartitionWorker {
  return new PartitionWorker(
    0,
    store as unknown as AggregatorStore,
    { graceMs: 5 * 60_000, idleMs: 1000, fenceMs: 0, instanceId: 'x', maxBackoffMs: 10 },
    createAggregatorMetrics(new Metrics('t', { defaultMetrics: false })),
    testLogger(),
  );
}

describe('PartitionWorker.billingHour', () => {
  it('bills an event in its own hour while that hour is open', () => {
    const w = worker();
    expect(w.billingHour(H + 1000, key, false, now)).toBe(H);
    expect(w.firstHour).toBe(H);
  });

  it('carries an event of a frozen hour to the first open hour', () => {
    const w = worker();
    w.openFrom = H + 2 * HOUR_MS;
    expect(w.billingHour(H + 1000, key, false, now)).toBe(H + 2 * HOUR_MS);
    expect(w.billingHour(H + 2 * HOUR_MS + 5, key, false, now)).toBe(H + 2 * HOUR_MS);
  });

  it('carries too-old usage at least to the current hour', () => {
    const w = worker();
    expect(w.billingHour(H - 30 * HOUR_MS, key, true, now)).toBe(hourOf(now));
  });

  it('placeHour does not note the hour; billingHour does', () => {
    const w = worker();
    expect(w.placeHour(H + 1000, key, false, now)).toBe(H);
    expect(w.firstHour).toBeUndefined();
  });

  it('freezes an hour once the watermark passes its end plus grace', () => {
    const w = worker();
    w.billingHour(H + 1000, key, false, now);
    expect(w.freezeDue(H + HOUR_MS + 4 * 60_000)).toBe(false);
    expect(w.freezeDue(H + HOUR_MS + 5 * 60_000)).toBe(true);
    expect(w.dueHour(H + HOUR_MS + 5 * 60_000)).toBe(H);
    // An idle partition that never saw an event may still record its hours.
    expect(worker().freezeDue(now, true)).toBe(true);
    expect(worker().freezeDue(now)).toBe(false);
  });
});

describe('PartitionWorker with a store', () => {
  it('claims the partition, then freezes the hours with data and records every hour', async () => {
    const store = new FakeStore();
    const w = worker(store);
    await w.ensureLoaded(alive);
    expect(store.owner).toBe('x:1');
    w.billingHour(H + 1000, key, false, now);
    store.rowHours.push(H);
    w.lastOffset = '41';
    await w.freezeThrough(H + HOUR_MS, alive, 'watermark');
    expect(store.windows).toEqual([{ partition: 0, hourMs: H, kind: 'watermark' }]);
    expect(store.freezes).toEqual([{ hours: [H, H + HOUR_MS], offset: '41', owner: 'x:1' }]);
    expect(w.openFrom).toBe(H + 2 * HOUR_MS);
    expect(w.billingHour(H + 1000, key, false, now)).toBe(H + 2 * HOUR_MS);
  });

  it('carries usage of an early-frozen key to the next hour, other keys stay', async () => {
    const store = new FakeStore();
    const w = worker(store);
    await w.ensureLoaded(alive);
    await w.earlyFreeze(
      {
        requestId: 'r',
        productCode: 'p',
        customer: 'c',
        customerKind: 'identifier',
        dimensions: [],
        hour: H + 10,
        requestedBy: 'u',
        requestedAt: now,
      },
      alive,
    );
    expect(store.windows[0]).toMatchObject({ kind: 'early', hourMs: H, customer: 'c' });
    expect(w.billingHour(H + 1000, key, false, now)).toBe(H + HOUR_MS);
    expect(w.billingHour(H + 1000, { ...key, customer: 'other' }, false, now)).toBe(H);
  });

  it('restores frozen hours and early freezes from the store when it takes over', async () => {
    const store = new FakeStore();
    store.freezes.push({ hours: [H], offset: '9', owner: 'old:1' });
    store.early.push({
      h: H + HOUR_MS,
      product_code: 'p',
      customer: 'c',
      dimension: 'd',
      early_all: 0,
    });
    const w = worker(store);
    await w.ensureLoaded(alive);
    expect(w.openFrom).toBe(H + HOUR_MS);
    expect(w.billingHour(H + 1000, key, false, now)).toBe(H + 2 * HOUR_MS);
    expect(w.billingHour(H + 1000, { ...key, dimension: 'e' }, false, now)).toBe(H + HOUR_MS);
  });

  it('aborts the batch when another instance has claimed the partition', async () => {
    const store = new FakeStore();
    const w = worker(store);
    await w.ensureLoaded(alive);
    store.owner = 'y:1';
    await expect(w.ensureOwner(alive)).rejects.toBeInstanceOf(BatchAborted);
    expect(w.isLoaded).toBe(false);
  });

  it('retries a failing store call, and gives up with BatchAborted once the batch is dead', async () => {
    const store = new FakeStore();
    const w = worker(store);
    store.failures = 2;
    await w.ensureLoaded(alive);
    expect(w.isLoaded).toBe(true);
    store.failures = 1;
    const dead: WorkContext = { alive: () => false, heartbeat: async () => {} };
    await expect(w.retry('owner', dead, () => store.currentOwner())).rejects.toBeInstanceOf(
      BatchAborted,
    );
  });
});
