import { connect } from 'node:net';
import {
  Partitioners,
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type ICustomPartitioner,
  type IHeaders,
  type ISocketFactory,
  type Kafka,
  type KafkaConfig,
  type KafkaMessage,
  type Producer,
  type RetryOptions,
} from 'kafkajs';
import type {
  BatchContext,
  BrokerAddress,
  ConsumedMessage,
  ConsumerOptions,
  KafkaAdmin,
  KafkaClient,
  KafkaClientOptions,
  KafkaConsumer,
  KafkaProducer,
  PartitionOffsets,
  ProduceMessage,
  ProducedOffset,
  ProducerOptions,
  RetryPolicy,
  RunOptions,
  TopicPartitionOffset,
  TopicSpec,
} from './client.js';
import { kafkaCall, kafkaErrorType, toKafkaError } from './errors.js';
import { GroupTracker } from './group.js';
import { createKafka } from './kafka.js';
import { toPositive, murmur2 } from './murmur2.js';

/** Our retry policy in kafkajs's words. */
export function kafkajsRetry(policy: RetryPolicy): RetryOptions {
  return {
    retries: policy.retries,
    initialRetryTime: policy.initialRetryTimeMs,
    maxRetryTime: policy.maxRetryTimeMs,
  };
}

/** A kafkajs `socketFactory` that connects to `route(broker)` instead of the broker itself. */
export function routedSocketFactory(
  route: (broker: BrokerAddress) => BrokerAddress,
): ISocketFactory {
  return ({ host, port, onConnect }) => {
    const s = connect(route({ host, port }), onConnect);
    s.setKeepAlive(true, 60_000);
    return s;
  };
}

/** Client-wide kafkajs settings from our options (unset ones keep kafkajs's defaults). */
export function kafkajsConfig(options: KafkaClientOptions): Partial<KafkaConfig> {
  return {
    ...(options.retry ? { retry: kafkajsRetry(options.retry) } : {}),
    ...(options.route ? { socketFactory: routedSocketFactory(options.route) } : {}),
    ...(options.requestTimeoutMs !== undefined ? { requestTimeout: options.requestTimeoutMs } : {}),
    ...(options.connectionTimeoutMs !== undefined
      ? { connectionTimeout: options.connectionTimeoutMs }
      : {}),
  };
}

/**
 * kafkajs's `Partitioners.DefaultPartitioner` (Java murmur2 on the key) with a per-key cache: ADR
 * 0001 keys repeat constantly, and the default hashes every message again. Keyless records and
 * explicit partitions go to the default partitioner unchanged.
 */
export const CachingMurmur2Partitioner: ICustomPartitioner = () => {
  const inner = Partitioners.DefaultPartitioner();
  const cache = new Map<string, number>();
  return (args) => {
    const { key, partition } = args.message;
    if (partition !== undefined && partition !== null) return partition;
    if (typeof key !== 'string') return inner(args);
    let hash = cache.get(key);
    if (hash === undefined) {
      hash = toPositive(murmur2(key));
      if (cache.size >= 100_000) cache.clear();
      cache.set(key, hash);
    }
    return hash % args.partitionMetadata.length;
  };
};

/** One header value as a Buffer (kafkajs gives an array for a repeated name: the last wins). */
function headerBuffer(v: IHeaders[string]): Buffer | undefined {
  const last = Array.isArray(v) ? v[v.length - 1] : v;
  if (last === undefined) return undefined;
  return typeof last === 'string' ? Buffer.from(last, 'utf8') : last;
}

/** A kafkajs message as ours. */
export function fromKafkajsMessage(
  topic: string,
  partition: number,
  m: KafkaMessage,
): ConsumedMessage {
  const headers: Record<string, Buffer> = {};
  if (m.headers) {
    for (const name of Object.keys(m.headers)) {
      const b = headerBuffer(m.headers[name]);
      if (b) headers[name] = b;
    }
  }
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key ?? null,
    value: m.value ?? null,
    headers,
    timestamp: Number(m.timestamp),
  };
}

