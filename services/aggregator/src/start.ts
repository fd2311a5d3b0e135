import { randomBytes } from 'node:crypto';
import { ClickHouse, migrate } from '@meterstream/clickhouse';
import {
  checkTopicPartitions,
  createKafkaClient,
  createSchemaRegistry,
  DEFAULT_KAFKA_CLIENT,
  ensureTopic,
  type KafkaClient,
  type SchemaRegistry,
  withAdmin,
} from '@meterstream/kafka';
import {
  Metrics,
  startOpsServer,
  type Logger,
  type OpsServer,
  type ServiceHandle,
} from '@meterstream/observability';
import { retry } from '@meterstream/runtime';
import { processBatch, type BatchDeps } from './batch.js';
import type { AggregatorConfig, ProductResolver } from './config.js';
import { ConsumerGroup } from './consumer.js';
import { SchemaCache } from './decode.js';
import { IdleFreezer } from './idle.js';
import { createAggregatorMetrics, type AggregatorMetrics } from './metrics.js';
import { MIGRATIONS } from './migrations.js';
import { PartitionWorker } from './partition.js';
import { InsertPipeline } from './pipeline.js';
import { AggregatorStore } from './store.js';

export type { AggregatorConfig, ProductResolver } from './config.js';

/** Collaborators of {@link startAggregator}. */
export interface AggregatorDeps {
  logger: Logger;
  /** The process's metrics registry; a fresh one when absent. */
  metrics?: Metrics;
  catalog?: ProductResolver;
  /** The Kafka client; by default one of `config.kafkaClient` on `config.brokers`. */
  kafka?: KafkaClient;
  registry?: SchemaRegistry;
  /**
   * The wall clock for processing-time decisions (idle freezes, too-old checks, future-skew cap);
   * `Date.now` unless a test or a replay shifts it.
   */
  now?: () => number;
}

/**
 * A running aggregator. `ready` resolves once the consumer has joined its group; `close()`
 * finishes the current batches, commits and disconnects; idempotent.
 */
export interface AggregatorHandle extends ServiceHandle {
  readonly metrics: AggregatorMetrics;
  readonly opsPort: number | undefined;
  /** True once the consumer has joined its group (ClickHouse is migrated by then), until close. */
  isReady(): boolean;
}

/** A running aggregator (the name the other services' tests know it by). */
export type Aggregator = AggregatorHandle;

/** How long a graceful close may wait for ClickHouse before leaving rows to the next owner. */
const CLOSE_DEADLINE_MS = 20_000;

/** Migrates the aggregator's tables; ClickHouse may be down at start: waits for it rather than crash-loop. */
async function migrateWhenUp(
  ch: ClickHouse,
  config: AggregatorConfig,
  logger: Logger,
): Promise<void> {
  const { database, topology } = config.clickhouse;
  await retry(() => migrate(ch, 'aggregator', MIGRATIONS, { database, topology }, logger), {
    attempts: Number.POSITIVE_INFINITY,
    baseMs: 200,
    maxMs: 5000,
    jitter: 0,
    retriable: () => true,
    onRetry: (err) => logger.warn({ err }, 'ClickHouse migration failed; retrying'),
  });
}

/** Creates the usage topic if needed; refuses one created elsewhere with another partition count. */
async function prepareTopic(kafka: KafkaClient, config: AggregatorConfig): Promise<void> {
  await withAdmin(kafka, async (admin) => {
    await ensureTopic(admin, {
      topic: config.topic,
      partitions: config.topicPartitions,
      replicationFactor: config.topicReplication,
    });
    await checkTopicPartitions(admin, config.topic, config.topicPartitions);
  });
}

/** The aggregator's parts, wired to each other but not started (nothing connects yet). */
interface Parts {
  ch: ClickHouse;
  kafka: KafkaClient;
  pipeline: InsertPipeline;
  consumers: ConsumerGroup;
  idle: IdleFreezer;
  batchDeps: BatchDeps;
  /** Once closing: when failed inserts stop retrying. */
  closing: { deadline: number };
}

