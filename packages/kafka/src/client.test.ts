import { describe, expect, it } from 'vitest';
import { Partitioners, type KafkaMessage, type PartitionerArgs } from 'kafkajs';
import { compatibilityPartitioner, defaultPartitioner } from '@platformatic/kafka';
import { MeterstreamError } from '@meterstream/errors';
import { testLogger } from '@meterstream/testing';
import type { TopicPartitions } from './client.js';
import { kafkaErrorType, toKafkaError } from './errors.js';
import { GroupTracker } from './group.js';
import { CachingMurmur2Partitioner, fromKafkajsMessage, kafkajsConfig } from './kafkajs.js';
import { murmur2, partitionForKey } from './murmur2.js';
import { createMurmur2Partitioner, platformaticBase, platformaticRetry } from './platformatic.js';

/** Kafka's own test vectors (Java `UtilsTest.testMurmur2`). */
const JAVA_MURMUR2: [string, number][] = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ['abc', 479470107],
];

const keys = Array.from({ length: 5_000 }, (_, i) => `prod-${i % 7}|customer-${i}-ü`);

function kafkajsPartition(key: string, partitions: number): number {
  const args = {
    topic: 't',
    partitionMetadata: Array.from({ length: partitions }, (_, partitionId) => ({
      partitionId,
      leader: 1,
    })),
    message: { key, value: null },
  } as unknown as PartitionerArgs;
  return Partitioners.DefaultPartitioner()(args);
}

describe('murmur2 partitioning', () => {
  it('matches the Java hash', () => {
    for (const [s, h] of JAVA_MURMUR2) {
      expect(murmur2(s)).toBe(h);
      expect(murmur2(Buffer.from(s))).toBe(h);
    }
  });

  it('places every key where kafkajs DefaultPartitioner and both our partitioners do', () => {
    const ours = createMurmur2Partitioner();
    const cached = CachingMurmur2Partitioner();
    for (const partitions of [1, 6, 7, 12]) {
      for (const key of keys) {
        const expected = kafkajsPartition(key, partitions);
        expect(partitionForKey(key, partitions)).toBe(expected);
        // @platformatic/kafka takes our partitioner's answer modulo the partition count.
        expect(ours({ topic: 't', key, value: null }, Buffer.from(key)) % partitions).toBe(
          expected,
        );
        const args = {
          topic: 't',
          partitionMetadata: Array.from({ length: partitions }, (_, partitionId) => ({
            partitionId,
            leader: 1,
          })),
          message: { key, value: null },
        } as unknown as PartitionerArgs;
        expect(cached(args)).toBe(expected);
      }
    }
  });

  it("@platformatic/kafka's defaultPartitioner disagrees with Java for keys with the sign bit set; its compatibilityPartitioner agrees", () => {
    const negative = keys.filter((k) => murmur2(k) < 0);
    expect(negative.length).toBeGreaterThan(1_000);
    const differing = negative.filter(
      (k) => defaultPartitioner({ topic: 't' }, Buffer.from(k)) % 6 !== kafkajsPartition(k, 6),
    );
    expect(differing.length).toBeGreaterThan(0);
    for (const k of keys) {
      expect(compatibilityPartitioner({ topic: 't' }, Buffer.from(k)) % 6).toBe(
        kafkajsPartition(k, 6),
      );
    }
  });

  it('keeps an explicit partition and spreads keyless records', () => {
    const cached = CachingMurmur2Partitioner();
    const args = (partition?: number) =>
      ({
        topic: 't',
        partitionMetadata: [0, 1, 2].map((partitionId) => ({ partitionId, leader: 1 })),
        message: { key: 'k', value: null, partition },
      }) as unknown as PartitionerArgs;
    expect(cached(args(2))).toBe(2);
    const ours = createMurmur2Partitioner();
    const spread = new Set(
      Array.from({ length: 6 }, () => ours({ topic: 't', key: null, value: null }, undefined) % 3),
    );
    expect(spread.size).toBe(3);
  });
});

