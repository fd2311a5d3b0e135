import { describe, expect, it } from 'vitest';
import { HOUR_MS, hourOf, isTooOldForAws, sec } from './hours.js';

describe('hourOf and sec', () => {
  it('gives the start of the UTC hour and whole seconds', () => {
    const h = Date.UTC(2026, 10, 26, 10, 0, 0);
    expect(hourOf(h)).toBe(h);
    expect(hourOf(h + HOUR_MS - 1)).toBe(h);
    expect(sec(h + 1999)).toBe(h / 1000 + 1);
  });
});

describe('isTooOldForAws', () => {
  const now = Date.UTC(2026, 10, 26, 12, 0, 0);
  it('flags usage 24 hours old or more', () => {
    expect(isTooOldForAws(now - 23 * HOUR_MS, now)).toBe(false);
    expect(isTooOldForAws(now - 24 * HOUR_MS, now)).toBe(true);
  });
  it('closes the previous month at 06:00 UTC on the 1st', () => {
    const first = Date.UTC(2026, 11, 1, 0, 0, 0);
    const lastOfNov = first - 60_000;
    expect(isTooOldForAws(lastOfNov, first + 5 * HOUR_MS)).toBe(false);
    expect(isTooOldForAws(lastOfNov, first + 6 * HOUR_MS)).toBe(true);
  });
  it('answers for the now it is given when now changes from call to call', () => {
    const first = Date.UTC(2026, 11, 1, 0, 0, 0);
    const lastOfNov = first - 60_000;
    for (let i = 0; i < 3; i++) {
      expect(isTooOldForAws(lastOfNov, first + 7 * HOUR_MS)).toBe(true);
      expect(isTooOldForAws(lastOfNov, first - HOUR_MS)).toBe(false);
    }
  });
});
