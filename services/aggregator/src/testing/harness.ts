import { randomBytes, randomInt } from 'node:crypto';
import avro from 'avsc';
import type { ClickHouse } from '@meterstream/clickhouse';
import { sleep } from '@meterstream/runtime';
import {
  createSchemaRegistry,
  registerAvro,
  type KafkaClient,
  type KafkaProducer,
  type ProduceMessage,
  type SchemaRegistry,
} from '@meterstream/kafka';
import {
  freshDatabase,
  freshTopic,
  testKafkaClient,
  testKafkaClientKind,
  testStack,
  type StackEndpoints,
  type TestDatabase,
  type TestTopic,
} from '@meterstream/testing';
import type { AggregatorConfig } from '../config.js';
import { HOUR_MS } from '../hours.js';
import {
  KIND_HEADER,
  USAGE_EVENT_SCHEMA,
  messageKey,
  quantityToMicros,
  usageEventSubject,
  type UsageEventValue,
} from '../wire.js';

/** One test's fresh topic, group, database and registered schema. */
export interface Case {
  /** Where the stack is (the native stack's ports follow MS_*_PORT, as deploy/local does). */
  stack: StackEndpoints;
  topic: TestTopic;
  /** Partitions of the topic (the aggregator refuses to start on another count). */
  partitions: number;
  db: TestDatabase;
  registry: SchemaRegistry;
  schemaId: number;
  type: avro.Type;
  /** A client of the kind under test (`MS_TEST_KAFKA_CLIENT`), and a producer of it. */
  kafka: KafkaClient;
  producer: KafkaProducer;
  close(): Promise<void>;
}

export async function setupCase(prefix: string, partitions: number): Promise<Case> {
  const stack = await testStack();
  const topic = await freshTopic(prefix, partitions);
  const db = await freshDatabase(prefix);
  const registry = createSchemaRegistry(stack.schemaRegistryUrl);
  const schemaId = await registerAvro(registry, usageEventSubject(topic.topic), USAGE_EVENT_SCHEMA);
  const kafka = await testKafkaClient(`${prefix}-test`);
  const producer = kafka.producer();
  await producer.connect();
  return {
    stack,
    topic,
    partitions,
    db,
    registry,
    schemaId,
    type: avro.Type.forSchema(USAGE_EVENT_SCHEMA as unknown as avro.Schema),
    kafka,
    producer,
    close: async () => {
      await producer.disconnect();
      await topic.drop().catch(() => undefined);
      await db.drop().catch(() => undefined);
    },
  };
}

/** Aggregator settings for tests: short timers, a fresh group and database. */
export function testConfig(c: Case, overrides: Partial<AggregatorConfig> = {}): AggregatorConfig {
  return {
    kafkaClient: testKafkaClientKind(),
    brokers: c.stack.kafkaBrokers,
    clientId: 'aggregator-test',
    topic: c.topic.topic,
    topicPartitions: c.partitions,
    topicReplication: 1,
    groupId: c.topic.groupId,
    registryUrl: c.stack.schemaRegistryUrl,
    clickhouse: {
      url: c.stack.clickhouseUrl,
      database: c.db.name,
      topology: { kind: 'single' },
      requestTimeoutMs: 10_000,
    },
    graceMs: 60_000,
    idleMs: 1500,
    tickMs: 300,
    dedupHorizonHours: 168,
    fenceMs: 300,
    sessionTimeoutMs: 6000,
    ...overrides,
  };
}

