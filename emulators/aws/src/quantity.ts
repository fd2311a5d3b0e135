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

/**
 * A record's quantity in millionths from its integer and decimal fields (`Quantity` /
 * `QuantityAsDecimal`, or the `Usage…` and `Allocated…` pairs), which must agree when both are set.
 */
export function recordQuantity(intQ: unknown, decQ: unknown, what: string): bigint {
  const fromInt = typeof intQ === 'number' ? unitsToMicros(intQ) : undefined;
  const fromDec = typeof decQ === 'string' ? toMicros(decQ) : undefined;
  if (typeof decQ === 'string' && fromDec === undefined) {
    throw new AwsError(
      'ValidationException',
      `${what}AsDecimal is not a decimal with at most 6 fraction digits`,
    );
  }
  if (fromInt !== undefined && fromDec !== undefined && fromInt !== fromDec) {
    throw new AwsError('ValidationException', `${what} and ${what}AsDecimal disagree`);
  }
  // AWS: "Quantity defaults to 0 if not specified".
  return fromDec ?? fromInt ?? 0n;
}
