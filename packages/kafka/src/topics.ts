import type { Admin } from 'kafkajs';
import { MeterstreamError } from '@meterstream/errors';
import { backoffDelay, isRetriable, sleep } from '@meterstream/runtime';
import type { KafkaAdmin, TopicSpec } from './client.js';
import { toKafkaError } from './errors.js';
import { KafkajsAdmin } from './kafkajs.js';

/** Our admin interface over either a {@link KafkaAdmin} or a (connected) kafkajs `Admin`. */
function asKafkaAdmin(admin: Admin | KafkaAdmin): KafkaAdmin {
  return 'createTopic' in admin ? admin : new KafkajsAdmin(admin);
}

/**
 * Creates a topic if it does not exist; leaves an existing one as it is. A retriable answer while
 * the new topic's metadata spreads (UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE: seen on a
 * loaded broker) is retried for up to `retryMs`; the retry finds the topic and returns.
 */
export async function ensureTopic(
  admin: Admin | KafkaAdmin,
  spec: TopicSpec,
  retryMs = 30_000,
): Promise<void> {
  const a = asKafkaAdmin(admin);
  const until = Date.now() + retryMs;
  for (let attempt = 1; ; attempt++) {
    try {
      if ((await a.listTopics()).includes(spec.topic)) return;
      // false: another process created it at the same moment, which is fine.
      await a.createTopic(spec);
      return;
    } catch (err) {
      if (!isRetriable(err) || Date.now() >= until) throw toKafkaError(err, 'create topic');
      await sleep(backoffDelay(attempt, { baseMs: 100, maxMs: 2_000, jitter: 0 }));
    }
  }
}

/**
 * Refuses to run against a topic whose real partition count differs from the configured one.
 * Services that reason about "every partition" (the aggregator's freezes, the submitter's
 * topic-wide frozen hours) would otherwise ignore partitions they do not know about and lose
 * their usage silently. A missing topic is waited for up to `waitMs` (another service creates
 * it), then refused too.
 */
export async function checkTopicPartitions(
  admin: Admin | KafkaAdmin,
  topic: string,
  expected: number,
  options: { setting?: string; waitMs?: number } = {},
): Promise<void> {
  const a = asKafkaAdmin(admin);
  const setting = options.setting ?? 'MS_USAGE_TOPIC_PARTITIONS';
  const until = Date.now() + (options.waitMs ?? 0);
  let actual: number | undefined;
  for (;;) {
    actual = (await a.topicPartitions(topic))?.length;
    if (actual !== undefined || Date.now() >= until) break;
    await sleep(500);
  }
  if (actual === undefined) {
    throw new MeterstreamError(
      'CONFIG_INVALID',
      `Kafka topic ${topic} does not exist; ${setting} is ${expected}. Start the service that creates it (ingest or the aggregator) first, or create it with ${expected} partitions.`,
      { details: { topic, expected } },
    );
  }
  if (actual !== expected) {
    throw new MeterstreamError(
      'CONFIG_INVALID',
      `Kafka topic ${topic} has ${actual} partitions but ${setting} is ${expected}: set ${setting}=${actual}. Refusing to start: with fewer partitions configured, usage on the others is never billed; with more, no hour is ever frozen topic-wide.`,
      { details: { topic, expected, actual } },
    );
  }
}

/** Runs `use` with a connected admin of `client`, disconnected afterwards whatever happens. */
export async function withAdmin<T>(
  client: { admin(): KafkaAdmin },
  use: (admin: KafkaAdmin) => Promise<T>,
): Promise<T> {
  const admin = client.admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}
