import { SECOND_MS } from '@meterstream/runtime';
import { AwsError } from '../aws-error.js';

/** The calls of one account, region and operation in one second of the emulated clock. */
export interface SecondCount {
  /** Start of the second, ISO-8601. */
  second: string;
  operation: string;
  account: string;
  region: string;
  accepted: number;
  throttled: number;
}

/** A call over the quota (a ThrottlingException that is not an injected fault). */
export class QuotaExceeded extends AwsError {
  constructor() {
    super('ThrottlingException', 'Rate exceeded');
  }
}

/** How many seconds of counts are kept (per account, region and operation). */
const KEPT_SECONDS = 3600;

/**
 * AWS's request quota of the metering operations: at most `ratePerSecond()` calls of one operation
 * per account and region in each second (BatchMeterUsage and MeterUsage: 10/s each); beyond it,
 * `ThrottlingException` (HTTP 400, which the SDKs retry with backoff), and nothing is applied.
 * Seconds are fixed windows of the emulated clock, so "never more than N in a second" is exactly
 * what the per-second counts show. Counts are kept whether or not the quota is enforced (0), so a
 * test can check what a client would have done against it.
 */
export class Quota {
  private readonly counts = new Map<string, SecondCount>();
  /** Keys of `counts` in insertion order, per (operation, account, region), to drop old seconds. */
  private readonly order = new Map<string, string[]>();

  constructor(private readonly ratePerSecond: () => number) {}

  /** Counts one call; throws ThrottlingException when it is over the quota. */
  admit(operation: string, account: string, region: string, nowMs: number): void {
    const second = Math.floor(nowMs / SECOND_MS) * SECOND_MS;
    const series = `${operation}|${account}|${region}`;
    const key = `${series}|${second}`;
    let c = this.counts.get(key);
    if (!c) {
      c = {
        second: new Date(second).toISOString(),
        operation,
        account,
        region,
        accepted: 0,
        throttled: 0,
      };
      this.counts.set(key, c);
      this.remember(series, key);
    }
    const limit = this.ratePerSecond();
    if (limit > 0 && c.accepted >= limit) {
      c.throttled += 1;
      throw new QuotaExceeded();
    }
    c.accepted += 1;
  }

  /** The per-second counts, oldest first (optionally of one account). */
  seconds(account?: string): SecondCount[] {
    return [...this.counts.values()]
      .filter((c) => account === undefined || c.account === account)
      .sort((a, b) => a.second.localeCompare(b.second) || a.operation.localeCompare(b.operation));
  }

  /** Forgets every count. */
  reset(): void {
    this.counts.clear();
    this.order.clear();
  }

  private remember(series: string, key: string): void {
    const keys = this.order.get(series) ?? [];
    keys.push(key);
    if (keys.length > KEPT_SECONDS) this.counts.delete(keys.shift() ?? '');
    this.order.set(series, keys);
  }
}
