import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeterstreamError } from '@meterstream/errors';
import { FaultProxy, freshName, testLogger, testStack, waitFor } from '@meterstream/testing';
import {
  createKafkaClient,
  KAFKA_CLIENT_KINDS,
  type BatchContext,
  type ConsumedMessage,
  type KafkaClient,
  type KafkaClientKind,
  type KafkaConsumer,
  type ProduceMessage,
  type RunOptions,
} from './client.js';
import { partitionForKey } from './murmur2.js';
import { createSchemaRegistry, registerAvro, wireSchemaId } from './registry.js';

/** The same contract, run against both implementations on the real broker. */

let brokers: string[];
let registryUrl: string;
const clients = new Map<KafkaClientKind, KafkaClient>();
const topics: string[] = [];

beforeAll(async () => {
  const stack = await testStack();
  brokers = stack.kafkaBrokers;
  registryUrl = stack.schemaRegistryUrl;
  for (const kind of KAFKA_CLIENT_KINDS) {
    clients.set(kind, client(kind));
  }
});

afterAll(async () => {
  const admin = client('kafkajs').admin();
  await admin.connect();
  await admin.deleteTopics(topics).catch(() => undefined);
  await admin.disconnect();
});

/** The shared client of `kind`. */
const c = (kind: KafkaClientKind): KafkaClient => clients.get(kind)!;

function client(kind: KafkaClientKind): KafkaClient {
  return createKafkaClient({
    client: kind,
    brokers,
    clientId: `contract-${kind}`,
    logger: testLogger('kafka'),
  });
}

/** A fresh topic, deleted after the file. */
async function freshTopic(c: KafkaClient, partitions: number): Promise<string> {
  const topic = freshName(`contract.${c.kind}`).replace(/_/g, '.');
  const admin = c.admin();
  await admin.connect();
  try {
    expect(await admin.createTopic({ topic, partitions, replicationFactor: 1 })).toBe(true);
  } finally {
    await admin.disconnect();
  }
  topics.push(topic);
  return topic;
}

async function produce(c: KafkaClient, topic: string, messages: ProduceMessage[]): Promise<void> {
  const p = c.producer();
  await p.connect();
  try {
    for (let i = 0; i < messages.length; i += 100) await p.send(topic, messages.slice(i, i + 100));
  } finally {
    await p.disconnect();
  }
}

/** A consumer that records what it got and the hooks it saw. */
interface Recorder {
  consumer: KafkaConsumer;
  messages: ConsumedMessage[];
  events: string[];
  owned: () => number[];
}

async function record(
  c: KafkaClient,
  topic: string,
  groupId: string,
  options: Partial<RunOptions> & { commit?: boolean } = {},
): Promise<Recorder> {
  const consumer = c.consumer({
    groupId,
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 500,
    maxWaitTimeMs: 200,
  });
  const r: Recorder = { consumer, messages: [], events: [], owned: () => [] };
  let owned: number[] = [];
  r.owned = () => owned;
  await consumer.run({
    topics: [topic],
    fromBeginning: true,
    partitionsConsumedConcurrently: 4,
    onRevoked: (p) => {
      owned = [];
      r.events.push(`revoked ${(p[topic] ?? []).join(',')}`);
    },
    onAssigned: (a) => {
      owned = a.partitions[topic] ?? [];
      r.events.push(`assigned ${owned.join(',')}`);
    },
    eachBatch: async (ctx: BatchContext) => {
      for (const m of ctx.batch.messages) {
        if (ctx.isStale()) return;
        r.messages.push(m);
        ctx.resolveOffset(m.offset);
      }
      if (options.commit !== false) {
        const last = ctx.batch.messages[ctx.batch.messages.length - 1]!;
        await consumer.commitOffsets([
          { topic, partition: ctx.batch.partition, offset: String(BigInt(last.offset) + 1n) },
        ]);
      }
    },
    ...options,
  });
  return r;
}

const until = (what: string, ok: () => boolean): Promise<true> =>
  waitFor(what, async () => (ok() ? true : undefined), { timeoutMs: 90_000 });

