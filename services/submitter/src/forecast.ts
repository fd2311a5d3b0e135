import { DAY_MS, HOUR_MS, SECOND_MS } from '@meterstream/runtime';
import type { SubmitterMetrics } from './metrics.js';

/** The two kinds of AWS deadline: 24 hours after the hour, or the month-end close. */
export type DeadlineKind = 'hour' | 'month_end';
export const DEADLINE_KINDS: readonly DeadlineKind[] = ['hour', 'month_end'];

/** The month-end close is 06:00 UTC on the 1st; every other deadline is 24 h after an hour. */
export function deadlineKindOf(deadlineMs: number): DeadlineKind {
  const firstOfMonth = new Date(deadlineMs).getUTCDate() === 1;
  return firstOfMonth && deadlineMs % DAY_MS === 6 * HOUR_MS ? 'month_end' : 'hour';
}

/** Unsent records that share one deadline. */
export interface DeadlineGroup {
  deadline: number;
  records: number;
}

/** The forecast of one deadline kind: its tightest deadline against the time to send up to it. */
export interface KindForecast {
  /** Unsent records whose deadline is of this kind. */
  records: number;
  /** Seconds needed, at the current share, to send everything due by the tightest deadline. */
  sendSeconds: number;
  /** Seconds from now to that deadline. */
  deadlineSeconds: number;
}

/** Unsent records counted per deadline; records leave it as they are sent. */
export class Backlog {
  private readonly left = new Map<number, number>();

  constructor(records: Iterable<{ deadline: number }> = []) {
    this.add(records, 1);
  }

  /** Takes sent (or given up) records out of the backlog. */
  remove(records: Iterable<{ deadline: number }>): void {
    this.add(records, -1);
  }

  /** Records per deadline, earliest first. */
  groups(): DeadlineGroup[] {
    return [...this.left]
      .map(([deadline, records]) => ({ deadline, records }))
      .sort((a, b) => a.deadline - b.deadline);
  }

  private add(records: Iterable<{ deadline: number }>, sign: 1 | -1): void {
    for (const r of records) {
      const n = (this.left.get(r.deadline) ?? 0) + sign;
      if (n > 0) this.left.set(r.deadline, n);
      else this.left.delete(r.deadline);
    }
  }
}

/**
 * Whether the backlog clears before its deadlines when sent oldest deadline first at
 * `callsPerSecond` calls of up to `batchSize` records (the instance's share of the quota): for each
 * deadline, everything due by then must be sent by then. Per kind, the deadline with the least
 * slack (deadline − time needed); a kind without records is absent. A share of 0 (no bucket
 * sendable) needs Infinity seconds; an unlimited share needs 0.
 */
export function forecastBacklog(
  groups: readonly DeadlineGroup[],
  nowMs: number,
  callsPerSecond: number,
  batchSize: number,
): Partial<Record<DeadlineKind, KindForecast>> {
  const out: Partial<Record<DeadlineKind, KindForecast & { slack: number }>> = {};
  let calls = 0;
  for (const g of groups) {
    if (g.records <= 0) continue;
    calls += Math.ceil(g.records / batchSize);
    const sendSeconds =
      callsPerSecond === Number.POSITIVE_INFINITY
        ? 0
        : callsPerSecond > 0
          ? calls / callsPerSecond
          : Number.POSITIVE_INFINITY;
    const deadlineSeconds = (g.deadline - nowMs) / SECOND_MS;
    const slack = deadlineSeconds - sendSeconds;
    const kind = deadlineKindOf(g.deadline);
    const prev = out[kind];
    const records = (prev?.records ?? 0) + g.records;
    out[kind] =
      prev && prev.slack <= slack
        ? { ...prev, records }
        : { records, sendSeconds, deadlineSeconds, slack };
  }
  const result: Partial<Record<DeadlineKind, KindForecast>> = {};
  for (const kind of DEADLINE_KINDS) {
    const f = out[kind];
    if (f)
      result[kind] = {
        records: f.records,
        sendSeconds: f.sendSeconds,
        deadlineSeconds: f.deadlineSeconds,
      };
  }
  return result;
}

/** Sets the backlog gauges of every kind with records; a kind without any has no series. */
export function publishForecast(
  metrics: SubmitterMetrics,
  forecast: Partial<Record<DeadlineKind, KindForecast>>,
): void {
  for (const deadline of DEADLINE_KINDS) {
    const f = forecast[deadline];
    const gauges = [
      [metrics.backlogRecords, f?.records],
      [metrics.backlogSendSeconds, f?.sendSeconds],
      [metrics.backlogDeadlineSeconds, f?.deadlineSeconds],
    ] as const;
    for (const [gauge, value] of gauges) {
      if (value === undefined) gauge.remove({ deadline });
      else gauge.set({ deadline }, value);
    }
  }
}