class KafkajsProducer implements KafkaProducer {
  private readonly producer: Producer;

  constructor(kafka: Kafka, options: ProducerOptions) {
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: options.allowAutoTopicCreation ?? false,
      createPartitioner: CachingMurmur2Partitioner,
      ...(options.retry ? { retry: kafkajsRetry(options.retry) } : {}),
    });
  }

  async connect(): Promise<void> {
    try {
      await this.producer.connect();
    } catch (err) {
      throw toKafkaError(err, 'connect producer');
    }
  }

  async send(topic: string, messages: ProduceMessage[]): Promise<ProducedOffset[]> {
    try {
      const out = await this.producer.send({
        topic,
        acks: -1,
        messages: messages.map((m) => ({
          key: m.key,
          value: m.value,
          ...(m.headers ? { headers: m.headers } : {}),
          ...(m.timestamp !== undefined ? { timestamp: String(m.timestamp) } : {}),
          ...(m.partition !== undefined ? { partition: m.partition } : {}),
        })),
      });
      return out.map((r) => ({
        topic: r.topicName,
        partition: r.partition,
        baseOffset: r.baseOffset ?? '-1',
      }));
    } catch (err) {
      throw toKafkaError(err, 'produce');
    }
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
  }
}

class KafkajsConsumer implements KafkaConsumer {
  private readonly consumer: Consumer;

  constructor(kafka: Kafka, options: ConsumerOptions) {
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      ...(options.sessionTimeoutMs !== undefined
        ? { sessionTimeout: options.sessionTimeoutMs }
        : {}),
      ...(options.rebalanceTimeoutMs !== undefined
        ? { rebalanceTimeout: options.rebalanceTimeoutMs }
        : {}),
      ...(options.heartbeatIntervalMs !== undefined
        ? { heartbeatInterval: options.heartbeatIntervalMs }
        : {}),
      ...(options.maxBytesPerPartition !== undefined
        ? { maxBytesPerPartition: options.maxBytesPerPartition }
        : {}),
      ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
      ...(options.maxWaitTimeMs !== undefined ? { maxWaitTimeInMs: options.maxWaitTimeMs } : {}),
    });
  }

  private hook(options: RunOptions): void {
    const group = new GroupTracker(options);
    const { GROUP_JOIN, REBALANCING, HEARTBEAT, CRASH, STOP, DISCONNECT } = this.consumer.events;
    this.consumer.on(REBALANCING, () => group.revoke());
    this.consumer.on(STOP, () => group.revoke());
    this.consumer.on(DISCONNECT, () => group.revoke());
    this.consumer.on(HEARTBEAT, () => options.onHeartbeat?.());
    this.consumer.on(CRASH, (e) => {
      group.revoke();
      options.onCrash?.(toKafkaError(e.payload.error, 'consume'), e.payload.restart);
    });
    this.consumer.on(GROUP_JOIN, (e) => group.assign(e.payload.memberAssignment));
  }

  async run(options: RunOptions): Promise<void> {
    this.hook(options);
    try {
      await this.consumer.connect();
      for (const topic of options.topics) {
        await this.consumer.subscribe({ topic, fromBeginning: options.fromBeginning });
      }
      await this.consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
        eachBatch: (payload) => options.eachBatch(batchContext(payload)),
      });
    } catch (err) {
      throw toKafkaError(err, 'start consumer');
    }
  }

  async commitOffsets(offsets: TopicPartitionOffset[]): Promise<void> {
    try {
      await this.consumer.commitOffsets(offsets);
    } catch (err) {
      throw toKafkaError(err, 'commit offsets');
    }
  }

  pause(topics: string[]): void {
    this.consumer.pause(topics.map((topic) => ({ topic })));
  }

  resume(topics: string[]): void {
    this.consumer.resume(topics.map((topic) => ({ topic })));
  }

  async disconnect(): Promise<void> {
    await this.consumer.disconnect();
  }
}