function assemble(
  config: AggregatorConfig,
  deps: AggregatorDeps,
  logger: Logger,
  metrics: AggregatorMetrics,
): Parts {
  const clock = deps.now ?? Date.now;
  const instanceId = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const ch = new ClickHouse({
    url: config.clickhouse.url,
    user: config.clickhouse.user,
    password: config.clickhouse.password,
    requestTimeoutMs: config.clickhouse.requestTimeoutMs,
    application: 'meterstream-aggregator',
  });
  const store = new AggregatorStore(ch, config.clickhouse.database, config.dedupHorizonHours);
  const kafka =
    deps.kafka ??
    createKafkaClient({
      client: config.kafkaClient ?? DEFAULT_KAFKA_CLIENT,
      brokers: config.brokers,
      clientId: config.clientId,
      logger,
    });
  const registry = deps.registry ?? createSchemaRegistry(config.registryUrl);
  const closing = { deadline: Number.POSITIVE_INFINITY };
  const insertRows = config.insertRows ?? 100_000;
  const pipeline: InsertPipeline = new InsertPipeline(
    store,
    metrics,
    logger,
    { maxRows: insertRows, lingerMs: 100, maxPendingRows: 2 * insertRows },
    (offsets): Promise<void> => consumers.commit(offsets),
    () => Date.now() < closing.deadline,
  );
  const settings = {
    graceMs: config.graceMs,
    idleMs: config.idleMs,
    fenceMs: config.fenceMs,
    instanceId,
    maxBackoffMs: 5000,
  };
  const consumers: ConsumerGroup = new ConsumerGroup(kafka, config, logger, (p) => {
    const log = logger.child({ partition: p });
    return new PartitionWorker(p, store, settings, metrics, log, (ctx) =>
      pipeline.drain(ctx.heartbeat),
    );
  });
  const batchDeps: BatchDeps = {
    store,
    pipeline,
    metrics,
    schemas: new SchemaCache(registry, logger),
    catalog: deps.catalog,
    clock,
    dedupHorizonHours: config.dedupHorizonHours,
  };
  const idle = new IdleFreezer(kafka, consumers, config, clock, metrics, logger);
  return { ch, kafka, pipeline, consumers, idle, batchDeps, closing };
}

/**
 * Graceful: stop fetching, let the running batches finish, make their rows durable and commit
 * them, then leave the group. A ClickHouse outage bounds this to 20 s (uncommitted rows are
 * replayed by the next owner).
 */
async function shutdown(parts: Parts, ops: OpsServer | undefined, logger: Logger): Promise<void> {
  const { consumers, idle, pipeline, closing } = parts;
  consumers.pause();
  closing.deadline = Date.now() + CLOSE_DEADLINE_MS;
  const ticked = idle.stop();
  await consumers.settle(closing.deadline);
  await ticked;
  await pipeline.drain();
  await idle.disconnect();
  await consumers.consumer.disconnect();
  await parts.ch.close();
  await ops?.close();
  logger.info('aggregator stopped');
}

/**
 * Starts the aggregator: migrates ClickHouse, consumes `usage.events` in a consumer group and
 * keeps raw events and frozen hourly windows in ClickHouse (see ADR 0002).
 */
export async function startAggregator(
  config: AggregatorConfig,
  deps: AggregatorDeps,
): Promise<AggregatorHandle> {
  const logger = deps.logger.child({ module: 'aggregator' });
  const metrics = createAggregatorMetrics(deps.metrics ?? new Metrics('meterstream_aggregator'));
  const parts = assemble(config, deps, logger, metrics);
  const { ch, consumers } = parts;
  const isReady = (): boolean => consumers.isReady();
  const ops =
    config.opsPort === undefined
      ? undefined
      : await startOpsServer({
          port: config.opsPort,
          metrics: metrics.metrics,
          logger,
          ready: isReady,
        });
  await migrateWhenUp(ch, config, logger);
  try {
    await prepareTopic(parts.kafka, config);
  } catch (err) {
    await ch.close();
    await ops?.close();
    throw err;
  }
  await consumers.run((w, batch, ctx) => processBatch(parts.batchDeps, w, batch, ctx));
  await parts.idle.start();
  logger.info({ opsPort: ops?.port }, 'aggregator started');
  let closed: Promise<void> | undefined;
  return {
    metrics,
    opsPort: ops?.port,
    ready: consumers.firstJoin,
    isReady,
    close: () => (closed ??= shutdown(parts, ops, logger)),
  };
}