/** Environment for a spawned `dist/main.js` equivalent to {@link testConfig}. */
export function testEnv(c: Case, extra: Record<string, string> = {}): Record<string, string> {
  return {
    MS_KAFKA_BROKERS: c.stack.kafkaBrokers.join(','),
    MS_KAFKA_CLIENT: testKafkaClientKind(),
    MS_SCHEMA_REGISTRY_URL: c.stack.schemaRegistryUrl,
    MS_USAGE_TOPIC: c.topic.topic,
    MS_USAGE_TOPIC_PARTITIONS: String(c.partitions),
    MS_AGGREGATOR_GROUP_ID: c.topic.groupId,
    MS_CLICKHOUSE_URL: c.stack.clickhouseUrl,
    MS_CLICKHOUSE_DATABASE: c.db.name,
    MS_AGGREGATOR_OPS_PORT: '0',
    MS_AGGREGATOR_GRACE_MS: '60000',
    MS_AGGREGATOR_IDLE_MS: '1500',
    MS_AGGREGATOR_TICK_MS: '300',
    MS_AGGREGATOR_FENCE_MS: '300',
    MS_AGGREGATOR_CH_TIMEOUT_MS: '10000',
    MS_AGGREGATOR_SESSION_TIMEOUT_MS: '6000',
    MS_LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** A generated load: messages to send and the exact expected totals per key. */
export interface Load {
  messages: ProduceMessage[];
  /** `${product}|${customer}|${dimension}` → micros of unique events. */
  expected: Map<string, bigint>;
  uniqueEvents: number;
  totalMicros: bigint;
}

export function encode(c: Case, ev: UsageEventValue): Buffer {
  const head = Buffer.alloc(5);
  head.writeInt32BE(c.schemaId, 1);
  return Buffer.concat([head, c.type.toBuffer(ev)]);
}

export function usageEvent(
  p: Partial<UsageEventValue> & {
    productCode: string;
    customerIdentifier: string;
    timestamp: number;
  },
): UsageEventValue {
  return {
    id: randomBytes(8).toString('hex'),
    licenseArn: null,
    customerAwsAccountId: null,
    dimension: 'requests',
    quantity: '1',
    allocations: [],
    source: 'test',
    actor: null,
    attributes: {},
    ...p,
  };
}

export function message(c: Case, ev: UsageEventValue): ProduceMessage {
  return {
    key: messageKey(ev.productCode ?? '', ev.customerIdentifier ?? ''),
    value: encode(c, ev),
    headers: { [KIND_HEADER]: 'usage' },
  };
}

/**
 * `n` unique events over 2 products × 40 customers × 3 dimensions, in the hours between 5 and 2
 * hours ago, plus `dupRate` × n re-sends of random earlier ids, all shuffled.
 */
export function makeLoad(c: Case, n: number, dupRate: number, now = Date.now()): Load {
  const events: UsageEventValue[] = [];
  const expected = new Map<string, bigint>();
  let totalMicros = 0n;
  const start = now - 5 * HOUR_MS;
  for (let i = 0; i < n; i++) {
    const productCode = `prod${i % 2}`;
    const customerIdentifier = `cust-${randomInt(40)}`;
    const dimension = ['requests', 'storage', 'seats'][randomInt(3)] ?? 'requests';
    const quantity =
      `${randomInt(1000)}.${String(randomInt(1_000_000)).padStart(6, '0')}`.replace(/\.?0+$/, '') ||
      '0';
    const ev = usageEvent({
      id: `e${i}-${randomBytes(4).toString('hex')}`,
      productCode,
      customerIdentifier,
      dimension,
      quantity,
      timestamp: start + randomInt(3 * HOUR_MS),
      attributes: { i: String(i) },
    });
    events.push(ev);
    const k = `${productCode}|${customerIdentifier}|${dimension}`;
    const micros = BigInt(quantityToMicros(quantity) ?? '0');
    expected.set(k, (expected.get(k) ?? 0n) + micros);
    totalMicros += micros;
  }
  const dups = Math.floor(n * dupRate);
  for (let i = 0; i < dups; i++) events.push(events[randomInt(n)] as UsageEventValue);
  for (let i = events.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [events[i], events[j]] = [events[j] as UsageEventValue, events[i] as UsageEventValue];
  }
  return { messages: events.map((e) => message(c, e)), expected, uniqueEvents: n, totalMicros };
}

export async function produce(c: Case, messages: ProduceMessage[], chunk = 5000): Promise<void> {
  for (let i = 0; i < messages.length; i += chunk) {
    await c.producer.send(c.topic.topic, messages.slice(i, i + chunk));
  }
}

/**
 * Waits until every unique event is in `usage_events` and every partition has frozen every hour
 * that has rows, i.e. the windows are final.
 */
export async function waitAllFrozen(
  ch: ClickHouse,
  db: string,
  uniqueEvents: number,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    await sleep(500);
    const state = await poll().catch((err: unknown) => {
      last = String(err);
      return false;
    });
    if (state) return;
  }
  throw new Error(`windows not final in time: ${last}`);

  async function poll(): Promise<boolean> {
    const [u] = await ch.query<{ n: string }>(
      `SELECT uniqExact(product_code, customer, id) AS n FROM ${db}.usage_events`,
    );
    const open = await ch.query<{ p: number; bh: number; fh: number }>(
      `SELECT e.kafka_partition AS p, toUInt32(max(e.billing_hour)) AS bh, f.fh AS fh
       FROM ${db}.usage_events AS e
       ANY LEFT JOIN (SELECT kafka_partition, toUInt32(max(hour)) AS fh FROM ${db}.window_freezes GROUP BY kafka_partition) AS f
       USING kafka_partition
       GROUP BY e.kafka_partition, f.fh`,
    );
    const pending = open.filter((r) => Number(r.fh) < Number(r.bh));
    last = `events ${u?.n}/${uniqueEvents}, partitions not final: ${JSON.stringify(pending)}`;
    return Number(u?.n ?? 0) >= uniqueEvents && pending.length === 0 && open.length > 0;
  }
}

/** Waits until every unique event has a row in `usage_events`. */
export async function waitConsumed(
  ch: ClickHouse,
  db: string,
  uniqueEvents: number,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const rows = await ch
      .query<{ n: string }>(
        `SELECT uniqExact(product_code, customer, id) AS n FROM ${db}.usage_events`,
      )
      .catch(() => [{ n: '0' }]);
    if (Number(rows[0]?.n ?? 0) >= uniqueEvents) return;
    await sleep(300);
  }
  throw new Error('events not consumed in time');
}

/** Totals of the frozen windows per `${product}|${customer}|${dimension}`. */
export async function windowTotals(ch: ClickHouse, db: string): Promise<Map<string, bigint>> {
  const rows = await ch.query<{ k: string; q: string }>(
    `SELECT concat(product_code, '|', customer, '|', dimension) AS k, toString(sum(quantity_micros)) AS q FROM ${db}.usage_windows GROUP BY k`,
  );
  return new Map(rows.map((r) => [r.k, BigInt(r.q)]));
}

/** Number of (product, customer, dimension, hour) keys with more than one window row (must be 0). */
export async function duplicateWindows(ch: ClickHouse, db: string): Promise<number> {
  const [r] = await ch.query<{ n: string }>(
    `SELECT count() AS n FROM (SELECT count() AS c FROM ${db}.usage_windows GROUP BY product_code, customer, dimension, hour HAVING c > 1)`,
  );
  return Number(r?.n ?? 0);
}

export function sortedEntries(m: Map<string, bigint>): [string, string][] {
  return [...m.entries()]
    .map(([k, v]): [string, string] => [k, v.toString()])
    .sort((a, b) => a[0].localeCompare(b[0]));
}

export { sleep };
