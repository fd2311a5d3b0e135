import fc from 'fast-check';
import { MeterstreamError } from '@meterstream/errors';
import { describe, expect, it } from 'vitest';
import {
  HOUR_MS,
  backoffDelay,
  formatMicros,
  hourStart,
  isRetriable,
  parseMicros,
  retry,
  sleep,
} from './index.js';

describe('time', () => {
  it('hourStart floors to the UTC hour', () => {
    const t = Date.UTC(2027, 2, 1, 5, 59, 59, 999);
    expect(hourStart(t)).toBe(Date.UTC(2027, 2, 1, 5));
    expect(hourStart(Date.UTC(2027, 2, 1, 6))).toBe(Date.UTC(2027, 2, 1, 6));
    expect(HOUR_MS).toBe(60 * 60 * 1000);
  });

  it('sleep returns early when its signal aborts', async () => {
    const ac = new AbortController();
    const slept = sleep(60_000, ac.signal);
    ac.abort();
    await expect(slept).resolves.toBeUndefined();
    await expect(sleep(60_000, ac.signal)).resolves.toBeUndefined();
  });
});

describe('backoff and retry', () => {
  it('doubles up to the cap; jitter stays inside the delay', () => {
    const o = { baseMs: 100, maxMs: 1_000, jitter: 0 };
    expect([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, o))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
    fc.assert(
      fc.property(fc.nat(30), fc.double({ min: 0, max: 0.999999, noNaN: true }), (a, r) => {
        const d = backoffDelay(a, { baseMs: 100, maxMs: 5_000, random: () => r });
        const cap = Math.min(5_000, 100 * 2 ** a);
        return d >= cap / 2 && d <= cap;
      }),
    );
  });

  it('retries what is retriable, then gives up with the last error', async () => {
    const waits: number[] = [];
    let calls = 0;
    const op = (): Promise<never> => {
      calls++;
      return Promise.reject(new MeterstreamError('KAFKA_UNAVAILABLE', `down ${calls}`));
    };
    await expect(
      retry(op, {
        attempts: 4,
        baseMs: 10,
        maxMs: 100,
        jitter: 0,
        sleep: (ms) => Promise.resolve(void waits.push(ms)),
      }),
    ).rejects.toThrow('down 4');
    expect(calls).toBe(4);
    expect(waits).toEqual([10, 20, 40]);
  });

  it('does not retry what is not retriable, and returns what succeeds', async () => {
    let calls = 0;
    const o = { attempts: 5, baseMs: 1, maxMs: 1, sleep: () => Promise.resolve() };
    await expect(
      retry(() => {
        calls++;
        return Promise.reject(new MeterstreamError('VALIDATION_FAILED', 'bad'));
      }, o),
    ).rejects.toThrow('bad');
    expect(calls).toBe(1);
    const ok = await retry(
      (attempt) =>
        attempt < 2
          ? Promise.reject(new MeterstreamError('AWS_THROTTLED', 'slow down'))
          : Promise.resolve(attempt),
      o,
    );
    expect(ok).toBe(2);
    expect(isRetriable(new Error('plain'))).toBe(false);
  });
});

describe('quantity', () => {
  it('parses and formats exact decimals', () => {
    expect(parseMicros('17')).toBe(17_000_000n);
    expect(parseMicros('17.000000')).toBe(17_000_000n);
    expect(parseMicros('0.000001')).toBe(1n);
    for (const bad of ['', '-1', '1.', '.5', '1.0000001', '1e3', ' 1'])
      expect(parseMicros(bad)).toBeUndefined();
    expect(formatMicros(2_500_000n)).toBe('2.5');
    expect(formatMicros(-1n)).toBe('-0.000001');
    expect(formatMicros(0n)).toBe('0');
  });

  it('round-trips every micro amount', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 16n }), (m) => {
        return parseMicros(formatMicros(m)) === m;
      }),
    );
  });
});
