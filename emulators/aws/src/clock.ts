import { HOUR_MS } from '@meterstream/runtime';

/** Source of "now" in epoch milliseconds; injectable so tests and demos control time. */
export interface Clock {
  now(): number;
}

/** The machine's clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** Start of the UTC hour containing `ms`. */
export { hourStart } from '@meterstream/runtime';

/** Start of the UTC month containing `ms`. */
export function monthStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** How far in the future a record's timestamp may be (clock skew of the seller's hosts). */
export const FUTURE_TOLERANCE_MS = HOUR_MS;

/**
 * Why BatchMeterUsage would reject a record's timestamp, or undefined when AWS accepts it: 24 hours
 * or more in the past; in the previous month once 06:00 UTC on the 1st has passed; or more than
 * an hour in the future.
 */
export function timestampOutOfBounds(
  tsMs: number,
  nowMs: number,
  maxAgeMs = 24 * HOUR_MS,
): string | undefined {
  if (nowMs - tsMs >= maxAgeMs)
    return `timestamp is ${maxAgeMs / HOUR_MS} hours or more in the past`;
  const month = monthStart(nowMs);
  if (tsMs < month && nowMs >= month + 6 * HOUR_MS) {
    return 'timestamp is in a previous month, which closed at 06:00 UTC on the 1st';
  }
  if (tsMs - nowMs > FUTURE_TOLERANCE_MS) return 'timestamp is in the future';
  return undefined;
}

/** Deterministic PRNG (mulberry32) whose state can be persisted. */
export class Rng {
  constructor(public state: number) {}
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** True with probability `p`; draws nothing when p is 0, so turning a fault off changes no other draw. */
  chance(p: number): boolean {
    if (p <= 0) return false;
    return this.next() < p;
  }
}
