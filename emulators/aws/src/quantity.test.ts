import { describe, expect, it } from 'vitest';
import { AwsError } from './aws-error.js';
import { fromMicros, readQuantity, recordQuantity, toMicros } from './quantity.js';

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

describe('recordQuantity', () => {
  it('reads the integer or the decimal field, and 0 when neither is set', () => {
    expect(recordQuantity(5, undefined, 'Quantity')).toBe(5_000_000n);
    expect(recordQuantity(undefined, '2.25', 'Quantity')).toBe(2_250_000n);
    expect(recordQuantity(undefined, undefined, 'Quantity')).toBe(0n);
  });
  it('compares by value: 17, "17.0" and "17.000000" are one quantity', () => {
    expect(recordQuantity(17, undefined, 'Quantity')).toBe(recordQuantity(undefined, '17.0', 'Q'));
    expect(recordQuantity(undefined, '17.000000', 'Q')).toBe(17_000_000n);
  });
  it('reads up to 10 integer digits and 6 decimals exactly', () => {
    expect(recordQuantity(undefined, '9999999999.999999', 'Q')).toBe(9_999_999_999_999_999n);
    expect(readQuantity(undefined, '0.000001', 'Q')).toEqual({
      micros: 1n,
      kind: 'decimal',
      absent: false,
    });
    expect(readQuantity(undefined, undefined, 'Q')).toEqual({
      micros: 0n,
      kind: 'integer',
      absent: true,
    });
  });
  it('rejects both fields (even when equal), and a malformed decimal, as ValidationException', () => {
    expect(() => recordQuantity(17, '17', 'Quantity')).toThrow(
      new AwsError('ValidationException', 'Quantity and QuantityAsDecimal cannot both be set'),
    );
    expect(() => recordQuantity(undefined, '01', 'UsageQuantity')).toThrow(
      /UsageQuantityAsDecimal is not a decimal/,
    );
  });
});
