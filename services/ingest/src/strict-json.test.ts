import { describe, expect, it } from 'vitest';
import {
  JsonSyntaxError,
  LossyNumber,
  MAX_DEPTH,
  StrictJsonReader,
  decodeUtf8,
  significantDigits,
} from './strict-json.js';

/** Reads `text` as one JSON value; returns the value and the problems. */
function read(text: string): { value: unknown; problems: unknown } {
  const r = new StrictJsonReader(text);
  r.begin();
  const value = r.value();
  r.ws();
  if (r.pos !== r.end) r.fail('the end');
  return { value, problems: r.problems };
}

/** A small seeded PRNG (mulberry32) so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomValue(rand: () => number, depth: number): unknown {
  const k = Math.floor(rand() * (depth > 3 ? 5 : 7));
  const chars = ['a', 'é', '"', '\\', '\n', '\u0001', '😀', '\u2028', '/', ' ', 'z', '\uFFFD'];
  switch (k) {
    case 0:
      return null;
    case 1:
      return rand() < 0.5;
    case 2: {
      // Numbers JSON.stringify prints without exponent and with at most 15 significant digits.
      const v = Math.round(rand() * 1e9) / 10 ** Math.floor(rand() * 6);
      return rand() < 0.2 ? -v : v;
    }
    case 3:
    case 4:
      return Array.from(
        { length: Math.floor(rand() * 8) },
        () => chars[Math.floor(rand() * chars.length)],
      ).join('');
    case 5:
      return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(rand, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      const n = Math.floor(rand() * 5);
      for (let i = 0; i < n; i++)
        o[`k${i}${rand() < 0.3 ? 'é' : ''}`] = randomValue(rand, depth + 1);
      return o;
    }
  }
}

describe('StrictJsonReader', () => {
  it('reads what JSON.parse reads, for 2 000 random documents (seeded)', () => {
    const rand = rng(20261126);
    for (let i = 0; i < 2_000; i++) {
      const doc = randomValue(rand, 0);
      const text = JSON.stringify(doc, null, rand() < 0.3 ? 2 : undefined);
      const { value, problems } = read(text);
      expect(value, text).toEqual(JSON.parse(text));
      expect(problems, text).toBeUndefined();
    }
  });

  it('agrees with JSON.parse on escapes, literals, whitespace and numbers', () => {
    for (const text of [
      ' {"a" : [1, -0.5, 0, 1.25e0 ],"b":"\\u00e9\\n\\/\\"\\\\\\b\\f\\r\\t", "c":true,"d":false,"e":null}\r\n',
      '"\\ud83d\\ude00"',
      '12345678901234.5',
      '0.000001',
      '[]',
      '{}',
    ]) {
      const { value } = read(text);
      const expected = JSON.parse(text) as unknown;
      // 1.25e0 is kept as typed (exponent); everything else matches.
      expect(JSON.stringify(value, (_k, v: unknown) => (v instanceof LossyNumber ? 1.25 : v))).toBe(
        JSON.stringify(expected),
      );
    }
  });

  it('rejects what JSON.parse rejects', () => {
    for (const text of [
      '',
      '{',
      '{"a":1,}',
      '[1,]',
      '01',
      '1.',
      '.5',
      '-',
      '1e',
      '+1',
      'tru',
      'NaN',
      '"a\u0001b"',
      '"\\x41"',
      '"\\u12g4"',
      '"open',
      "{'a':1}",
      '{"a" 1}',
      '[1 2]',
      '1 2',
      '\uFEFF{}',
      '{"a":1}x',
    ]) {
      expect(() => JSON.parse(text), text).toThrow();
      expect(() => read(text), text).toThrow(JsonSyntaxError);
    }
  });

  it('limits nesting instead of overflowing the stack', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(() => read(deep)).toThrow(/levels of nesting/);
    const ok = '['.repeat(MAX_DEPTH) + ']'.repeat(MAX_DEPTH);
    expect(() => read(ok)).not.toThrow();
  });

  it('keeps numbers with an exponent or more than 15 significant digits as typed', () => {
    for (const literal of [
      '1e3',
      '1E3',
      '1e-3',
      '2.5E+2',
      '1.000000000000000000000000000001',
      '1234567890123456',
      '0.1234567890123456',
      '-1e3',
    ]) {
      const { value } = read(literal);
      expect(value, literal).toBeInstanceOf(LossyNumber);
      expect((value as LossyNumber).text).toBe(literal);
    }
    // At most 15 significant digits: an ordinary number (leading and fraction-trailing zeros
    // do not count).
    expect(read('123456789012345').value).toBe(123456789012345);
    expect(read('0.000000000000000000012').value).toBe(1.2e-20);
    expect(read('1.50000000000000000000').value).toBe(1.5);
    expect(read('-7').value).toBe(-7);
    expect(significantDigits('1000000000000000000')).toBe(19);
    expect(significantDigits('-0.00120')).toBe(2);
  });

  it('reports duplicate keys with their path, keeping the first value', () => {
    const { value, problems } = read(
      '{"quantity":1,"quantity":2,"allocations":[{"tags":{"t":"a","t":"b"}}]}',
    );
    expect(value).toEqual({ quantity: 1, allocations: [{ tags: { t: 'a' } }] });
    expect(problems).toEqual([
      { field: 'quantity', message: expect.stringContaining('duplicate key') as unknown },
      { field: 'allocations[0].tags.t', message: expect.stringContaining('duplicate') as unknown },
    ]);
  });

  it('keeps __proto__ an own property, as JSON.parse does', () => {
    const { value } = read('{"__proto__":{"polluted":true}}');
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value as object)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(read('{"__proto__":1,"__proto__":2}').problems).toHaveLength(1);
  });

  it('reports unpaired surrogate escapes, accepts pairs', () => {
    expect(read('{"c":"\\ud83d\\ude00"}').problems).toBeUndefined();
    for (const [text, count] of [
      ['{"c":"x\\ud800"}', 1],
      ['{"c":"\\ud800x"}', 1],
      ['{"c":"\\udc00"}', 1],
      ['{"c":"\\ud800\\u0041"}', 1],
      ['{"c":"\\ud800\\ud800"}', 2],
    ] as const) {
      const problems = read(text).problems as { field: string; message: string }[];
      expect(problems.length, text).toBe(count);
      for (const p of problems) {
        expect(p, text).toEqual({
          field: 'c',
          message: expect.stringContaining('unpaired UTF-16 surrogate') as unknown,
        });
      }
    }
  });

  it('stops at end, as an NDJSON reader needs', () => {
    const r = new StrictJsonReader('{"a":\n1}');
    r.end = 5;
    expect(() => r.value()).toThrow(JsonSyntaxError);
  });
});

describe('decodeUtf8', () => {
  it('decodes valid UTF-8 once, keeping a BOM', () => {
    const d = decodeUtf8(Buffer.from('\uFEFF{"a":"é😀"}'));
    expect(d).toEqual({ text: '\uFEFF{"a":"é😀"}', invalid: [] });
  });

  it('marks each invalid sequence with its text and byte offsets', () => {
    const bytes = Buffer.concat([
      Buffer.from('aé'), // 3 bytes
      Buffer.from([0xff]), // never valid
      Buffer.from('b'),
      Buffer.from([0xed, 0xa0, 0x80]), // an encoded surrogate (CESU-8)
      Buffer.from([0xe2, 0x82]), // truncated 3-byte sequence
      Buffer.from('c'),
      Buffer.from([0xc0, 0xaf]), // overlong '/'
      Buffer.from([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
    ]);
    const d = decodeUtf8(bytes);
    // Same replacement as the WHATWG decoder, which Buffer#toString uses.
    expect(d.text).toBe(bytes.toString('utf8'));
    expect(d.invalid.map((x) => x.byte)).toEqual([3, 5, 6, 7, 8, 11, 12, 13, 14, 15, 16]);
    for (const x of d.invalid) expect(d.text[x.at]).toBe('\uFFFD');
  });
});
