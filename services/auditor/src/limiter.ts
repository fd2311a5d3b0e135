import { sleep } from '@meterstream/runtime';

/**
 * Client-side request pacing: at most `perSecond` requests start in any one-second window
 * (CloudTrail LookupEvents allows 2 a second per account and region). Callers queue in order.
 */
export class RateLimiter {
  private readonly starts: number[] = [];
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly perSecond: number,
    private readonly now: () => number = Date.now,
    private readonly wait: (ms: number) => Promise<void> = (ms) => sleep(ms),
  ) {
    if (!Number.isInteger(perSecond) || perSecond < 1)
      throw new Error('perSecond must be a positive integer');
  }

  /** Resolves when a request may start. */
  acquire(): Promise<void> {
    const turn = this.queue.then(() => this.take());
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async take(): Promise<void> {
    for (;;) {
      const t = this.now();
      while (this.starts.length > 0 && t - (this.starts[0] ?? 0) >= 1000) this.starts.shift();
      if (this.starts.length < this.perSecond) {
        this.starts.push(t);
        return;
      }
      await this.wait(1000 - (t - (this.starts[0] ?? t)) + 1);
    }
  }
}
