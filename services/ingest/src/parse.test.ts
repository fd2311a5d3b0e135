import { describe, expect, it } from 'vitest';
import { bodyFormat, fromCloudEvent, parseBody } from './parse.js';

describe('parse', () => {
  it('recognizes media types and rejects other charsets', () => {
    expect(bodyFormat('application/json; charset=UTF-8')).toBe('json');
    expect(bodyFormat('Application/CloudEvents-Batch+JSON')).toBe('cloudevents-batch');
    expect(bodyFormat('application/json; charset=latin1')).toBeUndefined();
    expect(bodyFormat(undefined)).toBeUndefined();
  });
  it('splits NDJSON and marks unreadable lines', () => {
    const r = parseBody('ndjson', '{"a":1}\n\n{x\n');
    expect(r.ok && r.items).toEqual([
      { input: { a: 1 } },
      { reasons: [expect.objectContaining({ field: '' })], unreadable: true },
    ]);
  });
  it('maps CloudEvents', () => {
    expect(
      fromCloudEvent({
        specversion: '1.0',
        type: 'io.meterstream.usage',
        id: 'i',
        source: 's',
        time: 't',
        data: { quantity: '1' },
      }),
    ).toEqual({
      input: { quantity: '1', id: 'i', source: 's', timestamp: 't' },
    });
    const bad = fromCloudEvent({ specversion: '0.3', type: 'x', data: 1 });
    expect('reasons' in bad && bad.reasons.map((r) => r.field)).toEqual([
      'specversion',
      'type',
      'id',
      'source',
      'data',
    ]);
  });
});
