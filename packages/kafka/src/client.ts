import type { Logger } from 'pino';
import type { KafkaClientKind } from '@meterstream/config';
import type { MeterstreamError } from '@meterstream/errors';
import { KafkajsClient } from './kafkajs.js';
import { PlatformaticClient } from './platformatic.js';

/**
 * One Kafka interface for the services, with two implementations: kafkajs (the client the project
 * started with) and @platformatic/kafka (maintained, faster). Chosen per process by config.
 *
 * Conventions, the same in both:
 * - keys are strings (UTF-8) on the way in and Buffers on the way out; values are Buffers;
 * - header values are Buffers (strings are accepted when producing, as UTF-8);
 * - offsets are decimal strings (`"42"`), timestamps are milliseconds since the epoch (numbers);
 * - every error that leaves a method is a {@link MeterstreamError}: broker unreachable, timed out
 *   or a retriable protocol answer → `KAFKA_UNAVAILABLE` (retriable), anything else → `KAFKA_ERROR`.
 */
export type { KafkaClientKind } from '@meterstream/config';
/** The client kinds (`MS_KAFKA_CLIENT`), and the one used when none is chosen. */
export { DEFAULT_KAFKA_CLIENT, KAFKA_CLIENT_KINDS } from '@meterstream/config';

/** A broker address. */
export interface BrokerAddress {
  host: string;
  port: number;
}

/** Options for {@link createKafkaClient}. */
export interface KafkaClientOptions {
  client: KafkaClientKind;
  brokers: string[];
  clientId: string;
  logger: Logger;
  /** Connection attempts and requests of admin and consumer calls (producers have their own). */
  retry?: RetryPolicy;
  /** A request without an answer for this long fails (default: kafkajs 30 s, platformatic 30 s). */
  requestTimeoutMs?: number;
  /** Opening a connection (default: kafkajs 1 s, platformatic 5 s). */
  connectionTimeoutMs?: number;
  /**
   * Where a connection to `broker` really goes, for every connection of the client: bootstrap and
   * the brokers the cluster advertises. For tests that put a TCP proxy in front of the broker (a
   * broker outage); default: the broker's own address.
   */
  route?: (broker: BrokerAddress) => BrokerAddress;
}

/** How often and how patiently a failed request is retried inside the client. */
export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  /** First delay (ms); later ones double. */
  initialRetryTimeMs: number;
  /** No delay is longer (ms). */
  maxRetryTimeMs: number;
}

/** A Kafka connection factory: producers, consumers and admins of one cluster. */
export interface KafkaClient {
  readonly kind: KafkaClientKind;
  producer(options?: ProducerOptions): KafkaProducer;
  consumer(options: ConsumerOptions): KafkaConsumer;
  admin(): KafkaAdmin;
}

// ---- producing -------------------------------------------------------------------------------

/** Options of {@link KafkaClient.producer}. Every producer is idempotent and sends with acks=all. */
export interface ProducerOptions {
  /**
   * Retries of one send inside the client before `send` fails. Default: unbounded (both clients'
   * default for an idempotent producer) — bound it where a caller must get an answer (ingest).
   */
  retry?: RetryPolicy;
  /** Whether producing to a missing topic creates it (default false). */
  allowAutoTopicCreation?: boolean;
}

/** One record to produce. */
export interface ProduceMessage {
  /** Placed by Kafka's Java murmur2 partitioner ({@link partitionForKey}) unless `partition` is set. */
  key: string | Buffer | null;
  value: Buffer | null;
  headers?: Record<string, string | Buffer>;
  /** CreateTime in ms since the epoch; default: now. */
  timestamp?: number;
  /** An explicit partition; wins over the key. */
  partition?: number;
}

/** Where a send put its records: the first offset written per partition. */
export interface ProducedOffset {
  topic: string;
  partition: number;
  baseOffset: string;
}

/**
 * An idempotent producer (acks=all, one produce request in flight per broker, so records of one
 * partition stay in order across `send` calls).
 *
 * What a failed `send` means: NOT "not written". The broker may have written some or all of its
 * records before the answer was lost. Retrying inside the client is safe (same producer id and
 * sequence numbers: the broker drops the duplicate). After `send` has failed, both
 * implementations forget the sequence numbers they had assigned (kafkajs rolls them back,
 * @platformatic/kafka clears them and fetches a new producer id before the next send); with
 * kafkajs the next, different batch could reuse the sequence numbers of a batch the broker
 * already wrote and be dropped as a duplicate while reported as success (ADR 0003). Callers that
 * need every acknowledged send to be durable therefore replace the producer after a failed send
 * (`disconnect` + a new `producer()`), which gives a new producer id with either client.
 */
export interface KafkaProducer {
  connect(): Promise<void>;
  /** Produces `messages` to `topic`; resolves when the broker acknowledged all of them (acks=all). */
  send(topic: string, messages: ProduceMessage[]): Promise<ProducedOffset[]>;
  disconnect(): Promise<void>;
}

// ---- consuming -------------------------------------------------------------------------------

/** Options of {@link KafkaClient.consumer}: one member of a consumer group (eager protocol). */
export interface ConsumerOptions {
  groupId: string;
  /** The coordinator evicts a member without a heartbeat for this long (default 30 000). */
  sessionTimeoutMs?: number;
  /** How long a rebalance waits for members to rejoin (default 60 000). */
  rebalanceTimeoutMs?: number;
  /** Heartbeat period (default 3 000). */
  heartbeatIntervalMs?: number;
  /** Fetch limits (defaults: 1 MiB per partition, 10 MiB per fetch, 5 s wait). */
  maxBytesPerPartition?: number;
  maxBytes?: number;
  maxWaitTimeMs?: number;
}

