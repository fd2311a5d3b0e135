import { isUtf8 } from 'node:buffer';
import type { Reason } from '@meterstream/schemas';

/**
 * A JSON number literal that a double does not keep as typed: it has an exponent or more than 15
 * significant digits. `JSON.parse` would turn `1e3` into 1000 and
 * `1.000000000000000000000000000001` into 1, so the reader keeps the literal and lets validation
 * reject it where a number matters (the quantity).
 */
export class LossyNumber {
  constructor(
    /** The literal exactly as sent. */
    readonly text: string,
  ) {}
}

/** Syntax error of a JSON text: the body (or NDJSON line) is unreadable (400). */
export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    /** Character offset in the text given to the reader. */
    readonly position: number,
  ) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

/** Body text decoded as strict UTF-8, with where invalid bytes were. */
export interface DecodedBody {
  text: string;
  /**
   * One entry per invalid UTF-8 sequence, in order: `at` is the offset in `text` of the U+FFFD
   * that stands in for it, `byte` its offset in the body. Empty for a valid body.
   */
  invalid: { at: number; byte: number }[];
}

const NO_INVALID: DecodedBody['invalid'] = [];

/**
 * Decodes a body as UTF-8 without silently replacing anything: a valid body (the common case,
 * checked natively) is decoded once; otherwise each invalid sequence becomes U+FFFD and is listed,
 * so the caller can name the event that contains it.
 */
export function decodeUtf8(body: Uint8Array): DecodedBody {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.length);
  if (isUtf8(buf)) return { text: buf.toString('utf8'), invalid: NO_INVALID };
  const invalid: DecodedBody['invalid'] = [];
  let text = '';
  let from = 0;
  let i = 0;
  while (i < buf.length) {
    const n = validSequenceLength(buf, i);
    if (n > 0) {
      i += n;
      continue;
    }
    text += buf.toString('utf8', from, i);
    invalid.push({ at: text.length, byte: i });
    text += '\uFFFD';
    i += invalidSequenceLength(buf, i);
    from = i;
  }
  text += buf.toString('utf8', from, buf.length);
  return { text, invalid };
}

const isCont = (b: number | undefined): boolean => b !== undefined && (b & 0xc0) === 0x80;

/** The range of the second byte after lead byte `b` (Unicode Table 3-7), or undefined. */
function secondByteRange(b: number): [number, number, number] | undefined {
  // [low, high, total length]
  if (b >= 0xc2 && b <= 0xdf) return [0x80, 0xbf, 2];
  if (b === 0xe0) return [0xa0, 0xbf, 3];
  if ((b >= 0xe1 && b <= 0xec) || b === 0xee || b === 0xef) return [0x80, 0xbf, 3];
  if (b === 0xed) return [0x80, 0x9f, 3]; // no UTF-16 surrogates
  if (b === 0xf0) return [0x90, 0xbf, 4];
  if (b >= 0xf1 && b <= 0xf3) return [0x80, 0xbf, 4];
  if (b === 0xf4) return [0x80, 0x8f, 4]; // nothing above U+10FFFF
  return undefined;
}

/** Length of the well-formed sequence at `i`, or 0. */
function validSequenceLength(buf: Buffer, i: number): number {
  const b = buf[i]!;
  if (b < 0x80) return 1;
  const r = secondByteRange(b);
  if (!r) return 0;
  const b1 = buf[i + 1];
  if (b1 === undefined || b1 < r[0] || b1 > r[1]) return 0;
  for (let k = 2; k < r[2]; k++) if (!isCont(buf[i + k])) return 0;
  return r[2];
}

/** Length of the maximal ill-formed subpart at `i` (what one U+FFFD replaces, as in WHATWG). */
function invalidSequenceLength(buf: Buffer, i: number): number {
  const r = secondByteRange(buf[i]!);
  if (!r) return 1;
  const b1 = buf[i + 1];
  if (b1 === undefined || b1 < r[0] || b1 > r[1]) return 1;
  let k = 2;
  while (k < r[2] && isCont(buf[i + k])) k++;
  return k;
}

