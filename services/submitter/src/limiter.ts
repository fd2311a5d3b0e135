import { SECOND_MS, sleep as sleepFor } from '@meterstream/runtime';
import type { SubmitterMetrics } from './metrics.js';

/** The part of {@link Ownership} the limiter reads: which work buckets this instance may send. */
export interface BucketOwnership {
  readonly partitions: number;
  maySend(bucket: number): boolean;
}

/** Settings of a {@link QuotaLimiter}. */
export interface QuotaLimiterConfig {
  /** Calls a second the account may make in the region (AWS: 10); 0 = no limit. */
  ratePerSecond: number;
  /**
   * No call starts in the last `guardMs` of a second: a call reaches AWS a little after it starts,
   * and one that started at 0.99 s would count in the next second, beside that second's calls.
   */
  guardMs: number;
}

/** Default {@link QuotaLimiterConfig.guardMs}: above the time a call takes to reach AWS. */
export const QUOTA_GUARD_MS = 250;

/** What the limiter reports, for metrics: every admitted call, and how long it waited if it did. */
export interface LimiterObserver {
  admitted(waitedMs: number | undefined): void;
}

/** A gate every AWS metering call passes through. */
export interface CallLimiter {
  /**
   * Waits for a call token and takes it (true), or returns false without one as soon as `stop()`
   * says the call is no longer wanted (shutting down, the buckets lost).
   */
  acquire(stop?: () => boolean): Promise<boolean>;
  /** Calls a second this instance may make on average now (Infinity without a limit). */
  share(): number;
}

/** A limiter that admits every call at once (`MS_SUBMITTER_AWS_RPS=0`, unit tests). */
export const UNLIMITED: CallLimiter = {
  acquire: () => Promise.resolve(true),
  share: () => Number.POSITIVE_INFINITY,
};

/**
 * The request quota of one AWS account and region, shared by every submitter instance without a
 * server of its own (ADR 0008): the `ratePerSecond` tokens of each second of the clock are dealt
 * to the work buckets in rotation — token j of second s belongs to bucket (s·rate + j) mod P — and
 * an instance may use, in second s, as many tokens as it owns buckets among them. Bucket ownership
 * is exclusive (ADR 0004) and a gained bucket is sent only after a handover wait longer than a
 * second, so no token of a second is ever used by two instances: all instances together start at
 * most `ratePerSecond` calls in any second, each in its first `1 s − guardMs`.
 */
export class QuotaLimiter implements CallLimiter {
  private second = Number.NEGATIVE_INFINITY;
  private used = 0;

  constructor(
    private readonly config: QuotaLimiterConfig,
    private readonly ownership: BucketOwnership,
    private readonly now: () => number,
    private readonly sleep: (ms: number) => Promise<void> = sleepFor,
    private readonly observer?: LimiterObserver,
  ) {
    if (!(config.ratePerSecond > 0)) throw new RangeError('ratePerSecond must be > 0');
    if (!(config.guardMs >= 0 && config.guardMs < SECOND_MS))
      throw new RangeError('guardMs must be in [0, 1000)');
  }

  /** Tokens of second `s` that belong to buckets this instance may send now. */
  tokensOf(s: number): number {
    const { ratePerSecond: rate } = this.config;
    const p = this.ownership.partitions;
    let n = 0;
    for (let j = 0; j < rate; j++) if (this.ownership.maySend((s * rate + j) % p)) n++;
    return n;
  }

  /**
   * Takes a token at `nowMs` if this instance has one left in the current second (and the second
   * is not in its guard); else returns the time worth trying again (the next second's start).
   */
  tryTake(nowMs: number): { taken: true } | { taken: false; retryAt: number } {
    const s = Math.floor(nowMs / SECOND_MS);
    const next = (s + 1) * SECOND_MS;
    if (nowMs - s * SECOND_MS >= SECOND_MS - this.config.guardMs)
      return { taken: false, retryAt: next };
    if (s !== this.second) {
      this.second = s;
      this.used = 0;
    }
    if (this.used >= this.tokensOf(s)) return { taken: false, retryAt: next };
    this.used++;
    return { taken: true };
  }

  async acquire(stop: () => boolean = () => false): Promise<boolean> {
    const started = this.now();
    let waited = false;
    for (;;) {
      if (stop()) return false;
      const now = this.now();
      const t = this.tryTake(now);
      if (t.taken) {
        this.observer?.admitted(waited ? now - started : undefined);
        return true;
      }
      waited = true;
      await this.sleep(Math.max(1, t.retryAt - now));
    }
  }

  share(): number {
    const p = this.ownership.partitions;
    let owned = 0;
    for (let b = 0; b < p; b++) if (this.ownership.maySend(b)) owned++;
    return (this.config.ratePerSecond * owned) / p;
  }
}

/**
 * The limiter of the account and region the submitter sends to (one per process: the submitter
 * has one set of credentials and one region), counting into `metrics`; {@link UNLIMITED} at rate 0.
 */
export function quotaLimiter(
  ratePerSecond: number,
  ownership: BucketOwnership,
  now: () => number,
  metrics: SubmitterMetrics,
): CallLimiter {
  if (ratePerSecond === 0) return UNLIMITED;
  return new QuotaLimiter({ ratePerSecond, guardMs: QUOTA_GUARD_MS }, ownership, now, sleepFor, {
    admitted: (waitedMs) => {
      metrics.quotaCalls.inc();
      if (waitedMs === undefined) return;
      metrics.quotaDelayed.inc();
      metrics.quotaWait.observe(waitedMs / 1000);
    },
  });
}
