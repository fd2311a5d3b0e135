import type { BatchContext, KafkaClient, KafkaConsumer } from '@meterstream/kafka';
import type { Logger } from '@meterstream/observability';
import { sleep } from '@meterstream/runtime';
import type { AggregatorConfig } from './config.js';
import { BatchAborted, type PartitionWorker, type WorkContext } from './partition.js';

/** Processes one batch on its partition's worker (see `processBatch`). */
export type BatchHandler = (
  w: PartitionWorker,
  batch: BatchContext,
  ctx: WorkContext,
) => Promise<void>;

/**
 * The aggregator's member of the Kafka consumer group: which partitions it holds (a rebalance
 * bumps the generation and invalidates every worker), one {@link PartitionWorker} per partition,
 * and the batches in flight. Offsets are committed by the insert pipeline, never automatically.
 */
export class ConsumerGroup {
  readonly consumer: KafkaConsumer;
  readonly assigned = new Set<number>();
  readonly workers = new Map<number, PartitionWorker>();
  /** Bumped by every rebalance: work started in an older generation is abandoned. */
  generation = 0;
  joined = false;
  stopping = false;
  /** Resolves when the consumer has joined its group the first time. */
  readonly firstJoin: Promise<void>;
  private joinedOnce: () => void = () => undefined;
  private activeBatches = 0;

  constructor(
    kafka: KafkaClient,
    private readonly config: AggregatorConfig,
    private readonly logger: Logger,
    private readonly newWorker: (partition: number) => PartitionWorker,
  ) {
    this.consumer = kafka.consumer({
      groupId: config.groupId,
      sessionTimeoutMs: config.sessionTimeoutMs,
      rebalanceTimeoutMs: Math.max(config.sessionTimeoutMs, 60_000),
      heartbeatIntervalMs: Math.max(500, Math.floor(config.sessionTimeoutMs / 10)),
      // ~1 MB per partition per fetch keeps batches (and the memory they hold) bounded while
      // still making ClickHouse inserts of thousands of rows.
      maxBytesPerPartition: config.maxBytesPerPartition ?? 1024 * 1024,
      maxBytes: 10 * 1024 * 1024,
      maxWaitTimeMs: 250,
    });
    this.firstJoin = new Promise((resolve) => (this.joinedOnce = resolve));
  }

  /** Joined its group and not stopping. */
  isReady(): boolean {
    return this.joined && !this.stopping;
  }

  /** The worker of partition `p`, created on first use. */
  worker(p: number): PartitionWorker {
    let w = this.workers.get(p);
    if (!w) {
      w = this.newWorker(p);
      this.workers.set(p, w);
    }
    return w;
  }

  /** Commits offsets of the usage topic (called by the insert pipeline once rows are durable). */
  commit(offsets: { partition: number; offset: string }[]): Promise<void> {
    return this.consumer.commitOffsets(offsets.map((o) => ({ topic: this.config.topic, ...o })));
  }

  /** A rebalance took our partitions: the work on them stops (it is stale from now on). */
  private revoked(): void {
    this.generation++;
    this.assigned.clear();
  }

  private assign(mine: Set<number>): void {
    this.generation++;
    this.assigned.clear();
    for (const p of mine) this.assigned.add(p);
    // Every rebalance invalidates what we know; a partition we keep reloads cheaply (our claim is
    // still the latest, so no fence wait), one we lost is dropped.
    for (const [p, w] of this.workers) {
      w.invalidate();
      if (!mine.has(p)) this.workers.delete(p);
    }
    for (const p of mine) this.worker(p);
    this.joined = true;
    this.logger.info(
      { partitions: [...mine].sort((a, b) => a - b), generation: this.generation },
      'partitions assigned',
    );
    this.joinedOnce();
  }

  /** Joins the group and hands every non-empty batch to `handle`, one at a time per partition. */
  async run(handle: BatchHandler): Promise<void> {
    const { topic } = this.config;
    await this.consumer.run({
      topics: [topic],
      fromBeginning: true,
      // Offsets are committed by the insert pipeline, only after their rows are in ClickHouse.
      partitionsConsumedConcurrently: this.config.concurrency ?? 6,
      onRevoked: () => this.revoked(),
      onAssigned: ({ partitions }) => this.assign(new Set(partitions[topic] ?? [])),
      onCrash: (err, restart) => this.logger.error({ err, restart }, 'consumer crashed'),
      eachBatch: (batch) => this.eachBatch(handle, batch),
    });
  }

  private async eachBatch(handle: BatchHandler, b: BatchContext): Promise<void> {
    const { batch, heartbeat, isRunning, isStale } = b;
    if (batch.messages.length === 0 || this.stopping) return;
    this.activeBatches++;
    const w = this.worker(batch.partition);
    const gen = this.generation;
    const ctx: WorkContext = {
      alive: () => isRunning() && !isStale() && gen === this.generation,
      heartbeat,
    };
    try {
      await w.runExclusive(() => handle(w, b, ctx));
    } catch (err) {
      w.invalidate();
      if (err instanceof BatchAborted) {
        this.logger.info(
          { partition: batch.partition, reason: err.message },
          'batch abandoned; it will be redelivered',
        );
        return;
      }
      // Never crash on a batch: the unresolved messages are fetched again after a pause.
      this.logger.error(
        { err, partition: batch.partition },
        'batch failed; it will be redelivered',
      );
      await sleep(1000);
    } finally {
      this.activeBatches--;
    }
  }

  /** Stops fetching: no new batch starts (the ones in flight go on). */
  pause(): void {
    this.stopping = true;
    this.consumer.pause([this.config.topic]);
  }

  /** Waits (until `deadline`) for the batches in flight to finish. */
  async settle(deadline: number): Promise<void> {
    while (this.activeBatches > 0 && Date.now() < deadline) await sleep(20);
  }
}
