/** An error answered on the AWS wire: `__type` in the body, `x-amzn-ErrorType` header, HTTP status. */
export class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = type;
  }
}

/** Quantities are decimal strings with up to 6 fraction digits; this is their exact integer form. */
const SCALE = 1_000_000n;

/** Parses a non-negative decimal string into millionths, or undefined if malformed. */
export function toMicros(s: string): bigint | undefined {
  const m = /^(0|[1-9][0-9]*)(?:\.([0-9]{1,6}))?$/.exec(s);
  if (!m) return undefined;
  const frac = (m[2] ?? '').padEnd(6, '0');
  return BigInt(m[1] ?? '0') * SCALE + BigInt(frac);
}

/** Formats millionths as the shortest decimal string. */
export function fromMicros(v: bigint): string {
  const whole = v / SCALE;
  const frac = (v % SCALE).toString().padStart(6, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : whole.toString();
}
