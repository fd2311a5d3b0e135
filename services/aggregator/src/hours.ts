import { DAY_MS, HOUR_MS, hourStart } from '@meterstream/runtime';

export { HOUR_MS };

/** Start of the UTC hour containing `ms` (the runtime's `hourStart`, by its aggregator name). */
export const hourOf = hourStart;

/** Whole seconds of a millisecond time (for ClickHouse DateTime). */
export const sec = (ms: number): number => Math.floor(ms / 1000);

/**
 * Whether AWS no longer accepts a record for usage at `eventMs` when it is processed at `nowMs`:
 * 24 hours or more old, or of a previous month after 06:00 UTC on the 1st.
 */
export function isTooOldForAws(eventMs: number, nowMs: number): boolean {
  if (nowMs - eventMs >= DAY_MS) return true;
  const monthStart = monthStartOf(nowMs);
  return eventMs < monthStart && nowMs >= monthStart + 6 * HOUR_MS;
}

/** The last `monthStartOf` answer: a batch asks with one `now` for every event. */
let lastMonth = { nowMs: Number.NaN, start: 0 };

/** Start of the UTC month containing `nowMs`. */
function monthStartOf(nowMs: number): number {
  if (nowMs !== lastMonth.nowMs) {
    const now = new Date(nowMs);
    lastMonth = { nowMs, start: Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1) };
  }
  return lastMonth.start;
}
