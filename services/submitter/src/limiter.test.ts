import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { QuotaLimiter, UNLIMITED, type BucketOwnership } from './limiter.js';

/** Somewhere far from 0, so the rotation works on realistic second numbers. */
const T0 = Date.UTC(2026, 10, 15, 12);

/** One owner of a bucket over [from, to) of the test's clock. */
interface Tenure {
  instance: number;
  from: number;
  to: number;
}

/** Ownership as every instance sees it at time `now()`: tenures per bucket. */
function ownershipOf(
  instance: number,
  partitions: number,
  tenures: readonly Tenure[][],
  now: () => number,
): BucketOwnership {
  return {
    partitions,
    maySend: (b) =>
      (tenures[b] ?? []).some((t) => t.instance === instance && now() >= t.from && now() < t.to),
  };
}

/** Per bucket: owners one after the other, each tenure `gapMs` or more after the previous one. */
const tenuresArb = (instances: number, partitions: number, minGapMs: number) =>
  fc.array(
    fc.array(
      fc.record({
        instance: fc.integer({ min: 0, max: instances - 1 }),
        length: fc.integer({ min: 1, max: 6000 }),
        gap: fc.integer({ min: minGapMs, max: minGapMs + 3000 }),
      }),
      { maxLength: 6, size: 'max' },
    ),
    { minLength: partitions, maxLength: partitions },
  );

function layOut(
  spec: { instance: number; length: number; gap: number }[][],
  startMs: number,
): Tenure[][] {
  return spec.map((list) => {
    let t = startMs;
    return list.map(({ instance, length, gap }) => {
      const from = t + gap;
      t = from + length;
      return { instance, from, to: t };
    });
  });
}

/**
 * Simulates the callers of every instance: a call arrives at its time and, until it gets a token,
 * tries again at every later arrival and at every second's start (at least as often as `acquire`,
 * which tries again at the time the limiter names). Returns the admission times per instance.
 */
function simulate(
  limiters: QuotaLimiter[],
  arrivals: number[][],
  clock: { t: number },
  fromMs: number,
  toMs: number,
): number[][] {
  const seconds = Array.from(
    { length: Math.ceil((toMs - fromMs) / 1000) + 1 },
    (_, k) => (Math.floor(fromMs / 1000) + k) * 1000,
  );
  return limiters.map((limiter, i) => {
    const mine = arrivals[i] ?? [];
    const times = [...new Set([...mine, ...seconds])].sort((a, b) => a - b);
    const arriving = new Map<number, number>();
    for (const t of mine) arriving.set(t, (arriving.get(t) ?? 0) + 1);
    const admitted: number[] = [];
    let waiting = 0;
    for (const t of times) {
      clock.t = t;
      waiting += arriving.get(t) ?? 0;
      while (waiting > 0 && limiter.tryTake(t).taken) {
        admitted.push(t);
        waiting--;
      }
    }
    return admitted;
  });
}

/** Calls admitted per second of the clock, all instances together. */
function perSecond(admitted: number[][]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const t of admitted.flat()) {
    const s = Math.floor(t / 1000);
    counts.set(s, (counts.get(s) ?? 0) + 1);
  }
  return counts;
}

