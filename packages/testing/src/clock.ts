import { HOUR_MS } from '@meterstream/runtime';

/**
 * A clock a test controls, so that its outcome never depends on the wall clock. It starts at a
 * fixed reference instant and then runs at the machine's pace (services measure timeouts and
 * backoff with it, so it must move), which keeps every "hours ago" of the test at the same
 * distance from AWS's 24-hour limit and month-end close whatever the date the suite runs on.
 */
export interface TestClock {
  /** The reference instant (epoch ms) the clock started at. */
  readonly ref: number;
  /** What to add to `Date.now()` to get this clock's time: for processes a test spawns. */
  readonly offsetMs: number;
  /** This clock's "now", in epoch ms. Bound, so it can be passed as a function. */
  now(): number;
  /** The start of the hour `k` hours before the reference instant's hour. */
  hoursAgo(k: number): number;
}

/**
 * 12:00 UTC on the 15th of the month of `wallMs`: every hour within a few days of it lies in the
 * same month, far from the month-end close, and the instant stays within ±16 days of the machine's
 * clock (so nothing that still keeps real time — Kafka, ClickHouse — sees it as far off).
 */
export function referenceInstant(wallMs: number = Date.now()): number {
  const d = new Date(wallMs);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 15, 12);
}

/** A clock that starts at `ref` (by default {@link referenceInstant}) and runs from there. */
export function testClock(ref: number = referenceInstant()): TestClock {
  const offsetMs = ref - Date.now();
  const hour = Math.floor(ref / HOUR_MS) * HOUR_MS;
  return {
    ref,
    offsetMs,
    now: () => Date.now() + offsetMs,
    hoursAgo: (k: number) => hour - k * HOUR_MS,
  };
}

/** Variables through which a process's clock is set from outside (Debian's faketime: libfaketime). */
const CLOCK_VARIABLES = /^(LD_PRELOAD|FAKETIME.*|DONT_FAKE_MONOTONIC|NO_FAKE_STAT)$/;

/**
 * The environment for a process a test spawns: `vars`, `PATH`, and whatever sets the test's own
 * clock (faketime's variables), so the child reads the same base clock as the test and a clock
 * offset handed to it (`MS_*_CLOCK_OFFSET_MS`) means the same instant in both.
 */
export function childEnv(vars: Record<string, string>): Record<string, string> {
  const inherited: Record<string, string> = { PATH: process.env.PATH ?? '' };
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && CLOCK_VARIABLES.test(k)) inherited[k] = v;
  return { ...inherited, ...vars };
}
