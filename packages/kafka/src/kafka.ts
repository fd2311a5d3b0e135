import {
  Kafka,
  logLevel,
  type Admin,
  type KafkaConfig,
  type LogEntry,
  type logCreator,
} from 'kafkajs';
import type { Logger } from 'pino';
import { MeterstreamError } from '@meterstream/errors';

export { Kafka } from 'kafkajs';
export type {
  Admin,
  Consumer,
  Producer,
  EachBatchPayload,
  KafkaMessage,
  Message,
  IHeaders,
} from 'kafkajs';

/** Options for {@link createKafka}. */
export interface KafkaOptions {
  brokers: string[];
  clientId: string;
  logger: Logger;
  /** Extra kafkajs settings (retry, timeouts). */
  config?: Partial<KafkaConfig>;
}

/** Bridges kafkajs's logger into our pino logger (kafkajs INFO is chatty: it becomes debug). */
function pinoLogCreator(logger: Logger): logCreator {
  const child = logger.child({ module: 'kafkajs' });
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      if (level === logLevel.ERROR) child.error(extra, message);
      else if (level === logLevel.WARN) child.warn(extra, message);
      else child.debug(extra, message);
    };
}

/** A kafkajs client wired to our logger. */
export function createKafka(options: KafkaOptions): Kafka {
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator(options.logger),
    ...options.config,
  });
}

/** Topic settings for {@link ensureTopic}. */
export interface TopicSpec {
  topic: string;
  partitions: number;
  replicationFactor: number;
  configEntries?: { name: string; value: string }[];
}

/**
 * Creates a topic if it does not exist; leaves an existing one as it is. A retriable answer while
 * the new topic's metadata spreads (UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE: seen on a
 * loaded broker) is retried for up to `retryMs`; the retry finds the topic and returns.
 */
export async function ensureTopic(admin: Admin, spec: TopicSpec, retryMs = 30_000): Promise<void> {
  const until = Date.now() + retryMs;
  for (let attempt = 1; ; attempt++) {
    try {
      const existing = await admin.listTopics();
      if (existing.includes(spec.topic)) return;
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic: spec.topic,
            numPartitions: spec.partitions,
            replicationFactor: spec.replicationFactor,
            ...(spec.configEntries ? { configEntries: spec.configEntries } : {}),
          },
        ],
      });
      return;
    } catch (err) {
      // Another process creating it at the same moment is fine.
      if ((err as { type?: string }).type === 'TOPIC_ALREADY_EXISTS') return;
      if ((err as { retriable?: boolean }).retriable !== true || Date.now() >= until)
        throw toKafkaError(err, 'create topic');
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2_000)));
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
  admin: Admin,
  topic: string,
  expected: number,
  options: { setting?: string; waitMs?: number } = {},
): Promise<void> {
  const setting = options.setting ?? 'MS_USAGE_TOPIC_PARTITIONS';
  const until = Date.now() + (options.waitMs ?? 0);
  let actual: number | undefined;
  try {
    for (;;) {
      // listTopics first: a metadata request for a missing topic could create it.
      if ((await admin.listTopics()).includes(topic)) {
        const meta = await admin.fetchTopicMetadata({ topics: [topic] });
        actual = meta.topics.find((t) => t.name === topic)?.partitions.length;
        if (actual !== undefined) break;
      }
      if (Date.now() >= until) break;
      await new Promise((r) => setTimeout(r, 500));
    }
  } catch (err) {
    throw toKafkaError(err, `read metadata of topic ${topic}`);
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

const UNAVAILABLE = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSLockTimeout',
]);

/** Converts a kafkajs error into ours: broker unreachable → retriable KAFKA_UNAVAILABLE. */
export function toKafkaError(err: unknown, op: string): MeterstreamError {
  if (err instanceof MeterstreamError) return err;
  const name = (err as { name?: unknown }).name;
  const retriable = (err as { retriable?: unknown }).retriable === true;
  const message = err instanceof Error ? err.message : String(err);
  if ((typeof name === 'string' && UNAVAILABLE.has(name)) || retriable) {
    return new MeterstreamError('KAFKA_UNAVAILABLE', `Kafka unavailable during ${op}: ${message}`, {
      cause: err,
    });
  }
  return new MeterstreamError('KAFKA_ERROR', `Kafka ${op} failed: ${message}`, { cause: err });
}