describe.each(KAFKA_CLIENT_KINDS)('Kafka client contract: %s', (kind) => {
  it('produces idempotently and consumes every message exactly once in a group, with commits', async () => {
    const c = clients.get(kind)!;
    const topic = await freshTopic(c, 3);
    const sent = Array.from({ length: 300 }, (_, i) => ({
      key: `p|c${i % 17}`,
      value: Buffer.from(`v${i}`),
    }));
    await produce(c, topic, sent);
    const groupId = freshName('contract-group');
    const r = await record(c, topic, groupId);
    await until('300 messages', () => r.messages.length >= 300);
    await r.consumer.disconnect();
    const ids = r.messages.map((m) => `${m.partition}:${m.offset}`);
    expect(new Set(ids).size).toBe(ids.length);
    expect(r.messages.map((m) => m.value!.toString()).sort()).toEqual(
      sent.map((m) => m.value.toString()).sort(),
    );
    // Every partition's commit is its end: nothing is consumed twice after a restart.
    const admin = c.admin();
    await admin.connect();
    const [high, committed] = [
      await admin.topicOffsets(topic),
      await admin.groupOffsets(groupId, topic),
    ];
    await admin.disconnect();
    expect(committed.map((o) => o.offset)).toEqual(high.map((o) => o.high));
  });

  it('hands unresolved messages of a batch over again, from the first unresolved one', async () => {
    const c = clients.get(kind)!;
    const topic = await freshTopic(c, 1);
    await produce(
      c,
      topic,
      Array.from({ length: 40 }, (_, i) => ({ key: null, value: Buffer.from(String(i)) })),
    );
    const seen: string[] = [];
    const sizes: number[] = [];
    let first = true;
    const consumer = c.consumer({ groupId: freshName('contract-redeliver'), maxWaitTimeMs: 200 });
    await consumer.run({
      topics: [topic],
      fromBeginning: true,
      eachBatch: async (ctx) => {
        sizes.push(ctx.batch.messages.length);
        const ms = first ? ctx.batch.messages.slice(0, 5) : ctx.batch.messages;
        first = false;
        for (const m of ms) {
          seen.push(m.offset);
          ctx.resolveOffset(m.offset);
        }
      },
    });
    await until('40 offsets', () => new Set(seen).size >= 40);
    await consumer.disconnect();
    expect(sizes[0]).toBeGreaterThan(5);
    expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => String(i)));
  });

  it('keeps committed offsets across a consumer restart', async () => {
    const c = clients.get(kind)!;
    const topic = await freshTopic(c, 1);
    await produce(
      c,
      topic,
      Array.from({ length: 20 }, (_, i) => ({ key: 'k', value: Buffer.from(String(i)) })),
    );
    const groupId = freshName('contract-restart');
    const consumer = c.consumer({ groupId, maxWaitTimeMs: 200 });
    let done = false;
    await consumer.run({
      topics: [topic],
      fromBeginning: true,
      eachBatch: async (ctx) => {
        if (done) return;
        // Process and commit offsets 0..9 only; the rest stays unresolved.
        for (const m of ctx.batch.messages.filter((x) => Number(x.offset) < 10))
          ctx.resolveOffset(m.offset);
        await consumer.commitOffsets([{ topic, partition: 0, offset: '10' }]);
        done = true;
      },
    });
    await until('the first commit', () => done);
    await consumer.disconnect();
    const again = await record(c, topic, groupId, { commit: false });
    await until('the rest', () => again.messages.length >= 10);
    await again.consumer.disconnect();
    expect(again.messages.map((m) => m.offset)).toEqual(
      Array.from({ length: 10 }, (_, i) => String(10 + i)),
    );
  });

  it('splits partitions between two members and hands them over on join and leave, revoking before assigning', async () => {
    const c = clients.get(kind)!;
    const topic = await freshTopic(c, 4);
    const groupId = freshName('contract-rebalance');
    const a = await record(c, topic, groupId);
    await until('a owns all', () => a.owned().length === 4);
    const b = await record(c, topic, groupId);
    await until('both own some', () => a.owned().length > 0 && b.owned().length > 0);
    expect([...a.owned(), ...b.owned()].sort()).toEqual([0, 1, 2, 3]);
    await b.consumer.disconnect();
    await until('a owns all again', () => a.owned().length === 4);
    await a.consumer.disconnect();
    // Every assignment of a member follows a revoke of what it held before.
    for (const events of [a.events, b.events]) {
      let holding = false;
      for (const e of events) {
        if (e.startsWith('assigned')) {
          expect(holding).toBe(false);
          holding = e !== 'assigned ';
        } else holding = false;
      }
    }
    expect(a.events[0]).toBe('assigned 0,1,2,3');
    expect(a.events).toContain('revoked 0,1,2,3');
    expect(a.events[a.events.length - 1]).toBe('revoked 0,1,2,3');
  });

  it('runs the admin operations', async () => {
    const c = clients.get(kind)!;
    const admin = c.admin();
    await admin.connect();
    try {
      const topic = freshName(`contract.admin.${kind}`).replace(/_/g, '.');
      expect(await admin.createTopic({ topic, partitions: 2, replicationFactor: 1 })).toBe(true);
      expect(await admin.createTopic({ topic, partitions: 2, replicationFactor: 1 })).toBe(false);
      expect(await admin.listTopics()).toContain(topic);
      expect(await admin.topicPartitions(topic)).toEqual([0, 1]);
      expect(await admin.topicPartitions(`${topic}.missing`)).toBeUndefined();
      await produce(c, topic, [{ key: null, value: Buffer.from('x'), partition: 1 }]);
      expect(await admin.topicOffsets(topic)).toEqual([
        { partition: 0, low: '0', high: '0' },
        { partition: 1, low: '0', high: '1' },
      ]);
      expect((await admin.groupOffsets(freshName('nobody'), topic)).map((o) => o.offset)).toEqual([
        '-1',
        '-1',
      ]);
      expect((await admin.describeCluster()).brokers).toBeGreaterThanOrEqual(1);
      await admin.deleteTopics([topic]);
      await waitFor('deletion', async () =>
        (await admin.listTopics()).includes(topic) ? undefined : true,
      );
    } finally {
      await admin.disconnect();
    }
  });

  it('routes every connection, bootstrap and advertised brokers, through `route`', async () => {
    const proxy = FaultProxy.to(brokers[0]!);
    await proxy.up();
    const seen = new Set<string>();
    const routed = createKafkaClient({
      client: kind,
      // Not an address at all: only the route makes it reachable.
      brokers: ['bootstrap.invalid:1'],
      clientId: 'contract-routed',
      logger: testLogger('kafka'),
      connectionTimeoutMs: 1_000,
      requestTimeoutMs: 3_000,
      route: (b) => (seen.add(`${b.host}:${b.port}`), proxy.route()),
    });
    const topic = await freshTopic(c(kind), 1);
    const producer = routed.producer({
      retry: { retries: 1, initialRetryTimeMs: 50, maxRetryTimeMs: 100 },
    });
    try {
      await producer.connect();
      await producer.send(topic, [{ key: 'k', value: Buffer.from('through the proxy') }]);
      expect(seen.has('bootstrap.invalid:1')).toBe(true);
      // The broker the cluster advertises was routed too (not dialled directly).
      expect(seen.size).toBeGreaterThanOrEqual(2);
      await proxy.down();
      // With the proxy down nothing reaches the broker: no connection went around it. (One retry
      // means one retry with either client: @platformatic/kafka alone would retry for ever.)
      await expect(
        producer.send(topic, [{ key: 'k', value: Buffer.from('lost') }]),
      ).rejects.toBeInstanceOf(MeterstreamError);
    } finally {
      await producer.disconnect().catch(() => undefined);
      await proxy.down();
    }
    const admin = c(kind).admin();
    await admin.connect();
    const [offsets] = await admin.topicOffsets(topic);
    await admin.disconnect();
    expect(offsets!.high).toBe('1');
  });

  it('maps an unreachable broker to retriable KAFKA_UNAVAILABLE', async () => {
    const port = await closedPort();
    const c = createKafkaClient({
      client: kind,
      brokers: [`127.0.0.1:${port}`],
      clientId: 'contract-down',
      logger: testLogger('kafka'),
      retry: { retries: 1, initialRetryTimeMs: 50, maxRetryTimeMs: 100 },
      connectionTimeoutMs: 500,
    });
    const producer = c.producer({
      retry: { retries: 2, initialRetryTimeMs: 50, maxRetryTimeMs: 100 },
    });
    await expect(producer.connect()).rejects.toMatchObject({
      code: 'KAFKA_UNAVAILABLE',
      retriable: true,
    });
    await producer.disconnect().catch(() => undefined);
    const admin = c.admin();
    await expect(admin.connect()).rejects.toMatchObject({
      code: 'KAFKA_UNAVAILABLE',
      retriable: true,
    });
    await admin.disconnect().catch(() => undefined);
  });
});

