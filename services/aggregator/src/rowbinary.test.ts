import { describe, expect, it } from 'vitest';
import { RowBinaryWriter } from './rowbinary.js';

describe('RowBinaryWriter', () => {
  it('writes strings with LEB128 lengths, also past 127 bytes and for multi-byte UTF-8', () => {
    const w = new RowBinaryWriter(4);
    const long = 'x'.repeat(300);
    w.string('ab').string('ü').string(long).string('');
    const b = w.take();
    expect([...b.subarray(0, 3)]).toEqual([2, 0x61, 0x62]);
    expect([...b.subarray(3, 6)]).toEqual([2, 0xc3, 0xbc]);
    // 300 = 0b1_0010_1100 → 0xac 0x02
    expect([...b.subarray(6, 8)]).toEqual([0xac, 0x02]);
    expect(b.subarray(8, 308).toString()).toBe(long);
    expect(b[308]).toBe(0);
    expect(b.length).toBe(309);
  });

  it('writes nullable strings, integers and 64-bit values little-endian', () => {
    const w = new RowBinaryWriter(1);
    w.nullableString(null)
      .nullableString('a')
      .u8(7)
      .u32(0x01020304)
      .i64(2 ** 40 + 5)
      .i64('9999999999999999')
      .i64(-1);
    const b = w.take();
    expect([...b.subarray(0, 4)]).toEqual([1, 0, 1, 0x61]);
    expect(b[4]).toBe(7);
    expect(b.readUInt32LE(5)).toBe(0x01020304);
    expect(b.readBigInt64LE(9)).toBe(2n ** 40n + 5n);
    expect(b.readBigInt64LE(17)).toBe(9999999999999999n);
    expect(b.readBigInt64LE(25)).toBe(-1n);
    expect(w.length).toBe(0);
  });
});
