import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import * as shared from '@meterstream/schemas';
import * as wire from './wire.js';

// The aggregator's view of the ADR 0001 wire contract must stay @meterstream/schemas': same
// header, subjects and key, Avro that both sides read, and the same quantity parsing.
describe('wire contract matches @meterstream/schemas', () => {
  it('has the same header, subjects and key', () => {
    expect(wire.KIND_HEADER).toBe(shared.KIND_HEADER);
    expect(wire.usageEventSubject('t')).toBe(shared.usageEventSubject('t'));
    expect(wire.freezeCommandSubject('t')).toBe(shared.freezeCommandSubject('t'));
    expect(wire.messageKey('p', 'c')).toBe(shared.messageKey('p', 'c'));
  });

  it('reads what the shared schemas write, and the reverse', () => {
    const mine = avro.Type.forSchema(wire.USAGE_EVENT_SCHEMA as unknown as avro.Schema);
    const theirs = avro.Type.forSchema(shared.USAGE_EVENT_AVRO as unknown as avro.Schema);
    const ev = {
      id: 'e1',
      productCode: 'p',
      licenseArn: null,
      customerIdentifier: 'c',
      customerAwsAccountId: null,
      dimension: 'd',
      quantity: '1.5',
      timestamp: 1_764_150_000_000,
      allocations: [{ quantity: '1.5', tags: { a: 'b' } }],
      source: 's',
      actor: null,
      attributes: { k: 'v' },
    };
    expect(mine.fromBuffer(theirs.toBuffer(ev))).toEqual(ev);
    expect(theirs.fromBuffer(mine.toBuffer(ev))).toEqual(ev);
    const myCmd = avro.Type.forSchema(wire.FREEZE_COMMAND_SCHEMA as unknown as avro.Schema);
    const theirCmd = avro.Type.forSchema(shared.FREEZE_COMMAND_AVRO as unknown as avro.Schema);
    const cmd = {
      requestId: 'r',
      productCode: 'p',
      customer: 'c',
      customerKind: 'identifier',
      dimensions: ['d'],
      hour: 1_764_147_600_000,
      requestedBy: 'u',
      requestedAt: 1_764_150_000_000,
    };
    expect(myCmd.fromBuffer(theirCmd.toBuffer(cmd))).toEqual(cmd);
  });

  it('parses quantities like the shared parser', () => {
    for (const q of ['0', '1', '0.000001', '007.5', '2147483647']) {
      expect(wire.quantityToMicros(q)).toBe(shared.parseQuantity(q).toString());
    }
  });
});

describe('quantityToMicros', () => {
  it('converts exact decimals without floats', () => {
    expect(wire.quantityToMicros('0')).toBe('0');
    expect(wire.quantityToMicros('1')).toBe('1000000');
    expect(wire.quantityToMicros('0.000001')).toBe('1');
    expect(wire.quantityToMicros('007.5')).toBe('7500000');
    expect(wire.quantityToMicros('2147483647.999999')).toBe('2147483647999999');
    expect(wire.quantityToMicros('9999999999.999999')).toBe('9999999999999999');
  });
  it('rejects anything that is not a plain decimal', () => {
    for (const bad of ['', '-1', '1e3', '1.', '.5', '1.1234567', 'NaN', '12345678901', ' 1']) {
      expect(wire.quantityToMicros(bad)).toBeUndefined();
    }
  });
});
