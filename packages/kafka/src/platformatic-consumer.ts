import {
  Consumer,
  consumerGroupChannel,
  type BaseOptions,
  type CallbackWithPromise,
  type Message,
  type MessagesStream,
} from '@platformatic/kafka';
import type { Logger } from 'pino';
import { sleep } from '@meterstream/runtime';
import type {
  BatchContext,
  ConsumedMessage,
  ConsumerOptions,
  KafkaConsumer,
  RunOptions,
  TopicPartitionOffset,
  TopicPartitions,
} from './client.js';
import { toKafkaError } from './errors.js';
import { GroupTracker } from './group.js';

/** The part of the library's (unexported) fetch response we read and change. */
interface FetchResponse {
  responses: {
    topicId: string;
    partitions: {
      partitionIndex: number;
      highWatermark: bigint;
      records?: { records: object[] }[] | null;
    }[];
  }[];
}

/** One offset as the library commits it. */
interface CommitEntry {
  topic: string;
  partition: number;
  offset: bigint;
  leaderEpoch: number;
}

type Stream = MessagesStream<Buffer, Buffer, Buffer, Buffer>;
type FetchFn = (options: unknown, callback: CallbackWithPromise<FetchResponse>) => void;

/** Our tag on every record of a fetch response: which fetch request brought it. */
interface FetchTag {
  msFetchSeq: number;
}

/** Messages fetched for one partition and not yet handed to `eachBatch`. */
interface PartitionQueue {
  topic: string;
  partition: number;
  key: string;
  messages: ConsumedMessage[];
  bytes: number;
  busy: boolean;
  /** Bumped when the queue's contents become invalid (rewind, rebalance): running batches turn stale. */
  epoch: number;
}

/** A @platformatic/kafka message as ours. */
export function fromPlatformaticMessage(
  m: Message<Buffer, Buffer, Buffer, Buffer>,
): ConsumedMessage {
  const headers: Record<string, Buffer> = {};
  for (const [k, v] of m.headers) headers[k.toString('utf8')] = v;
  return {
    topic: m.topic,
    partition: m.partition,
    offset: String(m.offset),
    key: m.key ?? null,
    value: m.value ?? null,
    headers,
    timestamp: Number(m.timestamp),
  };
}

/** The topics map of {@link TopicPartitions} from @platformatic/kafka's assignments. */
function toTopicPartitions(
  assignments: { topic: string; partitions: number[] }[] | null | undefined,
): TopicPartitions {
  const out: TopicPartitions = {};
  for (const a of assignments ?? []) out[a.topic] = [...a.partitions];
  return out;
}

/**
 * A consumer group member on @platformatic/kafka with kafkajs's `eachBatch` semantics, which the
 * library itself does not have (it hands out a stream of single messages and moves its fetch
 * position on as soon as it fetched):
 *
 * - batches: the messages of one partition fetched so far, one batch per partition at a time, at
 *   most `partitionsConsumedConcurrently` partitions at once;
 * - redelivery: messages a handler did not resolve are fetched again from the first unresolved
 *   offset (the stream's fetch position is rewound; answers of fetches that were already on their
 *   way are dropped for that partition, recognised by the sequence number of their request);
 * - rebalance: everything fetched before a join is dropped and every partition starts again at
 *   its committed offset (or the start/end without one), as kafkajs does;
 * - hooks: `onRevoked` when a JoinGroup starts (the library has no event for that in the eager
 *   protocol: we watch its `plt:kafka:consumer:group` diagnostics channel), `onAssigned` on
 *   `consumer:group:join`, `onHeartbeat` on `consumer:heartbeat:end`;
 * - backpressure: fetch requests are held back while more than `maxBytes` wait in the queues.
 */
export class PlatformaticConsumer implements KafkaConsumer {
  private readonly consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  private stream: Stream | undefined;
  private run_: RunOptions | undefined;
  private group: GroupTracker = new GroupTracker({});
  private readonly queues = new Map<string, PartitionQueue>();
  private readonly paused = new Set<string>();
  private readonly staleBefore = new Map<string, number>();
  private readonly highWatermarks = new Map<string, bigint>();
  private readonly held: (() => void)[] = [];
  private readonly inflightCommits = new Set<CommitEntry[]>();
  private topicNames = new Map<string, string>();
  private fetchSeq = 0;
  private joinSeq = 0;
  private queuedBytes = 0;
  private active = 0;
  private running = false;
  private scheduled = false;
  private stopping = false;
  private readonly maxQueuedBytes: number;
  private readonly onJoinStart = (message: unknown): void => {
    const ctx = message as { client?: unknown; operation?: unknown };
    if (ctx.client === this.consumer && ctx.operation === 'joinGroup') this.group.revoke();
  };