/** A consumed record. */
export interface ConsumedMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** Header values by name (a name repeated in one record: the last value). */
  headers: Record<string, Buffer>;
  /** CreateTime (or LogAppendTime, per topic config) in ms since the epoch. */
  timestamp: number;
}

/** Messages of one partition, in offset order. */
export interface MessageBatch {
  topic: string;
  partition: number;
  messages: ConsumedMessage[];
  /** The partition's high watermark when fetched (offset of its next record): lag = hw − 1 − last. */
  highWatermark: string;
}

/** What an `eachBatch` handler gets with its batch. */
export interface BatchContext {
  batch: MessageBatch;
  /**
   * Marks every message up to and including `offset` as processed by this member: it is not handed
   * to this member again while it keeps the partition. It does NOT commit (see
   * {@link KafkaConsumer.commitOffsets}). Messages of the batch the handler did not resolve when it
   * returns or throws are handed over again, from the first unresolved one.
   */
  resolveOffset(offset: string): void;
  /** Keeps the membership alive during long work (kafkajs: heartbeats if due; platformatic: heartbeats run on their own timer, this resolves at once). */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping. */
  isRunning(): boolean;
  /** True once the batch is outdated: its partition was revoked or rewound; stop and return. */
  isStale(): boolean;
}

/** Partitions per topic. */
export type TopicPartitions = Record<string, number[]>;

/**
 * Group membership callbacks, always in this order for one member: `onRevoked` (all partitions of
 * the previous generation) before `onAssigned` (the next one). Callbacks must not throw.
 */
export interface GroupHooks {
  /**
   * This member gives up `partitions` (eager protocol: all of them) — a rebalance started, the
   * consumer crashed, stopped or lost the group. Stop working on them at once: nobody is assigned
   * the next generation before every member rejoined, i.e. passed here. Offsets not committed by
   * now are not kept: the next owner (this member too, if it keeps a partition) starts at the last
   * committed offset. A commit after this point may still be accepted by the broker (the classic
   * protocol checks generation and member, not partition ownership), so do not commit revoked
   * partitions.
   */
  onRevoked?(partitions: TopicPartitions): void;
  /** This member joined generation `generation` and owns exactly `partitions` now. */
  onAssigned?(assignment: { generation: number; partitions: TopicPartitions }): void;
  /** The coordinator acknowledged a heartbeat of this member. */
  onHeartbeat?(): void;
  /** The consumer failed; with `restart` it rejoins by itself, without it is stopped. */
  onCrash?(error: MeterstreamError, restart: boolean): void;
}

/** Options of {@link KafkaConsumer.run}. */
export interface RunOptions extends GroupHooks {
  topics: string[];
  /** Where a partition without a committed offset starts: its first (true) or next (false) record. */
  fromBeginning: boolean;
  /** Partitions whose batches may be handled at the same time (default 1); one at a time per partition. */
  partitionsConsumedConcurrently?: number;
  /** Handles one batch; see {@link BatchContext}. Should not throw (a throw redelivers, after the client's own retry/restart delay). */
  eachBatch(ctx: BatchContext): Promise<void>;
}

/** An offset to commit: `offset` is the NEXT record to read (last processed + 1). */
export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

/** A consumer group member. Offsets are committed only by {@link commitOffsets}, never automatically. */
export interface KafkaConsumer {
  /** Connects, subscribes and starts fetching; resolves once running (before the first assignment). */
  run(options: RunOptions): Promise<void>;
  /** Commits offsets for the group in the current generation. */
  commitOffsets(offsets: TopicPartitionOffset[]): Promise<void>;
  /** Stops handing out batches of `topics` (a batch already running finishes). */
  pause(topics: string[]): void;
  resume(topics: string[]): void;
  /** Leaves the group (hooks: `onRevoked`) and closes the connections. */
  disconnect(): Promise<void>;
}

// ---- admin -----------------------------------------------------------------------------------

/** Topic settings for creation. */
export interface TopicSpec {
  topic: string;
  partitions: number;
  replicationFactor: number;
  configEntries?: { name: string; value: string }[];
}

/** Low (first kept) and high (next to write) offsets of one partition. */
export interface PartitionOffsets {
  partition: number;
  low: string;
  high: string;
}

/** Cluster administration. */
export interface KafkaAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  listTopics(): Promise<string[]>;
  /** Creates a topic and waits for its leaders; false when it exists already. */
  createTopic(spec: TopicSpec): Promise<boolean>;
  deleteTopics(topics: string[]): Promise<void>;
  /** The partition ids of an existing topic, sorted; undefined when it does not exist (never creates it). */
  topicPartitions(topic: string): Promise<number[] | undefined>;
  /** Low and high offsets of every partition of a topic. */
  topicOffsets(topic: string): Promise<PartitionOffsets[]>;
  /** A group's committed offsets on a topic, every partition (`"-1"`: none committed). */
  groupOffsets(groupId: string, topic: string): Promise<TopicPartitionOffset[]>;
  /** A cheap round trip to the cluster (readiness probes): the number of brokers. */
  describeCluster(): Promise<{ brokers: number }>;
}

/** A Kafka client of the chosen kind. */
export function createKafkaClient(options: KafkaClientOptions): KafkaClient {
  return options.client === 'platformatic'
    ? new PlatformaticClient(options)
    : new KafkajsClient(options);
}
