import { describe, expect, it } from 'vitest';
import { Metrics } from '@meterstream/observability';
import {
  Backlog,
  deadlineKindOf,
  forecastBacklog,
  publishForecast,
  type DeadlineGroup,
} from './forecast.js';
import { deadlineOf } from './ledger.js';
import { submitterMetrics } from './metrics.js';

const hour = (iso: string): number => Date.parse(iso);
/** `n` records of the hour starting at `iso`, with its AWS deadline. */
const recordsOf = (iso: string, n: number): { deadline: number }[] =>
  Array.from({ length: n }, () => ({ deadline: deadlineOf(hour(iso)) }));

describe('deadlineKindOf', () => {
  it('tells the month-end close (06:00 UTC on the 1st) from the 24-hour deadline', () => {
    expect(deadlineKindOf(deadlineOf(hour('2026-11-30T20:00:00Z')))).toBe('month_end');
    expect(deadlineOf(hour('2026-11-30T20:00:00Z'))).toBe(hour('2026-12-01T06:00:00Z'));
    expect(deadlineKindOf(deadlineOf(hour('2026-11-15T08:00:00Z')))).toBe('hour');
    // 24 h after 05:00 on the 31st is 05:00 on the 1st: before the close, an hourly deadline.
    expect(deadlineKindOf(deadlineOf(hour('2026-12-31T05:00:00Z')))).toBe('hour');
    expect(deadlineKindOf(hour('2026-12-01T07:00:00Z'))).toBe('hour');
  });
});

describe('forecastBacklog', () => {
  const now = hour('2026-11-15T12:00:00Z');

  it('needs calls ÷ share seconds for everything due by a deadline, oldest deadline first', () => {
    // 1 000 records due at 08:00 tomorrow (20 h away), 10 calls a second of 25 records.
    const groups = new Backlog(recordsOf('2026-11-15T08:00:00Z', 1000)).groups();
    expect(forecastBacklog(groups, now, 10, 25)).toEqual({
      hour: { records: 1000, sendSeconds: 4, deadlineSeconds: 20 * 3600 },
    });
  });

  it('reports the deadline with the least slack, counting everything due before it', () => {
    // 2 500 records due in 22 h (100 calls: 10 s at 10/s), then 500 000 due in 23 h (20 100 calls
    // in all: 2 010 s). Slack 22 h − 10 s against 23 h − 2 010 s: the first is the tighter one.
    const groups: DeadlineGroup[] = [
      { deadline: hour('2026-11-16T10:00:00Z'), records: 2500 },
      { deadline: hour('2026-11-16T11:00:00Z'), records: 500_000 },
    ];
    expect(forecastBacklog(groups, now, 10, 25).hour).toEqual({
      records: 502_500,
      sendSeconds: 10,
      deadlineSeconds: 22 * 3600,
    });
    // Half an hour before 11:00's deadline, the 11:00 records cannot make it: 2 010 s > 1 800 s.
    const late = hour('2026-11-16T10:30:00Z');
    const tail: DeadlineGroup[] = [{ deadline: hour('2026-11-16T11:00:00Z'), records: 502_500 }];
    const f = forecastBacklog(tail, late, 10, 25).hour;
    expect(f).toEqual({ records: 502_500, sendSeconds: 2010, deadlineSeconds: 1800 });
  });

  it('forecasts the month-end close apart, with the hours due before it in its time', () => {
    const at = hour('2026-11-30T22:00:00Z');
    const groups = new Backlog([
      // Hourly deadline 2026-12-01T02:00 (4 h away): 10 000 records.
      ...recordsOf('2026-11-30T02:00:00Z', 10_000),
      // The last day's evening closes at 06:00 on the 1st (8 h away): 2 × 50 000 records.
      ...recordsOf('2026-11-30T20:00:00Z', 50_000),
      ...recordsOf('2026-11-30T21:00:00Z', 50_000),
    ]).groups();
    expect(groups).toHaveLength(2);
    // At a share of 1 call a second: 400 calls by 02:00, 4 400 by the close.
    expect(forecastBacklog(groups, at, 1, 25)).toEqual({
      hour: { records: 10_000, sendSeconds: 400, deadlineSeconds: 4 * 3600 },
      month_end: { records: 100_000, sendSeconds: 4400, deadlineSeconds: 8 * 3600 },
    });
    // At 0.1 call/s the close is missed: 44 000 s needed, 28 800 s left.
    expect(forecastBacklog(groups, at, 0.1, 25).month_end).toMatchObject({
      sendSeconds: 44_000,
      deadlineSeconds: 28_800,
    });
  });

  it('needs Infinity seconds with no share (no sendable bucket) and 0 without a limit', () => {
    const groups = new Backlog(recordsOf('2026-11-15T08:00:00Z', 30)).groups();
    expect(forecastBacklog(groups, now, 0, 25).hour?.sendSeconds).toBe(Number.POSITIVE_INFINITY);
    expect(forecastBacklog(groups, now, Number.POSITIVE_INFINITY, 25).hour?.sendSeconds).toBe(0);
    expect(forecastBacklog([], now, 10, 25)).toEqual({});
  });

  it('rounds a deadline group up to whole calls', () => {
    const groups = new Backlog(recordsOf('2026-11-15T08:00:00Z', 26)).groups();
    expect(forecastBacklog(groups, now, 2, 25).hour?.sendSeconds).toBe(1);
  });
});

describe('Backlog and publishForecast', () => {
  it('takes sent records out and drops the series of a kind with none left', async () => {
    const sent = recordsOf('2026-11-30T20:00:00Z', 3);
    const b = new Backlog([...recordsOf('2026-11-15T08:00:00Z', 2), ...sent]);
    b.remove(sent);
    expect(b.groups()).toEqual([
      { deadline: deadlineOf(hour('2026-11-15T08:00:00Z')), records: 2 },
    ]);
    const metrics = new Metrics('meterstream_submitter', { defaultMetrics: false });
    const m = submitterMetrics(metrics);
    const now = hour('2026-11-30T21:00:00Z');
    publishForecast(m, forecastBacklog(new Backlog(sent).groups(), now, 1, 25));
    let text = await metrics.text();
    expect(text).toContain('meterstream_submitter_backlog_records{deadline="month_end"} 3');
    expect(text).toContain(
      'meterstream_submitter_backlog_deadline_seconds{deadline="month_end"} 32400',
    );
    expect(text).not.toContain('backlog_records{deadline="hour"}');
    publishForecast(m, forecastBacklog(b.groups(), now, 1, 25));
    text = await metrics.text();
    expect(text).toContain('meterstream_submitter_backlog_records{deadline="hour"} 2');
    expect(text).not.toContain('backlog_records{deadline="month_end"}');
  });
});