/** Deepest nesting the reader follows; an event is 4 levels deep, a CloudEvent 5. */
export const MAX_DEPTH = 64;

const C = {
  Tab: 0x09,
  Lf: 0x0a,
  Cr: 0x0d,
  Space: 0x20,
  Quote: 0x22,
  Plus: 0x2b,
  Comma: 0x2c,
  Minus: 0x2d,
  Dot: 0x2e,
  Slash: 0x2f,
  Zero: 0x30,
  Nine: 0x39,
  Colon: 0x3a,
  UpperE: 0x45,
  OpenBracket: 0x5b,
  Backslash: 0x5c,
  CloseBracket: 0x5d,
  LowerE: 0x65,
  OpenBrace: 0x7b,
  CloseBrace: 0x7d,
} as const;

const ESCAPES: Record<number, string> = {
  0x22: '"',
  0x5c: '\\',
  0x2f: '/',
  0x62: '\b',
  0x66: '\f',
  0x6e: '\n',
  0x72: '\r',
  0x74: '\t',
};

/**
 * A strict RFC 8259 reader, one pass over the text, that builds the same values as `JSON.parse`
 * except where `JSON.parse` silently loses information:
 *
 * - a duplicate key in an object is a problem (`JSON.parse` keeps the last value);
 * - an escaped unpaired UTF-16 surrogate (`"\ud800"`) is a problem (not Unicode text);
 * - a number with an exponent or more than 15 significant digits becomes a {@link LossyNumber}.
 *
 * Problems do not stop reading: they are collected in {@link problems} with the JSON path of the
 * value (relative to where reading started), so a batch reports every bad event. Syntax errors
 * throw {@link JsonSyntaxError}. Reads stop at {@link end}, which an NDJSON reader sets per line.
 *
 * Why our own reader rather than a library such as lossless-json: that one keeps number literals
 * but accepts a repeated key whose values are equal, does not look at surrogate escapes, and stops
 * at the first error, where ingest must name every bad event of a batch; a second pass next to
 * `JSON.parse` would read every body twice on the hot path.
 */
export class StrictJsonReader {
  pos = 0;
  end: number;
  /** Problems found since the last reset (undefined: none; kept unallocated on the hot path). */
  problems: Reason[] | undefined;
  private readonly path: (string | number)[] = [];

  constructor(readonly text: string) {
    this.end = text.length;
  }

  /** Starts a new top-level value: forgets problems and the path (also after a syntax error). */
  begin(): void {
    this.problems = undefined;
    this.path.length = 0;
  }

  /** Skips JSON whitespace. */
  ws(): void {
    const t = this.text;
    let p = this.pos;
    while (p < this.end) {
      const c = t.charCodeAt(p);
      if (c !== C.Space && c !== C.Lf && c !== C.Cr && c !== C.Tab) break;
      p++;
    }
    this.pos = p;
  }

  /** The next character code, or -1 at the end. */
  peek(): number {
    return this.pos < this.end ? this.text.charCodeAt(this.pos) : -1;
  }

  /** Throws a syntax error at the current position. */
  fail(expected: string): never {
    const c = this.peek();
    const found = c === -1 ? 'end of input' : JSON.stringify(String.fromCharCode(c));
    throw new JsonSyntaxError(
      `expected ${expected} at position ${this.pos}, found ${found}`,
      this.pos,
    );
  }

  /** Reads one value at the current position (whitespace before it is skipped). */
  value(): unknown {
    this.ws();
    return this.read(0);
  }

  private problem(message: string, key?: string): void {
    const parts = key === undefined ? this.path : [...this.path, key];
    let field = '';
    for (const p of parts) {
      field += typeof p === 'number' ? `[${p}]` : field === '' ? p : `.${p}`;
    }
    (this.problems ??= []).push({ field, message });
  }

