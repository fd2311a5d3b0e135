import {
  Admin,
  Connection,
  instancesChannel,
  kOptions,
  ListOffsetTimestamps,
  Producer,
  type BaseOptions,
  type MessageToProduce,
  type RetryDelayGetter,
} from '@platformatic/kafka';
import { sleep } from '@meterstream/runtime';
import type {
  BrokerAddress,
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
  TopicPartitionOffset,
  TopicSpec,
} from './client.js';
import { kafkaCall, kafkaErrorType, toKafkaError } from './errors.js';
import { murmur2, toPositive } from './murmur2.js';
import { PlatformaticConsumer } from './platformatic-consumer.js';

/** Our retry policy in @platformatic/kafka's words (exponential, capped). */
export function platformaticRetry(
  policy: RetryPolicy,
): Pick<BaseOptions, 'retries' | 'retryDelay'> {
  const retryDelay: RetryDelayGetter = (_client, _op, attempt) =>
    Math.min(policy.maxRetryTimeMs, policy.initialRetryTimeMs * 2 ** Math.max(0, attempt - 1));
  return { retries: policy.retries, retryDelay };
}

/** What we put in a client's `context`: the library hands it to every connection it opens. */
interface RoutedContext {
  msRoute: (broker: BrokerAddress) => BrokerAddress;
}

let routing = false;

/**
 * Sends the connections of clients created with a {@link RoutedContext} to `msRoute(broker)`.
 * The library has no socket hook, but it announces every new connection on its `instances`
 * diagnostics channel before connecting it: we give such a connection its own `connect`, which
 * changes the address and nothing else.
 */
function routeConnections(): void {
  if (routing) return;
  routing = true;
  instancesChannel.subscribe((message) => {
    const { type, instance } = message as { type?: string; instance?: unknown };
    if (type !== 'connection' || !(instance instanceof Connection)) return;
    const route = (instance.context as Partial<RoutedContext> | undefined)?.msRoute;
    if (!route) return;
    const original = instance.connect.bind(instance);
    instance.connect = ((host: string, port: number, callback?: never) => {
      const to = route({ host, port });
      return original(to.host, to.port, callback);
    }) as typeof instance.connect;
  });
}

/** Client-wide @platformatic/kafka settings from our options (unset ones keep its defaults). */
export function platformaticBase(options: KafkaClientOptions): BaseOptions {
  if (options.route) routeConnections();
  return {
    clientId: options.clientId,
    bootstrapBrokers: options.brokers,
    ...(options.route ? { context: { msRoute: options.route } satisfies RoutedContext } : {}),
    ...(options.retry ? platformaticRetry(options.retry) : {}),
    // `requestTimeout` is how long a connection waits for an answer (kafkajs's requestTimeout);
    // the library's `timeout` is what it asks the broker to wait for (acks), not a client bound.
    ...(options.requestTimeoutMs !== undefined ? { requestTimeout: options.requestTimeoutMs } : {}),
    ...(options.connectionTimeoutMs !== undefined
      ? { connectTimeout: options.connectionTimeoutMs }
      : {}),
  };
}

type Key = string | Buffer | null | undefined;
type HeaderValue = string | Buffer;

