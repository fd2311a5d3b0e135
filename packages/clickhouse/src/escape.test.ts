import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allowIdentifiers, ident, literal, quoteString, sql } from './escape.js';

describe('quoteString', () => {
  it.each([
    ["it's", "'it\\'s'"],
    ['back\\slash', "'back\\\\slash'"],
    ['line\nbreak', "'line\\nbreak'"],
    ['nul\0byte', "'nul\\0byte'"],
    ['\x01', "'\\x01'"],
    ["\\'", "'\\\\\\''"],
    ['ünï©ødé 🚀', "'ünï©ødé 🚀'"],
  ])('escapes %j', (input, expected) => {
    expect(quoteString(input)).toBe(expected);
  });

  it('never lets a quote end the literal early', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const q = quoteString(s);
        const body = q.slice(1, -1);
        // Every quote inside the body is preceded by an odd number of backslashes.
        for (let i = 0; i < body.length; i++) {
          if (body[i] === "'") {
            let n = 0;
            for (let j = i - 1; j >= 0 && body[j] === '\\'; j--) n++;
            expect(n % 2).toBe(1);
          }
        }
        expect(body.endsWith('\\') ? (body.match(/\\+$/)?.[0].length ?? 0) % 2 : 0).toBe(0);
      }),
    );
  });
});

describe('literal', () => {
  it('renders the supported types', () => {
    expect(literal(null)).toBe('NULL');
    expect(literal(3)).toBe('3');
    expect(literal(10n ** 20n)).toBe('100000000000000000000');
    expect(literal(true)).toBe('1');
    expect(literal(new Date('2026-01-02T03:04:05.678Z'))).toBe(
      "toDateTime('2026-01-02 03:04:05', 'UTC')",
    );
    expect(literal(['a', 1, null])).toBe("['a', 1, NULL]");
  });

  it('rejects NaN, Infinity and invalid dates', () => {
    expect(() => literal(Number.NaN)).toThrow();
    expect(() => literal(Number.POSITIVE_INFINITY)).toThrow();
    expect(() => literal(new Date('nope'))).toThrow();
  });
});

describe('ident and sql', () => {
  it('only renders allow-listed identifiers', () => {
    allowIdentifiers('testdb', 'events');
    expect(ident('testdb.events').text).toBe('`testdb`.`events`');
    expect(() => ident('other')).toThrow(/not allowed/);
    expect(() => ident('events; DROP TABLE x')).toThrow();
    expect(() => allowIdentifiers('bad name')).toThrow();
  });

  it('interpolates values as literals', () => {
    allowIdentifiers('t');
    const q = sql`SELECT * FROM ${ident('t')} WHERE a = ${"x' OR 1=1 --"} AND b IN ${[1, 2]}`;
    expect(q.text).toBe("SELECT * FROM `t` WHERE a = 'x\\' OR 1=1 --' AND b IN [1, 2]");
  });
});