  constructor(
    base: BaseOptions,
    private readonly options: ConsumerOptions,
    private readonly logger: Logger,
  ) {
    this.consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
      ...base,
      groupId: options.groupId,
      autocommit: false,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      rebalanceTimeout: options.rebalanceTimeoutMs ?? 60_000,
      heartbeatInterval: options.heartbeatIntervalMs ?? 3_000,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1024 * 1024,
      maxBytes: options.maxBytes ?? 10 * 1024 * 1024,
      maxWaitTime: options.maxWaitTimeMs ?? 5_000,
    });
    this.maxQueuedBytes = 2 * (options.maxBytes ?? 10 * 1024 * 1024);
    this.wrapFetch();
  }

  async run(options: RunOptions): Promise<void> {
    this.run_ = options;
    this.group = new GroupTracker({
      ...options,
      onRevoked: (partitions) => {
        // A commit on its way must not be repeated by the library in the next generation.
        for (const list of this.inflightCommits) list.length = 0;
        options.onRevoked?.(partitions);
      },
    });
    this.running = true;
    consumerGroupChannel.start.subscribe(this.onJoinStart);
    this.consumer.on('consumer:group:join', (e) => this.joined(e.assignments));
    this.consumer.on('consumer:group:leave', () => this.group.revoke());
    this.consumer.on('consumer:heartbeat:end', () => options.onHeartbeat?.());
    await this.openStream();
  }

  private async openStream(): Promise<void> {
    const options = this.run_!;
    try {
      const stream = await this.consumer.consume({
        topics: options.topics,
        mode: 'committed',
        fallbackMode: options.fromBeginning ? 'earliest' : 'latest',
        autocommit: false,
        sessionTimeout: this.options.sessionTimeoutMs ?? 30_000,
        rebalanceTimeout: this.options.rebalanceTimeoutMs ?? 60_000,
        heartbeatInterval: this.options.heartbeatIntervalMs ?? 3_000,
      });
      this.stream = stream;
      // The initial join may have happened before our listener could see it.
      if (this.group.generation === 0 && this.consumer.assignments)
        this.joined(this.consumer.assignments);
      stream.on('data', (m: Message<Buffer, Buffer, Buffer, Buffer>) => this.received(m));
      stream.on('error', (err: Error) => void this.crashed(err));
    } catch (err) {
      throw toKafkaError(err, 'start consumer');
    }
  }

  /** The stream failed (e.g. a fetch error it does not recover from): start a new one, like kafkajs's restart. */
  private async crashed(err: unknown): Promise<void> {
    if (this.stopping) return;
    this.group.revoke();
    this.run_?.onCrash?.(toKafkaError(err, 'consume'), true);
    this.logger.warn({ err }, 'Kafka consumer stream failed; restarting it');
    this.stream = undefined;
    await sleep(1_000);
    for (;;) {
      if (this.stopping) return;
      try {
        await this.openStream();
        return;
      } catch (e) {
        this.logger.warn({ err: e }, 'Kafka consumer restart failed; retrying');
        await sleep(5_000);
      }
    }
  }

  /** A new generation: drop what was fetched before, restart every partition at its committed offset. */
  private joined(assignments: { topic: string; partitions: number[] }[] | null | undefined): void {
    this.joinSeq = this.fetchSeq;
    for (const q of this.queues.values()) this.clearQueue(q);
    // Without entries the stream's refresh seeds every partition from its committed offset, or the
    // fallback (start/end) where there is none — what kafkajs does after a rebalance.
    this.stream?.offsetsToFetch.clear();
    this.group.assign(toTopicPartitions(assignments));
    this.releaseHeld();
  }

  /** Every fetch request gets a sequence number; its answer is filtered and tagged with it. */
  private wrapFetch(): void {
    const original = this.consumer.fetch.bind(this.consumer) as unknown as FetchFn;
    const wrapped: FetchFn = (options, callback) => {
      const seq = ++this.fetchSeq;
      const go = (): void =>
        original(options, ((err: Error | null, res: FetchResponse) => {
          if (!err && res) this.filterResponse(seq, res);
          callback(err, res);
        }) as CallbackWithPromise<FetchResponse>);
      if (this.queuedBytes > this.maxQueuedBytes && !this.stopping) this.held.push(go);
      else go();
    };
    (this.consumer as unknown as { fetch: FetchFn }).fetch = wrapped;
  }

  private topicName(id: string): string | undefined {
    let name = this.topicNames.get(id);
    if (name === undefined) {
      this.topicNames = new Map(
        [...(this.consumer.currentMetadata?.topics ?? new Map())].map(([n, t]) => [t.id, n]),
      );
      name = this.topicNames.get(id);
    }
    return name;
  }

  /** Drops partitions of answers to requests sent before a rewind or join; tags the rest. */
  private filterResponse(seq: number, res: FetchResponse): void {
    const tag: FetchTag = { msFetchSeq: seq };
    for (const t of res.responses) {
      const topic = this.topicName(t.topicId);
      if (topic === undefined) continue;
      for (const p of t.partitions) {
        const key = `${topic}:${p.partitionIndex}`;
        if (seq <= Math.max(this.joinSeq, this.staleBefore.get(key) ?? 0)) {
          p.records = null;
          continue;
        }
        this.highWatermarks.set(key, p.highWatermark);
        for (const batch of p.records ?? []) {
          for (const r of batch.records) (r as { metadata?: unknown }).metadata = tag;
        }
      }
    }
  }

  private queue(topic: string, partition: number): PartitionQueue {
    const key = `${topic}:${partition}`;
    let q = this.queues.get(key);
    if (!q) {
      q = { topic, partition, key, messages: [], bytes: 0, busy: false, epoch: 0 };
      this.queues.set(key, q);
    }
    return q;
  }

  private received(m: Message<Buffer, Buffer, Buffer, Buffer>): void {
    const key = `${m.topic}:${m.partition}`;
    const seq = (m.metadata as Partial<FetchTag> | undefined)?.msFetchSeq ?? 0;
    if (seq <= Math.max(this.joinSeq, this.staleBefore.get(key) ?? 0)) return;
    if (!this.group.owns(m.topic, m.partition)) return;
    const q = this.queue(m.topic, m.partition);
    const size = (m.value?.length ?? 0) + (m.key?.length ?? 0);
    q.messages.push(fromPlatformaticMessage(m));
    q.bytes += size;
    this.queuedBytes += size;
    // After the whole fetch answer is queued (the stream pushes it synchronously): one batch per
    // partition and answer, as kafkajs hands them out, not one message at a time.
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        this.schedule();
      });
    }
  }

  private clearQueue(q: PartitionQueue): void {
    q.epoch++;
    this.queuedBytes -= q.bytes;
    q.messages = [];
    q.bytes = 0;
  }

  private schedule(): void {
    const limit = this.run_?.partitionsConsumedConcurrently ?? 1;
    for (const q of this.queues.values()) {
      if (this.active >= limit || this.stopping) return;
      if (q.busy || q.messages.length === 0 || this.paused.has(q.topic)) continue;
      void this.runBatch(q);
    }
  }

  private releaseHeld(): void {
    while (this.held.length > 0 && (this.queuedBytes <= this.maxQueuedBytes || this.stopping)) {
      this.held.shift()!();
    }
  }

  /** Fetches `q`'s partition again from `offset`: queued messages and answers on their way are dropped. */
  private rewind(q: PartitionQueue, offset: bigint): void {
    this.clearQueue(q);
    this.staleBefore.set(q.key, this.fetchSeq);
    this.stream?.offsetsToFetch.set(q.key, offset);
  }

  private async runBatch(q: PartitionQueue): Promise<void> {
    const handler = this.run_!;
    q.busy = true;
    this.active++;
    const messages = q.messages;
    this.queuedBytes -= q.bytes;
    q.messages = [];
    q.bytes = 0;
    this.releaseHeld();
    const epoch = q.epoch;
    let resolved: bigint | undefined;
    const last = BigInt(messages[messages.length - 1]!.offset);
    const ctx: BatchContext = {
      batch: {
        topic: q.topic,
        partition: q.partition,
        messages,
        highWatermark: String(this.highWatermarks.get(q.key) ?? last + 1n),
      },
      resolveOffset: (offset) => {
        const o = BigInt(offset);
        if (resolved === undefined || o > resolved) resolved = o;
      },
      heartbeat: async () => {},
      isRunning: () => this.running && !this.stopping,
      isStale: () => q.epoch !== epoch || !this.group.owns(q.topic, q.partition),
    };
    try {
      await handler.eachBatch(ctx);
    } catch (err) {
      this.logger.error(
        { err, partition: q.partition },
        'eachBatch failed; the batch is redelivered',
      );
      await sleep(1_000);
    } finally {
      if (q.epoch === epoch && (resolved === undefined || resolved < last)) {
        this.rewind(q, resolved === undefined ? BigInt(messages[0]!.offset) : resolved + 1n);
      }
      q.busy = false;
      this.active--;
      this.schedule();
    }
  }

  async commitOffsets(offsets: TopicPartitionOffset[]): Promise<void> {
    const list: CommitEntry[] = offsets.map((o) => ({
      topic: o.topic,
      partition: o.partition,
      offset: BigInt(o.offset),
      leaderEpoch: -1,
    }));
    // On a rejoin error the library joins again and repeats the commit in the new generation,
    // where the partition may be someone else's; a revoke empties the list first (see revoke hook).
    this.inflightCommits.add(list);
    try {
      await this.consumer.commit({ offsets: list });
    } catch (err) {
      throw toKafkaError(err, 'commit offsets');
    } finally {
      this.inflightCommits.delete(list);
    }
  }

  pause(topics: string[]): void {
    for (const t of topics) this.paused.add(t);
  }

  resume(topics: string[]): void {
    for (const t of topics) this.paused.delete(t);
    this.schedule();
  }

  async disconnect(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.running = false;
    consumerGroupChannel.start.unsubscribe(this.onJoinStart);
    while (this.active > 0) await sleep(20);
    this.releaseHeld();
    try {
      await this.stream?.close();
      await this.consumer.close(true);
    } finally {
      this.group.revoke();
    }
  }
}