  private read(depth: number): unknown {
    const c = this.peek();
    switch (c) {
      case C.OpenBrace:
        return this.object(depth + 1);
      case C.OpenBracket:
        return this.array(depth + 1);
      case C.Quote:
        return this.string();
      case 0x74: // t
        return this.literal('true', true);
      case 0x66: // f
        return this.literal('false', false);
      case 0x6e: // n
        return this.literal('null', null);
      default:
        if (c === C.Minus || (c >= C.Zero && c <= C.Nine)) return this.number();
        return this.fail('a JSON value');
    }
  }

  private literal<T>(word: string, v: T): T {
    if (this.pos + word.length > this.end || !this.text.startsWith(word, this.pos)) {
      this.fail('a JSON value');
    }
    this.pos += word.length;
    return v;
  }

  private object(depth: number): Record<string, unknown> {
    if (depth > MAX_DEPTH) this.fail(`at most ${MAX_DEPTH} levels of nesting`);
    this.pos++;
    const obj: Record<string, unknown> = {};
    this.ws();
    if (this.peek() === C.CloseBrace) {
      this.pos++;
      return obj;
    }
    for (;;) {
      if (this.peek() !== C.Quote) this.fail('a string key');
      const key = this.string();
      this.ws();
      if (this.peek() !== C.Colon) this.fail('":"');
      this.pos++;
      this.ws();
      this.path.push(key);
      const v = this.read(depth);
      this.path.pop();
      if (Object.prototype.hasOwnProperty.call(obj, key)) {
        this.problem(
          'is a duplicate key: each key may appear once in an object (JSON.parse would keep the last value)',
          key,
        );
      } else if (key === '__proto__') {
        // As JSON.parse does: an own property, never the prototype.
        Object.defineProperty(obj, key, {
          value: v,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else {
        obj[key] = v;
      }
      if (!this.more(C.CloseBrace, '"," or "}"')) return obj;
    }
  }

  private array(depth: number): unknown[] {
    if (depth > MAX_DEPTH) this.fail(`at most ${MAX_DEPTH} levels of nesting`);
    this.pos++;
    const arr: unknown[] = [];
    this.ws();
    if (this.peek() === C.CloseBracket) {
      this.pos++;
      return arr;
    }
    for (;;) {
      this.path.push(arr.length);
      arr.push(this.read(depth));
      this.path.pop();
      if (!this.more(C.CloseBracket, '"," or "]"')) return arr;
    }
  }

  /**
   * After a member or an element: true on "," (another follows), false on the closing `close`
   * (consumed); fails naming `expected` on anything else.
   */
  private more(close: number, expected: string): boolean {
    this.ws();
    const c = this.peek();
    this.pos++;
    if (c === C.Comma) {
      this.ws();
      return true;
    }
    if (c === close) return false;
    this.pos--;
    return this.fail(expected);
  }

  /** Reads a string at `pos` (on its opening quote). */
  private string(): string {
    const t = this.text;
    const start = this.pos + 1;
    let p = start;
    // Fast path: no escapes, as nearly every string of a usage event.
    while (p < this.end) {
      const c = t.charCodeAt(p);
      if (c === C.Quote) {
        this.pos = p + 1;
        return t.slice(start, p);
      }
      if (c === C.Backslash) break;
      if (c < 0x20) {
        this.pos = p;
        this.fail('no raw control character in a string (escape it)');
      }
      p++;
    }
    let out = t.slice(start, p);
    let from = p;
    while (p < this.end) {
      const c = t.charCodeAt(p);
      if (c === C.Quote) {
        this.pos = p + 1;
        return out + t.slice(from, p);
      }
      if (c < 0x20) {
        this.pos = p;
        this.fail('no raw control character in a string (escape it)');
      }
      if (c !== C.Backslash) {
        p++;
        continue;
      }
      out += t.slice(from, p);
      const e = p + 1 < this.end ? t.charCodeAt(p + 1) : -1;
      if (e === 0x75 /* u */) {
        const unit = this.hex4(p + 2);
        p += 6;
        if (unit >= 0xd800 && unit <= 0xdbff) {
          const low =
            p + 1 < this.end && t.charCodeAt(p) === C.Backslash && t.charCodeAt(p + 1) === 0x75
              ? this.hex4(p + 2)
              : -1;
          if (low >= 0xdc00 && low <= 0xdfff) {
            out += String.fromCharCode(unit, low);
            p += 6;
          } else {
            this.surrogate(unit);
            out += String.fromCharCode(unit);
          }
        } else {
          if (unit >= 0xdc00 && unit <= 0xdfff) this.surrogate(unit);
          out += String.fromCharCode(unit);
        }
      } else {
        const s = ESCAPES[e];
        if (s === undefined) {
          this.pos = p;
          this.fail('a valid escape (\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)');
        }
        out += s;
        p += 2;
      }
      from = p;
    }
    this.pos = p;
    return this.fail('a closing quote');
  }

  private surrogate(unit: number): void {
    this.problem(
      `contains an unpaired UTF-16 surrogate (\\u${unit.toString(16).padStart(4, '0')}): not valid Unicode text`,
    );
  }

  private hex4(at: number): number {
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const c = at + k < this.end ? this.text.charCodeAt(at + k) : -1;
      const d =
        c >= 0x30 && c <= 0x39
          ? c - 0x30
          : c >= 0x61 && c <= 0x66
            ? c - 0x57
            : c >= 0x41 && c <= 0x46
              ? c - 0x37
              : -1;
      if (d < 0) {
        this.pos = at + k;
        this.fail('four hex digits after \\u');
      }
      v = v * 16 + d;
    }
    return v;
  }

  private digits(): number {
    const t = this.text;
    const from = this.pos;
    let p = from;
    while (p < this.end) {
      const c = t.charCodeAt(p);
      if (c < C.Zero || c > C.Nine) break;
      p++;
    }
    this.pos = p;
    return p - from;
  }

  private number(): number | LossyNumber {
    const t = this.text;
    const start = this.pos;
    if (this.peek() === C.Minus) this.pos++;
    const intStart = this.pos;
    const intDigits = this.digits();
    if (intDigits === 0) this.fail('a digit');
    if (intDigits > 1 && t.charCodeAt(intStart) === C.Zero) {
      this.pos = intStart + 1;
      this.fail('no leading zero');
    }
    let fracDigits = 0;
    if (this.peek() === C.Dot) {
      this.pos++;
      fracDigits = this.digits();
      if (fracDigits === 0) this.fail('a digit after "."');
    }
    let exponent = false;
    const e = this.peek();
    if (e === C.LowerE || e === C.UpperE) {
      exponent = true;
      this.pos++;
      const s = this.peek();
      if (s === C.Plus || s === C.Minus) this.pos++;
      if (this.digits() === 0) this.fail('a digit in the exponent');
    }
    const end = this.pos;
    if (!exponent && intDigits + fracDigits <= 15) {
      if (fracDigits === 0 && start === intStart) {
        // Small non-negative integer: no substring needed.
        let v = 0;
        for (let p = start; p < end; p++) v = v * 10 + (t.charCodeAt(p) - C.Zero);
        return v;
      }
      return Number(t.slice(start, end));
    }
    const literal = t.slice(start, end);
    if (exponent || significantDigits(literal) > 15) return new LossyNumber(literal);
    return Number(literal);
  }
}

/**
 * Significant digits of a plain decimal literal (no exponent): leading zeros do not count, nor
 * do trailing zeros of the fraction (`1.50` is exactly 1.5); trailing zeros of the integer part
 * do (`1000000000000000000` has 19).
 */
export function significantDigits(literal: string): number {
  const unsigned = literal.startsWith('-') ? literal.slice(1) : literal;
  const dot = unsigned.indexOf('.');
  const int = dot < 0 ? unsigned : unsigned.slice(0, dot);
  const frac = dot < 0 ? '' : unsigned.slice(dot + 1).replace(/0+$/, '');
  return (int + frac).replace(/^0+/, '').length;
}
