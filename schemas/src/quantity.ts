import { MeterstreamError } from '@meterstream/errors';

/** Micro-units per unit: quantities are exact to 6 decimal places. */
export const MICROS_PER_UNIT = 1_000_000n;

/** Largest quantity AWS accepts in one metering record, in units (Int32 max). */
export const MAX_QUANTITY_UNITS = 2_147_483_647n;

/** Largest quantity, in micro-units. */
export const MAX_QUANTITY_MICROS = MAX_QUANTITY_UNITS * MICROS_PER_UNIT;

/**
 * The wire form of a quantity (ADR 0001): a plain decimal, up to 10 integer digits and 6
 * fraction digits. No sign, exponent, NaN or Infinity, so it can never be a float in disguise.
 */
export const QUANTITY_PATTERN = /^\d{1,10}(\.\d{1,6})?$/;

/** {@link MAX_QUANTITY_UNITS} as a number (exact: far below 2^53). */
const MAX_UNITS = Number(MAX_QUANTITY_UNITS);

/**
 * Whether a string matching {@link QUANTITY_PATTERN} is above {@link MAX_QUANTITY_MICROS}, without
 * BigInt (every event of ingest checks this): its integer part (at most 10 digits: exact as a
 * number) is above the maximum, or is the maximum with a fraction that is not zero.
 */
function aboveMax(s: string): boolean {
  const dot = s.indexOf('.');
  const units = Number(dot < 0 ? s : s.slice(0, dot));
  if (units !== MAX_UNITS) return units > MAX_UNITS;
  return dot >= 0 && /[1-9]/.test(s.slice(dot + 1));
}

/** Why `s` is not a valid quantity, or `undefined` when it is one. */
export function quantityProblem(s: unknown): string | undefined {
  if (typeof s !== 'string') return 'must be a decimal string';
  if (!QUANTITY_PATTERN.test(s)) {
    return 'must be a non-negative decimal with at most 10 integer and 6 fraction digits (no sign, exponent, NaN or Infinity)';
  }
  if (aboveMax(s)) return `must be at most ${MAX_QUANTITY_UNITS}`;
  return undefined;
}

function toMicros(s: string): bigint {
  const dot = s.indexOf('.');
  const int = dot < 0 ? s : s.slice(0, dot);
  const frac = dot < 0 ? '' : s.slice(dot + 1);
  return BigInt(int) * MICROS_PER_UNIT + BigInt(frac.padEnd(6, '0'));
}

/**
 * Parses a quantity string into exact integer micro-units (quantity × 10^6).
 *
 * @throws MeterstreamError `VALIDATION_FAILED` when `s` is not a valid quantity (see
 *   {@link QUANTITY_PATTERN}; also more than 2147483647 units).
 */
export function parseQuantity(s: string): bigint {
  checkQuantity(s);
  return toMicros(s);
}

/** Throws VALIDATION_FAILED naming the quantity's problem, if it has one. */
function checkQuantity(s: string): void {
  const problem = quantityProblem(s);
  if (problem !== undefined) {
    throw new MeterstreamError('VALIDATION_FAILED', `quantity ${problem}`, {
      details: { field: 'quantity' },
    });
  }
}

/**
 * Formats micro-units as the canonical quantity string: no leading zeros, no trailing fraction
 * zeros, no dot for whole numbers (`1500000n` → `"1.5"`). `parseQuantity(formatMicros(m)) === m`.
 *
 * @throws RangeError for negative input.
 */
export function formatMicros(micros: bigint): string {
  if (micros < 0n) throw new RangeError('quantity micros must not be negative');
  const int = micros / MICROS_PER_UNIT;
  const frac = micros % MICROS_PER_UNIT;
  if (frac === 0n) return int.toString();
  return `${int}.${frac.toString().padStart(6, '0').replace(/0+$/, '')}`;
}

/**
 * The canonical form of a valid quantity string (`"007.50"` → `"7.5"`): what
 * `formatMicros(parseQuantity(s))` gives, by trimming zeros instead of BigInt arithmetic.
 *
 * @throws MeterstreamError `VALIDATION_FAILED` when `s` is not a valid quantity.
 */
export function canonicalQuantity(s: string): string {
  checkQuantity(s);
  const dot = s.indexOf('.');
  const int = (dot < 0 ? s : s.slice(0, dot)).replace(/^0+(?=\d)/, '');
  const frac = dot < 0 ? '' : s.slice(dot + 1).replace(/0+$/, '');
  return frac === '' ? int : `${int}.${frac}`;
}
