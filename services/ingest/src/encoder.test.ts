import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { USAGE_EVENT_AVRO, type UsageEvent } from '@meterstream/schemas';
import { wireEncoder } from './encoder.js';

const type = avro.Type.forSchema(USAGE_EVENT_AVRO as unknown as avro.Schema);

const event = (i: number, attr = ''): UsageEvent => ({
  id: `e-${i}`,
  productCode: 'demo-analytics',
  licenseArn: null,
  customerIdentifier: `cust-${i % 7}`,
  customerAwsAccountId: null,
  dimension: 'api_calls',
  quantity: `${i}.5`,
  timestamp: 1_700_000_000_000 + i,
  allocations: [],
  source: 'test',
  actor: null,
  attributes: attr ? { note: attr } : {},
});

/** The wire format the straightforward way: prefix + `toBuffer`. */
function expected(schemaId: number, ev: UsageEvent): Buffer {
  const head = Buffer.alloc(5);
  head.writeInt32BE(schemaId, 1);
  return Buffer.concat([head, type.toBuffer(ev)]);
}

describe('wireEncoder', () => {
  it('writes magic byte, schema id and Avro, event after event, byte for byte as toBuffer', () => {
    const encode = wireEncoder(4242, type, 1024);
    const events = Array.from({ length: 200 }, (_, i) => event(i));
    const out = events.map((ev) => encode(ev));
    // Earlier results are intact after later ones filled (and replaced) chunks.
    for (const [i, ev] of events.entries()) {
      expect(out[i]).toEqual(expected(4242, ev));
      expect(type.fromBuffer(out[i]!.subarray(5))).toEqual(ev);
    }
  });

  it('takes an event larger than a chunk, and goes on after it', () => {
    const encode = wireEncoder(7, type, 64);
    const big = event(1, 'x'.repeat(5_000));
    const before = encode(event(0));
    const got = encode(big);
    const after = encode(event(2));
    expect(got).toEqual(expected(7, big));
    expect(before).toEqual(expected(7, event(0)));
    expect(after).toEqual(expected(7, event(2)));
  });
});