describe('QuotaLimiter', () => {
  it('never admits more than the rate in any second of the clock, over all instances, through ownership changes', () => {
    fc.assert(
      fc.property(
        fc
          .record({
            instances: fc.integer({ min: 1, max: 4 }),
            partitions: fc.integer({ min: 1, max: 16 }),
            rate: fc.integer({ min: 1, max: 30 }),
            guardMs: fc.integer({ min: 0, max: 400 }),
            offset: fc.integer({ min: 0, max: 999 }),
          })
          .chain((p) =>
            fc.record({
              p: fc.constant(p),
              // The handover wait of ADR 0004 is longer than a second: 1 000 ms here at least.
              tenures: tenuresArb(p.instances, p.partitions, 1000),
              arrivals: fc.array(
                // Dense enough that every instance wants more tokens than it has in most seconds.
                fc.array(fc.integer({ min: 0, max: 20_000 }), {
                  minLength: 20,
                  maxLength: 400,
                  size: 'max',
                }),
                {
                  minLength: p.instances,
                  maxLength: p.instances,
                },
              ),
            }),
          ),
        ({ p, tenures, arrivals }) => {
          const start = T0 + p.offset;
          const clock = { t: start };
          const owners = layOut(tenures, start - 500);
          const limiters = Array.from(
            { length: p.instances },
            (_, i) =>
              new QuotaLimiter(
                { ratePerSecond: p.rate, guardMs: p.guardMs },
                ownershipOf(i, p.partitions, owners, () => clock.t),
                () => clock.t,
              ),
          );
          const admitted = simulate(
            limiters,
            arrivals.map((a) => a.map((x) => start + x)),
            clock,
            start,
            start + 25_000,
          );
          for (const [s, n] of perSecond(admitted))
            expect(n, `second ${s}`).toBeLessThanOrEqual(p.rate);
          for (const t of admitted.flat()) expect(t % 1000).toBeLessThan(1000 - p.guardMs);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('can exceed the rate when a bucket changes hands within a second (why the handover wait must be longer)', () => {
    let now = T0;
    // Bucket 0 (the only one, rate 1) is A's until T0 + 300 and B's from then on: no gap.
    const owners: Tenure[][] = [
      [
        { instance: 0, from: T0 - 5000, to: T0 + 300 },
        { instance: 1, from: T0 + 300, to: T0 + 10_000 },
      ],
    ];
    const a = new QuotaLimiter(
      { ratePerSecond: 1, guardMs: 0 },
      ownershipOf(0, 1, owners, () => now),
      () => now,
    );
    const b = new QuotaLimiter(
      { ratePerSecond: 1, guardMs: 0 },
      ownershipOf(1, 1, owners, () => now),
      () => now,
    );
    now = T0 + 100;
    expect(a.tryTake(now).taken).toBe(true);
    now = T0 + 400;
    expect(b.tryTake(now).taken).toBe(true);
  });

  it('lets a sole owner use the whole rate every second, within the first 1 s − guard', () => {
    let now = T0;
    const all: BucketOwnership = { partitions: 12, maySend: () => true };
    const l = new QuotaLimiter({ ratePerSecond: 10, guardMs: 250 }, all, () => now);
    const admitted: number[] = [];
    for (now = T0; now < T0 + 5000; now += 10) while (l.tryTake(now).taken) admitted.push(now);
    expect(admitted).toHaveLength(50);
    expect(perSecond([admitted])).toEqual(
      new Map(Array.from({ length: 5 }, (_, k) => [T0 / 1000 + k, 10])),
    );
    now = T0 + 800;
    expect(l.tryTake(now)).toEqual({ taken: false, retryAt: T0 + 1000 });
  });

  it('deals an owner of k of P buckets rate·k/P tokens a second on average, its share', () => {
    const owned = new Set([0, 3, 6, 9]);
    const o: BucketOwnership = { partitions: 12, maySend: (b) => owned.has(b) };
    let now = T0;
    const l = new QuotaLimiter({ ratePerSecond: 10, guardMs: 0 }, o, () => now);
    let n = 0;
    // 10 · 4 / 12 = 3⅓ a second: 20 tokens in every 6 seconds (the rotation's period).
    for (now = T0; now < T0 + 6000; now += 50) while (l.tryTake(now).taken) n++;
    expect(n).toBe(20);
    expect(l.share()).toBeCloseTo(10 / 3, 10);
    const counts = [0, 1, 2, 3, 4, 5].map((k) => l.tokensOf(T0 / 1000 + k));
    expect(new Set(counts)).toEqual(new Set([3, 4]));
  });

  it('acquire waits for the next second, counts the wait, and gives up when told to stop', async () => {
    let now = T0 + 900;
    const sleeps: number[] = [];
    const waits: (number | undefined)[] = [];
    const l = new QuotaLimiter(
      { ratePerSecond: 1, guardMs: 0 },
      { partitions: 1, maySend: () => true },
      () => now,
      (ms) => {
        sleeps.push(ms);
        now += ms;
        return Promise.resolve();
      },
      { admitted: (w) => waits.push(w) },
    );
    expect(await l.acquire()).toBe(true);
    expect(await l.acquire()).toBe(true);
    expect(now).toBe(T0 + 1000);
    expect(sleeps).toEqual([100]);
    expect(waits).toEqual([undefined, 100]);
    let asked = 0;
    expect(await l.acquire(() => ++asked > 1)).toBe(false);
    expect(waits).toHaveLength(2);
  });

  it('refuses a rate of 0 (that is UNLIMITED) and a guard of a whole second', async () => {
    const o: BucketOwnership = { partitions: 1, maySend: () => true };
    expect(() => new QuotaLimiter({ ratePerSecond: 0, guardMs: 0 }, o, Date.now)).toThrow(
      RangeError,
    );
    expect(() => new QuotaLimiter({ ratePerSecond: 1, guardMs: 1000 }, o, Date.now)).toThrow(
      RangeError,
    );
    expect(await UNLIMITED.acquire()).toBe(true);
    expect(UNLIMITED.share()).toBe(Number.POSITIVE_INFINITY);
  });
});
