import { randomBytes } from 'node:crypto';
import { ClickHouse, allowIdentifiers } from '@meterstream/clickhouse';
import {
  createKafka,
  createKafkaClient,
  DEFAULT_KAFKA_CLIENT,
  ensureTopic,
  KAFKA_CLIENT_KINDS,
  type Kafka,
  type KafkaClient,
  type KafkaClientKind,
  type KafkaClientOptions,
} from '@meterstream/kafka';
import { createLogger, type Logger } from '@meterstream/observability';
import { sleep } from '@meterstream/runtime';
import { nativeEndpoints, stackMode, type StackEndpoints } from './stack.js';

let containerEndpoints: Promise<StackEndpoints> | undefined;

/**
 * The endpoints integration tests use. Native stack by default; with a Docker engine (or
 * MS_TEST_STACK=containers) the same tests run against testcontainers.
 */
export async function testStack(): Promise<StackEndpoints> {
  if (stackMode() === 'native') return nativeEndpoints();
  containerEndpoints ??= import('./containers.js').then(
    async ({ startContainers }) => (await startContainers()).endpoints,
  );
  return containerEndpoints;
}

/** A unique, identifier-safe name: `<prefix>_<time>_<random>`. */
export function freshName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** A logger for tests: silent unless MS_TEST_LOG is set. */
export function testLogger(name = 'test'): Logger {
  return createLogger(name, {
    level: (process.env.MS_TEST_LOG as 'debug' | undefined) ?? 'silent',
  });
}

/**
 * The Kafka client the services under test use: `MS_TEST_KAFKA_CLIENT` (`kafkajs` or
 * `platformatic`), else the services' default. Runs the same tests on either client.
 */
export function testKafkaClientKind(): KafkaClientKind {
  const kind = process.env.MS_TEST_KAFKA_CLIENT;
  if (kind === undefined || kind === '') return DEFAULT_KAFKA_CLIENT;
  if (!(KAFKA_CLIENT_KINDS as readonly string[]).includes(kind))
    throw new Error(`MS_TEST_KAFKA_CLIENT must be one of ${KAFKA_CLIENT_KINDS.join(', ')}`);
  return kind as KafkaClientKind;
}

/** A Kafka client of {@link testKafkaClientKind} on the test broker (options override). */
export async function testKafkaClient(
  clientId: string,
  options: Partial<KafkaClientOptions> = {},
): Promise<KafkaClient> {
  return createKafkaClient({
    client: testKafkaClientKind(),
    brokers: (await testStack()).kafkaBrokers,
    clientId,
    logger: testLogger('kafka'),
    ...options,
  });
}

/** A fresh ClickHouse database with a client bound to it; `drop()` removes it. */
export interface TestDatabase {
  name: string;
  ch: ClickHouse;
  drop(): Promise<void>;
}

/** Creates a fresh database on the test ClickHouse. */
export async function freshDatabase(prefix = 'test'): Promise<TestDatabase> {
  const stack = await testStack();
  const name = freshName(prefix);
  allowIdentifiers(name);
  const admin = new ClickHouse({ url: stack.clickhouseUrl });
  await admin.command(`CREATE DATABASE ${name}`);
  await admin.close();
  const ch = new ClickHouse({ url: stack.clickhouseUrl, database: name });
  return {
    name,
    ch,
    drop: async () => {
      await ch.command(`DROP DATABASE IF EXISTS ${name}`);
      await ch.close();
    },
  };
}

/** A fresh topic (and a matching fresh consumer group name); `drop()` deletes the topic. */
export interface TestTopic {
  topic: string;
  groupId: string;
  kafka: Kafka;
  drop(): Promise<void>;
}

/** Creates a fresh topic with `partitions` partitions on the test broker. */
export async function freshTopic(prefix = 'test', partitions = 3): Promise<TestTopic> {
  const stack = await testStack();
  const topic = freshName(prefix).replace(/_/g, '.');
  const kafka = createKafka({
    brokers: stack.kafkaBrokers,
    clientId: 'meterstream-test',
    logger: testLogger('kafka'),
  });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopic(admin, { topic, partitions, replicationFactor: 1 });
  await admin.disconnect();
  return {
    topic,
    groupId: freshName(`${prefix}-group`),
    kafka,
    drop: async () => {
      const a = kafka.admin();
      await a.connect();
      try {
        await a.deleteTopics({ topics: [topic] });
      } finally {
        await a.disconnect();
      }
    },
  };
}

/**
 * Polls `check` until it returns a value other than undefined (errors count as "not yet") and
 * returns it; after `timeoutMs` of real time, fails naming `what`. The bound is generous on
 * purpose: tests wait on conditions, never on how fast a 2-core machine happens to be.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  { timeoutMs = 60_000, intervalMs = 200 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