/** kafkajs's eachBatch payload as our {@link BatchContext}. */
function batchContext(payload: EachBatchPayload): BatchContext {
  const { batch } = payload;
  return {
    batch: {
      topic: batch.topic,
      partition: batch.partition,
      messages: batch.messages.map((m) => fromKafkajsMessage(batch.topic, batch.partition, m)),
      highWatermark: batch.highWatermark,
    },
    resolveOffset: (offset) => payload.resolveOffset(offset),
    heartbeat: () => payload.heartbeat(),
    isRunning: () => payload.isRunning(),
    isStale: () => payload.isStale(),
  };
}

/** A kafkajs `Admin` behind our {@link KafkaAdmin}. */
export class KafkajsAdmin implements KafkaAdmin {
  constructor(private readonly admin: Admin) {}

  connect(): Promise<void> {
    return kafkaCall('connect admin', () => this.admin.connect());
  }

  disconnect(): Promise<void> {
    return this.admin.disconnect();
  }

  listTopics(): Promise<string[]> {
    return kafkaCall('list topics', () => this.admin.listTopics());
  }

  async createTopic(spec: TopicSpec): Promise<boolean> {
    try {
      return await this.admin.createTopics({
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
    } catch (err) {
      if (kafkaErrorType(err) === 'TOPIC_ALREADY_EXISTS') return false;
      throw toKafkaError(err, 'create topic');
    }
  }

  deleteTopics(topics: string[]): Promise<void> {
    return kafkaCall('delete topics', () => this.admin.deleteTopics({ topics }));
  }

  topicPartitions(topic: string): Promise<number[] | undefined> {
    return kafkaCall(`read metadata of topic ${topic}`, async () => {
      // listTopics first: a metadata request for a missing topic could create it.
      if (!(await this.admin.listTopics()).includes(topic)) return undefined;
      const meta = await this.admin.fetchTopicMetadata({ topics: [topic] });
      const t = meta.topics.find((x) => x.name === topic);
      return t?.partitions.map((p) => p.partitionId).sort((a, b) => a - b);
    });
  }

  topicOffsets(topic: string): Promise<PartitionOffsets[]> {
    return kafkaCall('fetch topic offsets', async () =>
      (await this.admin.fetchTopicOffsets(topic))
        .map((o) => ({ partition: o.partition, low: o.low, high: o.high }))
        .sort((a, b) => a.partition - b.partition),
    );
  }

  groupOffsets(groupId: string, topic: string): Promise<TopicPartitionOffset[]> {
    return kafkaCall('fetch group offsets', async () => {
      const out = await this.admin.fetchOffsets({ groupId, topics: [topic] });
      return out
        .flatMap((t) => t.partitions.map((p) => ({ topic: t.topic, ...p })))
        .map(({ topic: t, partition, offset }) => ({ topic: t, partition, offset }))
        .sort((a, b) => a.partition - b.partition);
    });
  }

  describeCluster(): Promise<{ brokers: number }> {
    return kafkaCall('describe cluster', async () => ({
      brokers: (await this.admin.describeCluster()).brokers.length,
    }));
  }
}

/** Our {@link KafkaClient} over kafkajs: behaviour as the services had it with kafkajs directly. */
export class KafkajsClient implements KafkaClient {
  readonly kind = 'kafkajs' as const;
  /** The kafkajs client underneath (for what the interface does not cover yet). */
  readonly kafka: Kafka;

  constructor(options: KafkaClientOptions) {
    this.kafka = createKafka({
      brokers: options.brokers,
      clientId: options.clientId,
      logger: options.logger,
      config: kafkajsConfig(options),
    });
  }

  producer(options: ProducerOptions = {}): KafkaProducer {
    return new KafkajsProducer(this.kafka, options);
  }

  consumer(options: ConsumerOptions): KafkaConsumer {
    return new KafkajsConsumer(this.kafka, options);
  }

  admin(): KafkaAdmin {
    return new KafkajsAdmin(this.kafka.admin());
  }
}
