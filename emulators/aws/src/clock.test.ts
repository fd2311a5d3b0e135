import { describe, expect, it } from 'vitest';
import { Rng, hourStart, timestampOutOfBounds } from './clock.js';

const at = (iso: string): number => Date.parse(iso);
const H = 3_600_000;

describe('timestampOutOfBounds', () => {
  const now = at('2026-11-26T12:00:00Z');
  it('accepts the last 24 hours and rejects 24 hours or more', () => {
    expect(timestampOutOfBounds(now - 24 * H + 1, now)).toBeUndefined();
    expect(timestampOutOfBounds(now - 24 * H, now)).toMatch(/24 hours/);
    expect(timestampOutOfBounds(now - 30 * H, now)).toMatch(/24 hours/);
  });
  it('closes the previous month at 06:00 UTC on the 1st', () => {
    const lastOfMonth = at('2026-11-30T23:00:00Z');
    expect(timestampOutOfBounds(lastOfMonth, at('2026-12-01T05:59:59Z'))).toBeUndefined();
    expect(timestampOutOfBounds(lastOfMonth, at('2026-12-01T06:00:00Z'))).toMatch(/previous month/);
    expect(
      timestampOutOfBounds(at('2026-12-01T00:00:00Z'), at('2026-12-01T06:30:00Z')),
    ).toBeUndefined();
  });
  it('rejects timestamps more than an hour in the future', () => {
    expect(timestampOutOfBounds(now + H, now)).toBeUndefined();
    expect(timestampOutOfBounds(now + H + 1, now)).toMatch(/future/);
  });
  it('uses a custom window (MeterUsage: 6 hours)', () => {
    expect(timestampOutOfBounds(now - 6 * H, now, 6 * H)).toMatch(/6 hours/);
    expect(timestampOutOfBounds(now - 5 * H, now, 6 * H)).toBeUndefined();
  });
});

describe('hourStart and Rng', () => {
  it('floors to the UTC hour', () => {
    expect(new Date(hourStart(at('2026-11-26T10:45:12.345Z'))).toISOString()).toBe(
      '2026-11-26T10:00:00.000Z',
    );
  });
  it('is deterministic for a seed and draws nothing at rate 0', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const xs = [a.next(), a.next(), a.next()];
    expect([b.next(), b.next(), b.next()]).toEqual(xs);
    const c = new Rng(7);
    expect(c.chance(0)).toBe(false);
    expect(c.state).toBe(7);
    expect(new Rng(1).next()).not.toBe(new Rng(2).next());
  });
});