/** Strings to UTF-8; Buffers as they are. */
function bytes(v: string | Buffer): Buffer;
function bytes(v: Key): Buffer | undefined;
function bytes(v: Key): Buffer | undefined {
  if (v === null || v === undefined) return undefined;
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

/**
 * Java's default partitioner for keyed records, as @platformatic/kafka's partitioner hook: it
 * returns `toPositive(murmur2(key))` and the client takes it modulo the partition count. (Its own
 * `defaultPartitioner` takes `murmur2 >>> 0` instead, which puts half of all keys on another
 * partition than Java and kafkajs do.) Cached per string key: ADR 0001 keys repeat constantly.
 */
export function createMurmur2Partitioner(): (
  message: MessageToProduce<Key, Buffer | null, string, HeaderValue>,
  key: Buffer | undefined,
) => number {
  const cache = new Map<string, number>();
  let roundRobin = 0;
  return (message, key) => {
    const k = message.key;
    if (typeof k === 'string') {
      let hash = cache.get(k);
      if (hash === undefined) {
        hash = toPositive(murmur2(k));
        if (cache.size >= 100_000) cache.clear();
        cache.set(k, hash);
      }
      return hash;
    }
    return key ? toPositive(murmur2(key)) : toPositive(roundRobin++);
  };
}

class PlatformaticProducer implements KafkaProducer {
  private readonly producer: Producer<Key, Buffer | null, string, HeaderValue>;

  constructor(base: BaseOptions, options: ProducerOptions) {
    this.producer = new Producer<Key, Buffer | null, string, HeaderValue>({
      ...base,
      ...(options.retry ? platformaticRetry(options.retry) : {}),
      idempotent: true,
      acks: -1,
      autocreateTopics: options.allowAutoTopicCreation ?? false,
      partitioner: createMurmur2Partitioner(),
      serializers: {
        key: (k) => bytes(k),
        value: (v) => v ?? undefined,
        headerKey: (k) => bytes(k),
        headerValue: (v) => bytes(v),
      },
    });
    // The library turns fewer than 2 retries of an idempotent producer into unbounded ones; a
    // caller that bounds them (ingest: an answer before the HTTP timeout) gets what it asked for.
    if (options.retry && options.retry.retries < 2) {
      (this.producer as unknown as Record<symbol, BaseOptions>)[kOptions]!.retries =
        options.retry.retries;
    }
  }

  /** Fetches the producer id now, so that a broker that cannot be reached fails here. */
  async connect(): Promise<void> {
    try {
      await this.producer.initIdempotentProducer({});
    } catch (err) {
      throw toKafkaError(err, 'connect producer');
    }
  }

  async send(topic: string, messages: ProduceMessage[]): Promise<ProducedOffset[]> {
    try {
      const result = await this.producer.send({
        messages: messages.map((m) => ({
          topic,
          key: m.key,
          value: m.value,
          ...(m.headers ? { headers: m.headers } : {}),
          ...(m.timestamp !== undefined ? { timestamp: BigInt(m.timestamp) } : {}),
          ...(m.partition !== undefined ? { partition: m.partition } : {}),
        })),
      });
      return (result.offsets ?? []).map((o) => ({
        topic: o.topic,
        partition: o.partition,
        baseOffset: String(o.offset),
      }));
    } catch (err) {
      throw toKafkaError(err, 'produce');
    }
  }

  async disconnect(): Promise<void> {
    await this.producer.close();
  }
}

/** How long {@link PlatformaticAdmin.createTopic} waits for the new partitions' leaders. */
const LEADER_WAIT_MS = 10_000;

/** @platformatic/kafka's `Admin` behind our {@link KafkaAdmin}. */
class PlatformaticAdmin implements KafkaAdmin {
  private readonly admin: Admin;

  constructor(base: BaseOptions) {
    this.admin = new Admin(base);
  }

  /** Connections open on first use; this makes one round trip so that an unreachable broker fails here. */
  connect(): Promise<void> {
    return kafkaCall('connect admin', async () => {
      await this.admin.metadata({ topics: [] });
    });
  }

  async disconnect(): Promise<void> {
    await this.admin.close();
  }

  listTopics(): Promise<string[]> {
    return kafkaCall('list topics', () => this.admin.listTopics());
  }

  async createTopic(spec: TopicSpec): Promise<boolean> {
    try {
      await this.admin.createTopics({
        topics: [spec.topic],
        partitions: spec.partitions,
        replicas: spec.replicationFactor,
        ...(spec.configEntries ? { configs: spec.configEntries } : {}),
      });
    } catch (err) {
      if (kafkaErrorType(err) === 'TOPIC_ALREADY_EXISTS') return false;
      throw toKafkaError(err, 'create topic');
    }
    await kafkaCall('wait for topic leaders', () => this.waitForLeaders(spec.topic));
    return true;
  }

  /** Like kafkajs's `waitForLeaders`: until every partition of the new topic has a leader. */
  private async waitForLeaders(topic: string): Promise<void> {
    const until = Date.now() + LEADER_WAIT_MS;
    for (;;) {
      const meta = await this.admin.metadata({ topics: [topic], forceUpdate: true });
      const t = meta.topics.get(topic);
      if (t && t.partitions.length > 0 && t.partitions.every((p) => p && p.leader >= 0)) return;
      if (Date.now() >= until) return;
      await sleep(100);
    }
  }

  deleteTopics(topics: string[]): Promise<void> {
    return kafkaCall('delete topics', () => this.admin.deleteTopics({ topics }));
  }

  topicPartitions(topic: string): Promise<number[] | undefined> {
    return kafkaCall(`read metadata of topic ${topic}`, async () => {
      // listTopics first: a metadata request for a missing topic could create it.
      if (!(await this.admin.listTopics()).includes(topic)) return undefined;
      const meta = await this.admin.metadata({ topics: [topic], forceUpdate: true });
      const count = meta.topics.get(topic)?.partitionsCount;
      return count === undefined ? undefined : Array.from({ length: count }, (_, i) => i);
    });
  }

  private async partitionIds(topic: string): Promise<number[]> {
    const ids = await this.topicPartitions(topic);
    if (!ids) throw toKafkaError(new Error(`topic ${topic} does not exist`), 'read offsets');
    return ids;
  }

  topicOffsets(topic: string): Promise<PartitionOffsets[]> {
    return kafkaCall('fetch topic offsets', async () => {
      const ids = await this.partitionIds(topic);
      const at = async (timestamp: bigint): Promise<Map<number, string>> => {
        const [t] = await this.admin.listOffsets({
          topics: [
            {
              name: topic,
              partitions: ids.map((partitionIndex) => ({ partitionIndex, timestamp })),
            },
          ],
        });
        return new Map((t?.partitions ?? []).map((p) => [p.partitionIndex, String(p.offset)]));
      };
      const [low, high] = await Promise.all([
        at(ListOffsetTimestamps.EARLIEST),
        at(ListOffsetTimestamps.LATEST),
      ]);
      return ids.map((partition) => ({
        partition,
        low: low.get(partition) ?? '0',
        high: high.get(partition) ?? '0',
      }));
    });
  }

  groupOffsets(groupId: string, topic: string): Promise<TopicPartitionOffset[]> {
    return kafkaCall('fetch group offsets', async () => {
      const ids = await this.partitionIds(topic);
      const [group] = await this.admin.listConsumerGroupOffsets({
        groups: [{ groupId, topics: [{ name: topic, partitionIndexes: ids }] }],
      });
      const committed = new Map<number, string>();
      for (const t of group?.topics ?? []) {
        for (const p of t.partitions) committed.set(p.partitionIndex, String(p.committedOffset));
      }
      return ids.map((partition) => ({
        topic,
        partition,
        offset: committed.get(partition) ?? '-1',
      }));
    });
  }

  describeCluster(): Promise<{ brokers: number }> {
    return kafkaCall('describe cluster', async () => ({
      brokers: (await this.admin.metadata({ topics: [], forceUpdate: true })).brokers.size,
    }));
  }
}

/** Our {@link KafkaClient} over @platformatic/kafka. */
export class PlatformaticClient implements KafkaClient {
  readonly kind = 'platformatic' as const;
  private readonly base: BaseOptions;

  constructor(private readonly options: KafkaClientOptions) {
    this.base = platformaticBase(options);
  }

  producer(options: ProducerOptions = {}): KafkaProducer {
    return new PlatformaticProducer(this.base, options);
  }

  consumer(options: ConsumerOptions): KafkaConsumer {
    return new PlatformaticConsumer(this.base, options, this.options.logger);
  }

  admin(): KafkaAdmin {
    return new PlatformaticAdmin(this.base);
  }
}
