import { describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import { toKafkaError } from './kafka.js';
import { ensureTopic } from './topics.js';
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

describe('ensureTopic', () => {
  const spec = { topic: 't', partitions: 2, replicationFactor: 1 };
  /** An admin whose createTopics fails with `error` `failures` times; the topic exists after. */
  function admin(error: object, failures: number) {
    let created = false;
    let calls = 0;
    return {
      calls: () => calls,
      api: {
        listTopics: async () => (created ? ['t'] : []),
        createTopics: async () => {
          calls++;
          created = true; // the broker made it, its answer was an error all the same
          if (calls <= failures) throw Object.assign(new Error('not yet'), error);
          return true;
        },
      } as unknown as Admin,
    };
  }

  it('retries a retriable answer while the new topic spreads, then finds it', async () => {
    const a = admin({ retriable: true, type: 'UNKNOWN_TOPIC_OR_PARTITION' }, 1);
    await expect(ensureTopic(a.api, spec)).resolves.toBeUndefined();
    expect(a.calls()).toBe(1);
  });

  it('gives up on a retriable answer after retryMs, and at once on a final one', async () => {
    const never = {
      listTopics: async () => [],
      createTopics: async () => {
        throw Object.assign(new Error('no leader'), { retriable: true });
      },
    } as unknown as Admin;
    await expect(ensureTopic(never, spec, 0)).rejects.toThrow('create topic');
    const final = admin({ retriable: false, type: 'INVALID_PARTITIONS' }, 5);
    await expect(ensureTopic(final.api, spec)).rejects.toThrow('create topic');
    expect(final.calls()).toBe(1);
  });
});
