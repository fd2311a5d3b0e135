import { describe, expect, it } from 'vitest';
import { toKafkaError } from './kafka.js';
import { toRegistryError, wireSchemaId } from './registry.js';

describe('error mapping', () => {
  it('maps connection errors to retriable KAFKA_UNAVAILABLE', () => {
    const e = Object.assign(new Error('Connection error: connect ECONNREFUSED'), {
      name: 'KafkaJSConnectionError',
    });
    const ours = toKafkaError(e, 'send');
    expect(ours.code).toBe('KAFKA_UNAVAILABLE');
    expect(ours.retriable).toBe(true);
    expect(
      toKafkaError(Object.assign(new Error('bad'), { name: 'KafkaJSInvalidTopicError' }), 'send')
        .code,
    ).toBe('KAFKA_ERROR');
  });

  it('maps registry errors', () => {
    expect(toRegistryError(new Error('connect ECONNREFUSED 127.0.0.1:8081'), 'register').code).toBe(
      'SCHEMA_REGISTRY_UNAVAILABLE',
    );
    expect(
      toRegistryError(Object.assign(new Error('incompatible'), { status: 409 }), 'register').code,
    ).toBe('SCHEMA_ERROR');
  });
});

describe('wireSchemaId', () => {
  it('reads the id after the magic byte', () => {
    const b = Buffer.from([0, 0, 0, 1, 2, 9, 9]);
    expect(wireSchemaId(b)).toBe(258);
    expect(() => wireSchemaId(Buffer.from([1, 0, 0, 0, 1]))).toThrow(/wire format/);
    expect(() => wireSchemaId(Buffer.from([0, 0]))).toThrow();
  });
});
