import { describe, expect, it } from 'vitest';
import { fromMicros, toMicros } from './aws-error.js';

describe('decimal quantities', () => {
  it('round-trips and normalizes', () => {
    expect(toMicros('12.5')).toBe(12_500_000n);
    expect(fromMicros(toMicros('12.500000')!)).toBe('12.5');
    expect(fromMicros(toMicros('7')!)).toBe('7');
    expect(fromMicros(toMicros('0.000001')!)).toBe('0.000001');
  });
  it('rejects malformed values', () => {
    for (const bad of ['01', '-1', '1.', '1.1234567', 'x', ''])
      expect(toMicros(bad)).toBeUndefined();
  });
});
