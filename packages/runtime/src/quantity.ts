/**
 * Quantities are exact decimals with at most 6 fraction digits (AWS `QuantityAsDecimal`); inside
 * Meterstream they are integers of millionths ("micros") held in a bigint.
 */
export const MICROS = 1_000_000n;

/** The largest quantity AWS accepts in one record (2^31 - 1 units). */
export const AWS_MAX_QUANTITY = 2_147_483_647n;

/**
 * Parses a non-negative decimal string (`"12"`, `"0.5"`, at most 6 fraction digits, no sign, no
 * exponent) into micros; undefined when it is not one.
 */
export function parseMicros(s: string): bigint | undefined {
  const m = /^(\d+)(?:\.(\d{1,6}))?$/.exec(s);
  if (!m) return undefined;
  return BigInt(m[1] ?? '0') * MICROS + BigInt((m[2] ?? '').padEnd(6, '0'));
}

/** Micros as the shortest exact decimal string: 2500000n → "2.5", -1n → "-0.000001". */
export function formatMicros(micros: bigint): string {
  const sign = micros < 0n ? '-' : '';
  const abs = micros < 0n ? -micros : micros;
  const frac = (abs % MICROS).toString().padStart(6, '0').replace(/0+$/, '');
  return `${sign}${(abs / MICROS).toString()}${frac ? `.${frac}` : ''}`;
}

/** Whole units as micros. */
export function unitsToMicros(units: number | bigint): bigint {
  return BigInt(units) * MICROS;
}

/** Micros as a JavaScript number of units, for metrics and display only (not exact). */
export function microsToNumber(micros: bigint): number {
  return Number(micros) / 1e6;
}
