import { describe, expect, it } from 'vitest';
import { RateLimiter } from './limiter.js';

describe('RateLimiter', () => {
  it('starts at most N requests in any one-second window', async () => {
    let now = 0;
    const starts: number[] = [];
    const limiter = new RateLimiter(
      2,
      () => now,
      async (ms) => void (now += ms),
    );
    for (let i = 0; i < 7; i++) {
      await limiter.acquire();
      starts.push(now);
    }
    for (let i = 2; i < starts.length; i++)
      expect(starts[i]! - starts[i - 2]!).toBeGreaterThanOrEqual(1000);
    expect(starts[6]).toBeLessThan(3100);
  });

  it('serves concurrent callers in order', async () => {
    let now = 0;
    const limiter = new RateLimiter(
      1,
      () => now,
      async (ms) => void (now += ms),
    );
    const order: number[] = [];
    await Promise.all([0, 1, 2].map(async (i) => limiter.acquire().then(() => order.push(i))));
    expect(order).toEqual([0, 1, 2]);
    expect(() => new RateLimiter(0)).toThrow();
  });
});