describe('the two clients on one topic', () => {
  it("read each other's messages identically: keys, headers, timestamps, Avro in Confluent wire format", async () => {
    const registry = createSchemaRegistry(registryUrl);
    const schema = {
      type: 'record',
      name: 'Probe',
      namespace: 'io.meterstream.test',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'n', type: 'long' },
      ],
    };
    const id = await registerAvro(registry, `${freshName('cross')}-value`, schema);
    for (const [from, to] of [
      ['kafkajs', 'platformatic'],
      ['platformatic', 'kafkajs'],
    ] as const) {
      const topic = await freshTopic(clients.get(from)!, 2);
      const sent = await Promise.all(
        Array.from({ length: 10 }, async (_, i) => ({
          key: `prod|cust-ü-${i}`,
          value: await registry.encode(id, { id: `e${i}`, n: i * 1_000 }),
          headers: { 'ms-kind': 'usage', bin: Buffer.from([0, 255, i]) },
          timestamp: 1_700_000_000_000 + i,
        })),
      );
      await produce(clients.get(from)!, topic, sent);
      const r = await record(clients.get(to)!, topic, freshName('cross-group'), { commit: false });
      await until(`${from} → ${to}`, () => r.messages.length >= 10);
      await r.consumer.disconnect();
      const got = [...r.messages].sort((x, y) => x.timestamp - y.timestamp);
      expect(got.map((m) => m.key!.toString('utf8'))).toEqual(sent.map((m) => m.key));
      expect(got.map((m) => m.timestamp)).toEqual(sent.map((m) => m.timestamp));
      expect(got.map((m) => m.headers)).toEqual(
        sent.map((m) => ({ 'ms-kind': Buffer.from('usage'), bin: m.headers.bin })),
      );
      expect(got.map((m) => m.value)).toEqual(sent.map((m) => m.value));
      expect(got.map((m) => wireSchemaId(m.value!))).toEqual(sent.map(() => id));
      expect(await Promise.all(got.map((m) => registry.decode(m.value!)))).toEqual(
        sent.map((_, i) => ({ id: `e${i}`, n: i * 1_000 })),
      );
      expect(got.map((m) => m.partition)).toEqual(sent.map((m) => partitionForKey(m.key, 2)));
    }
  });

  it('put the same key on the same partition, the one Java would choose', async () => {
    const topic = await freshTopic(clients.get('kafkajs')!, 6);
    const keys = Array.from({ length: 200 }, (_, i) => `product-${i % 5}|customer-${i}`);
    for (const kind of KAFKA_CLIENT_KINDS) {
      await produce(
        clients.get(kind)!,
        topic,
        keys.map((key) => ({ key, value: Buffer.from(kind) })),
      );
    }
    const r = await record(clients.get('kafkajs')!, topic, freshName('same-partition'), {
      commit: false,
    });
    await until('400 messages', () => r.messages.length >= 400);
    await r.consumer.disconnect();
    const where = new Map<string, Set<number>>();
    for (const m of r.messages) {
      const k = m.key!.toString();
      where.set(k, (where.get(k) ?? new Set()).add(m.partition));
    }
    for (const key of keys) expect([...where.get(key)!]).toEqual([partitionForKey(key, 6)]);
    expect(new Set(r.messages.map((m) => m.partition)).size).toBe(6);
  });
});

/** A local port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
