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
  const now = new Date(nowMs);
  const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  return eventMs < monthStart && nowMs >= monthStart + 6 * HOUR_MS;
}