describe('error mapping of both clients', () => {
  it('maps nested @platformatic/kafka network and timeout errors to retriable KAFKA_UNAVAILABLE', () => {
    const network = Object.assign(new Error('Connection refused'), {
      code: 'PLT_KFK_NETWORK',
      canRetry: true,
    });
    const wrapped = Object.assign(
      new AggregateError(
        [
          Object.assign(new AggregateError([network], 'Cannot connect to any broker.'), {
            code: 'PLT_KFK_MULTIPLE',
          }),
        ],
        'initProducerId failed 3 times.',
      ),
      { code: 'PLT_KFK_MULTIPLE' },
    );
    const e = toKafkaError(wrapped, 'send');
    expect(e.code).toBe('KAFKA_UNAVAILABLE');
    expect(e.retriable).toBe(true);
    expect(e.message).toContain('initProducerId failed');
    const timeout = Object.assign(new Error('timed out'), { code: 'PLT_KFK_TIMEOUT' });
    expect(toKafkaError(timeout, 'send').code).toBe('KAFKA_UNAVAILABLE');
    const refused = Object.assign(new Error('x'), {
      cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }),
    });
    expect(toKafkaError(refused, 'send').code).toBe('KAFKA_UNAVAILABLE');
  });

  it('maps user and final protocol errors to KAFKA_ERROR', () => {
    const user = Object.assign(new Error('bad'), { code: 'PLT_KFK_USER' });
    expect(toKafkaError(user, 'send').code).toBe('KAFKA_ERROR');
    const protocol = Object.assign(new Error('too large'), {
      code: 'PLT_KFK_PROTOCOL',
      apiId: 'MESSAGE_TOO_LARGE',
      canRetry: false,
    });
    const multiple = Object.assign(new AggregateError([protocol], 'Producing messages failed.'), {
      code: 'PLT_KFK_MULTIPLE',
    });
    expect(toKafkaError(multiple, 'send').code).toBe('KAFKA_ERROR');
    expect(kafkaErrorType(multiple)).toBe('MESSAGE_TOO_LARGE');
  });

  it('judges kafkajs errors by themselves, as before', () => {
    const inner = Object.assign(new Error('refused'), { name: 'KafkaJSConnectionError' });
    const outer = Object.assign(new Error('nope'), {
      name: 'KafkaJSNonRetriableError',
      cause: inner,
    });
    expect(toKafkaError(outer, 'send').code).toBe('KAFKA_ERROR');
    expect(kafkaErrorType(Object.assign(new Error('x'), { type: 'TOPIC_ALREADY_EXISTS' }))).toBe(
      'TOPIC_ALREADY_EXISTS',
    );
  });

  it('passes our own errors through', () => {
    const ours = new MeterstreamError('KAFKA_ERROR', 'x');
    expect(toKafkaError(ours, 'send')).toBe(ours);
  });
});

describe('option translation', () => {
  const base = { brokers: ['b:1'], clientId: 'c', logger: testLogger('kafka') };

  it('leaves each client its defaults when nothing is set', () => {
    expect(kafkajsConfig({ ...base, client: 'kafkajs' })).toEqual({});
    expect(platformaticBase({ ...base, client: 'platformatic' })).toEqual({
      clientId: 'c',
      bootstrapBrokers: ['b:1'],
    });
  });

  it('translates retries and timeouts', () => {
    const o = {
      ...base,
      client: 'kafkajs' as const,
      retry: { retries: 5, initialRetryTimeMs: 100, maxRetryTimeMs: 2_000 },
      requestTimeoutMs: 7_000,
      connectionTimeoutMs: 900,
    };
    expect(kafkajsConfig(o)).toEqual({
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2_000 },
      requestTimeout: 7_000,
      connectionTimeout: 900,
    });
    const p = platformaticBase({ ...o, client: 'platformatic' });
    expect(p).toMatchObject({ retries: 5, requestTimeout: 7_000, connectTimeout: 900 });
    expect(p).not.toHaveProperty('timeout');
    const delay = platformaticRetry(o.retry).retryDelay as (
      c: object,
      op: string,
      attempt: number,
    ) => number;
    expect([1, 2, 3, 4, 5, 6].map((a) => delay({}, 'produce', a))).toEqual([
      100, 200, 400, 800, 1_600, 2_000,
    ]);
  });

  it('converts kafkajs messages: string headers to Buffers, the last of a repeated one', () => {
    const m = fromKafkajsMessage('t', 2, {
      key: Buffer.from('k'),
      value: null,
      timestamp: '1700000000123',
      attributes: 0,
      offset: '41',
      size: 0,
      headers: { a: 'x', b: [Buffer.from('1'), Buffer.from('2')], c: undefined },
    } as unknown as KafkaMessage);
    expect(m).toEqual({
      topic: 't',
      partition: 2,
      offset: '41',
      key: Buffer.from('k'),
      value: null,
      headers: { a: Buffer.from('x'), b: Buffer.from('2') },
      timestamp: 1700000000123,
    });
  });
});

describe('GroupTracker', () => {
  it('revokes everything once, before the next assignment', () => {
    const events: string[] = [];
    const g = new GroupTracker({
      onRevoked: (p: TopicPartitions) => events.push(`revoked ${JSON.stringify(p)}`),
      onAssigned: (a) => events.push(`assigned ${a.generation} ${JSON.stringify(a.partitions)}`),
    });
    g.revoke(); // nothing owned: no hook
    g.assign({ t: [2, 0] });
    expect(g.owns('t', 0)).toBe(true);
    expect(g.owns('t', 1)).toBe(false);
    g.revoke();
    g.revoke();
    g.assign({ t: [1] });
    g.assign({ t: [0, 1] }); // a join without a rebalance event first still revokes first
    expect(events).toEqual([
      'assigned 1 {"t":[0,2]}',
      'revoked {"t":[0,2]}',
      'assigned 2 {"t":[1]}',
      'revoked {"t":[1]}',
      'assigned 3 {"t":[0,1]}',
    ]);
    expect(g.generation).toBe(3);
  });
});
