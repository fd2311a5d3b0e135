import { formatMicros, parseMicros, unitsToMicros } from '@meterstream/runtime';
import { AwsError } from './aws-error.js';

/** AWS's decimal form: no leading zeros, at most 6 fraction digits (the model's pattern). */
const AWS_DECIMAL = /^(0|[1-9][0-9]*)(?:\.([0-9]{1,6}))?$/;

/** Parses a decimal string in AWS's form into millionths, or undefined if malformed. */
export function toMicros(s: string): bigint | undefined {
  return AWS_DECIMAL.test(s) ? parseMicros(s) : undefined;
}

/** Formats millionths as the shortest decimal string. */
export const fromMicros: (micros: bigint) => string = formatMicros;

/** Which member carries a quantity: the integer one (`Quantity`) or the decimal string one. */
export type QuantityKind = 'integer' | 'decimal';

/** A quantity in millionths and the member it came from. */
export interface Quantity {
  micros: bigint;
  kind: QuantityKind;
  /** Neither member was set (AWS: "defaults to 0"). */
  absent: boolean;
}

/**
 * A record's quantity from its integer and decimal members (`Quantity` / `QuantityAsDecimal`, or the
 * `Usage…` and `Allocated…` pairs). The model: "You can't specify both", so both set is a
 * ValidationException; neither is 0. Compared by value, so 17 and "17.000" are the same quantity.
 */
export function readQuantity(intQ: unknown, decQ: unknown, what: string): Quantity {
  if (intQ !== undefined && decQ !== undefined) {
    throw new AwsError('ValidationException', `${what} and ${what}AsDecimal cannot both be set`);
  }
  if (typeof decQ === 'string') {
    const micros = toMicros(decQ);
    if (micros === undefined) {
      throw new AwsError(
        'ValidationException',
        `${what}AsDecimal is not a decimal with at most 6 fraction digits`,
      );
    }
    return { micros, kind: 'decimal', absent: false };
  }
  if (typeof intQ === 'number')
    return { micros: unitsToMicros(intQ), kind: 'integer', absent: false };
  return { micros: 0n, kind: 'integer', absent: true };
}

/** A record's quantity in millionths (see {@link readQuantity}). */
export function recordQuantity(intQ: unknown, decQ: unknown, what: string): bigint {
  return readQuantity(intQ, decQ, what).micros;
}
