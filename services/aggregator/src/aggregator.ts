import { randomBytes } from 'node:crypto';
import type { Type } from 'avsc';
import { ClickHouse, migrate, type Topology } from '@meterstream/clickhouse';
import { isRetriable } from '@meterstream/errors';
import {
  createKafka,
  checkTopicPartitions,
  createSchemaRegistry,
  ensureTopic,
  toRegistryError,
  type Consumer,
  type EachBatchPayload,
  type KafkaMessage,
  type Kafka,
  type SchemaRegistry,
} from '@meterstream/kafka';
import { Metrics, startOpsServer, type Logger, type OpsServer } from '@meterstream/observability';
import { HOUR_MS, hourOf, isTooOldForAws, sec } from './hours.js';
import { createAggregatorMetrics, type AggregatorMetrics } from './metrics.js';
import { MIGRATIONS } from './migrations.js';
import { BatchAborted, PartitionWorker, type WorkContext } from './partition.js';
import { InsertPipeline } from './pipeline.js';
import { RowBinaryWriter } from './rowbinary.js';
import { AggregatorStore } from './store.js';
import {
  KIND_HEADER,
  quantityToMicros,
  type FreezeCommandValue,
  type UsageEventValue,
} from './wire.js';

/** Everything the aggregator needs to run (built from env.ts in main.ts, directly in tests). */
export interface AggregatorConfig {
  brokers: string[];
  clientId: string;
  topic: string;
  /** Partitions and replication used only when the aggregator has to create the topic. */
  topicPartitions: number;
  topicReplication: number;
  groupId: string;
  registryUrl: string;
  clickhouse: {
    url: string;
    user?: string;
    password?: string;
    database: string;
    topology: Topology;
    requestTimeoutMs: number;
  };
  /** Event-time grace after an hour ends before it is frozen. */
  graceMs: number;
  /** A partition without messages this long is frozen by processing time. */
  idleMs: number;
  tickMs: number;
  dedupHorizonHours: number;
  /** Wait after claiming a partition before reading its state (> ClickHouse request timeout). */
  fenceMs: number;
  sessionTimeoutMs: number;
  /** Partitions processed at once (overlaps decoding with ClickHouse writes). */
  concurrency?: number;
  /** Rows per raw-event insert (group commit across partitions). */
  insertRows?: number;
  /** Kafka fetch size per partition (bytes). */
  maxBytesPerPartition?: number;
  /** Ops server port; undefined: no ops server (tests). */
  opsPort?: number;
}

/** Maps a license ARN to its product (the plan catalog, when plans are configured). */
export interface ProductResolver {
  resolveProduct(ref: string): { productCode: string } | undefined;
}

/** Collaborators of {@link startAggregator}. */
export interface AggregatorDeps {
  logger: Logger;
  /** The process's metrics registry; a fresh one when absent. */
  metrics?: Metrics;
  catalog?: ProductResolver;
  kafka?: Kafka;
  registry?: SchemaRegistry;
  /**
   * The wall clock for processing-time decisions (idle freezes, too-old checks, future-skew cap);
   * `Date.now` unless a test or a replay shifts it.
   */
  now?: () => number;
}

/** A running aggregator. `stop()` finishes the current batch, commits and disconnects; idempotent. */
export interface Aggregator {
  readonly metrics: AggregatorMetrics;
  readonly opsPort: number | undefined;
  /** True once the consumer has joined its group and ClickHouse is migrated. */
  ready(): boolean;
  stop(): Promise<void>;
}

/** Events further in the future than this do not move the watermark. */
const MAX_FUTURE_SKEW_MS = 5 * 60_000;

/** Events further in the future than this are rejected (`usage_rejects`), never billed. */
const MAX_EVENT_AHEAD_MS = 24 * HOUR_MS;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function header(m: KafkaMessage, name: string): string | undefined {
  const h = m.headers?.[name];
  const v = Array.isArray(h) ? h[0] : h;
  return v === undefined ? undefined : v.toString();
}

/**
 * Starts the aggregator: migrates ClickHouse, consumes `usage.events` in a consumer group and
 * keeps raw events and frozen hourly windows in ClickHouse (see ADR 0002).
 */
export async function startAggregator(
  config: AggregatorConfig,
  deps: AggregatorDeps,
): Promise<Aggregator> {
  const logger = deps.logger.child({ module: 'aggregator' });
  const clock = deps.now ?? Date.now;
  const metrics = createAggregatorMetrics(deps.metrics ?? new Metrics('meterstream_aggregator'));
  const instanceId = `${process.pid}-${randomBytes(4).toString('hex')}`;
  let stopping = false;
  let joined = false;
  let generation = 0;
  const assigned = new Set<number>();
  const workers = new Map<number, PartitionWorker>();
  const ticking = new Set<number>();
  let activeBatches = 0;
  const types = new Map<number, Type>();

  const ch = new ClickHouse({
    url: config.clickhouse.url,
    user: config.clickhouse.user,
    password: config.clickhouse.password,
    requestTimeoutMs: config.clickhouse.requestTimeoutMs,
    application: 'meterstream-aggregator',
  });
  const store = new AggregatorStore(ch, config.clickhouse.database, config.dedupHorizonHours);
  const kafka =
    deps.kafka ?? createKafka({ brokers: config.brokers, clientId: config.clientId, logger });
  const registry = deps.registry ?? createSchemaRegistry(config.registryUrl);

  let ops: OpsServer | undefined;
  if (config.opsPort !== undefined) {
    ops = await startOpsServer({
      port: config.opsPort,
      metrics: metrics.metrics,
      logger,
      ready: () => joined && !stopping,
    });
  }

  // ClickHouse may be down at start: wait for it rather than crash-loop.
  for (let delay = 200; ; delay = Math.min(delay * 2, 5000)) {
    try {
      await migrate(
        ch,
        'aggregator',
        MIGRATIONS,
        { database: config.clickhouse.database, topology: config.clickhouse.topology },
        logger,
      );
      break;
    } catch (err) {
      if (stopping) throw err;
      logger.warn({ err }, 'ClickHouse migration failed; retrying');
      await sleep(delay);
    }
  }
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopic(admin, {
      topic: config.topic,
      partitions: config.topicPartitions,
      replicationFactor: config.topicReplication,
    });
    // The topic may exist already, created by someone else with another partition count.
    await checkTopicPartitions(admin, config.topic, config.topicPartitions);
  } catch (err) {
    await ch.close();
    await ops?.close();
    throw err;
  } finally {
    await admin.disconnect();
  }

  const workerSettings = {
    graceMs: config.graceMs,
    idleMs: config.idleMs,
    fenceMs: config.fenceMs,
    instanceId,
    maxBackoffMs: 5000,
  };
  let stopDeadline = Number.POSITIVE_INFINITY;
  // eslint-disable-next-line prefer-const -- assigned once the consumer exists
  let consumer: Consumer;
  const pipeline = new InsertPipeline(
    store,
    metrics,
    logger,
    {
      maxRows: config.insertRows ?? 100_000,
      lingerMs: 100,
      maxPendingRows: 2 * (config.insertRows ?? 100_000),
    },
    (offsets) => consumer.commitOffsets(offsets.map((o) => ({ topic: config.topic, ...o }))),
    () => Date.now() < stopDeadline,
  );
  const worker = (p: number): PartitionWorker => {
    let w = workers.get(p);
    if (!w) {
      w = new PartitionWorker(
        p,
        store,
        workerSettings,
        metrics,
        logger.child({ partition: p }),
        (ctx) => pipeline.drain(ctx.heartbeat),
      );
      workers.set(p, w);
    }
    return w;
  };

  consumer = kafka.consumer({
    groupId: config.groupId,
    sessionTimeout: config.sessionTimeoutMs,
    rebalanceTimeout: Math.max(config.sessionTimeoutMs, 60_000),
    heartbeatInterval: Math.max(500, Math.floor(config.sessionTimeoutMs / 10)),
    // ~1 MB per partition per fetch keeps batches (and the memory they hold) bounded while
    // still making ClickHouse inserts of thousands of rows.
    maxBytesPerPartition: config.maxBytesPerPartition ?? 1024 * 1024,
    maxBytes: 10 * 1024 * 1024,
    maxWaitTimeInMs: 250,
  });
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    generation++;
    const mine = new Set(e.payload.memberAssignment[config.topic] ?? []);
    assigned.clear();
    for (const p of mine) assigned.add(p);
    // Every rebalance invalidates what we know; a partition we keep reloads cheaply (our claim is
    // still the latest, so no fence wait), one we lost is dropped.
    for (const [p, w] of workers) {
      w.invalidate();
      if (!mine.has(p)) workers.delete(p);
    }
    for (const p of mine) worker(p);
    joined = true;
    logger.info({ partitions: [...mine].sort((a, b) => a - b), generation }, 'partitions assigned');
  });
  consumer.on(consumer.events.CRASH, (e) => {
    logger.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
  });

  async function schemaType(id: number, ctx: WorkContext): Promise<Type | undefined> {
    const cached = types.get(id);
    if (cached) return cached;
    for (let delay = 200; ; delay = Math.min(delay * 2, 5000)) {
      try {
        const t = (await registry.getSchema(id)) as unknown as Type;
        if (typeof (t as { fromBuffer?: unknown }).fromBuffer !== 'function') return undefined;
        types.set(id, t);
        return t;
      } catch (err) {
        const e = toRegistryError(err, 'get schema');
        if (!isRetriable(e)) {
          logger.warn({ err: e, schemaId: id }, 'unknown schema id');
          return undefined;
        }
        logger.warn({ err: e, schemaId: id }, 'schema registry unavailable; retrying');
        if (!ctx.alive()) throw new BatchAborted('stopped while waiting for the schema registry');
        await sleep(delay);
        await ctx.heartbeat();
      }
    }
  }

  async function processBatch(
    w: PartitionWorker,
    payload: EachBatchPayload,
    ctx: WorkContext,
  ): Promise<void> {
    const { batch, resolveOffset } = payload;
    const p = batch.partition;
    await w.ensureLoaded(ctx);
    const now = clock();
    const nowSec = sec(Date.now());
    const rows = new RowBinaryWriter(256 * 1024);
    let count = 0;
    let pendingOffset: string | undefined;
    const rejects: Record<string, unknown>[] = [];

    const flush = async (): Promise<void> => {
      if (rejects.length > 0) {
        const batchRejects = rejects.slice();
        await w.retry('insert', ctx, () => store.insertRejects(batchRejects));
        rejects.length = 0;
      }
      if (pendingOffset !== undefined) {
        // The fetch position moves on now; the commit waits until the rows are durable.
        pipeline.add(p, w.token ?? '', rows.take(), count, pendingOffset);
        resolveOffset(pendingOffset);
      }
      count = 0;
      pendingOffset = undefined;
    };
    const reject = (m: KafkaMessage, reason: string): void => {
      metrics.rejected.inc({ reason });
      rejects.push({
        kafka_partition: p,
        kafka_offset: Number(m.offset),
        reason,
        message_key: m.key?.toString('utf8') ?? '',
        value_base64: m.value?.toString('base64') ?? '',
        ingested_at: nowSec,
      });
    };

    for (const m of batch.messages) {
      const value = m.value;
      let decoded: unknown;
      let typeName = '';
      if (!value || value.length < 5 || value[0] !== 0) {
        reject(m, 'not_wire_format');
      } else {
        const t = await schemaType(value.readInt32BE(1), ctx);
        if (!t) reject(m, 'unknown_schema');
        else {
          try {
            decoded = t.fromBuffer(value.subarray(5));
            typeName = t.name ?? '';
          } catch {
            reject(m, 'avro_decode');
          }
        }
      }
      if (decoded !== undefined) {
        const kind = header(m, KIND_HEADER);
        if (kind === 'freeze' || typeName === 'io.meterstream.FreezeCommand') {
          const cmd = decoded as FreezeCommandValue;
          // Everything before the command is written first: the command is ordered after that usage.
          await flush();
          if (
            typeof cmd.productCode === 'string' &&
            typeof cmd.customer === 'string' &&
            Number.isFinite(cmd.hour)
          ) {
            await w.earlyFreeze(cmd, ctx);
          } else {
            reject(m, 'invalid_freeze_command');
          }
          pendingOffset = m.offset;
          w.lastOffset = m.offset;
          continue;
        }
        const ev = decoded as UsageEventValue;
        const customer = ev.customerIdentifier ?? ev.customerAwsAccountId;
        const customerKind = ev.customerIdentifier != null ? 'identifier' : 'account';
        let product = ev.productCode;
        if (!product && ev.licenseArn)
          product = deps.catalog?.resolveProduct(ev.licenseArn)?.productCode ?? null;
        if (!product && m.key) {
          const k = m.key.toString('utf8');
          const bar = k.indexOf('|');
          if (bar > 0) product = k.slice(0, bar);
        }
        const micros = typeof ev.quantity === 'string' ? quantityToMicros(ev.quantity) : undefined;
        const ts = Number(ev.timestamp);
        if (
          !customer ||
          !product ||
          micros === undefined ||
          !Number.isFinite(ts) ||
          typeof ev.id !== 'string'
        ) {
          reject(m, 'invalid_event');
        } else if (ts > now + MAX_EVENT_AHEAD_MS) {
          // Usage cannot happen a day from now: the producer's clock or unit is wrong. Kept, its
          // hour would stay open (and unbilled) until that day, or for ever past 2106, where a
          // ClickHouse DateTime (u32 seconds) wraps.
          reject(m, 'timestamp_in_future');
        } else if (
          hourOf(ts) <
          w.placeHour(ts, product, customer, ev.dimension, isTooOldForAws(ts, now), now) -
            config.dedupHorizonHours * HOUR_MS
        ) {
          // The window of its billing hour scans identities back to that hour minus the horizon
          // only. A row with the same timestamp counted earlier lies before that scan, so this one
          // could be counted a second time: it is recorded here instead, never counted (ADR 0002).
          // (The watermark freeze below closes only hours before the event's own: same hour.)
          reject(m, 'beyond_dedup_horizon');
        } else {
          // A producer with a clock far ahead must not freeze everyone's hours early.
          if (ts > w.watermark && ts <= now + MAX_FUTURE_SKEW_MS) {
            w.watermark = ts;
            if (w.freezeDue(ts)) {
              await flush();
              await w.freezeThrough(w.dueHour(ts), ctx, 'watermark');
            }
          }
          const tooOld = isTooOldForAws(ts, now);
          const eh = hourOf(ts);
          const bh = w.billingHour(ts, product, customer, ev.dimension, tooOld, now);
          if (tooOld) metrics.lateEvents.inc({ kind: 'too_old' });
          else if (bh > eh) metrics.lateEvents.inc({ kind: 'carried' });
          // Column order: EVENT_COLUMNS.
          rows
            .string(ev.id)
            .string(product)
            .nullableString(ev.licenseArn)
            .string(customer)
            .string(customerKind)
            .string(ev.dimension)
            .string(ev.quantity)
            .i64(micros.length < 16 ? Number(micros) : micros)
            .u32(sec(ts))
            .i64(ts)
            .string(
              ev.allocations && ev.allocations.length > 0 ? JSON.stringify(ev.allocations) : '[]',
            )
            .string(ev.source ?? '')
            .nullableString(ev.actor)
            .string(JSON.stringify(ev.attributes ?? {}))
            .u32(p)
            .i64(Number(m.offset))
            .u32(sec(eh))
            .u32(sec(bh))
            .u8(tooOld ? 1 : 0)
            .u32(nowSec);
          count++;
        }
      }
      pendingOffset = m.offset;
      w.lastOffset = m.offset;
    }
    await flush();
    await pipeline.room(ctx.heartbeat);
    w.lastMessageAt = Date.now();
    const lag = Number(batch.highWatermark) - 1 - Number(w.lastOffset);
    metrics.consumerLag.set({ partition: String(p) }, Math.max(0, lag));
  }

  await consumer.connect();
  await consumer.subscribe({ topic: config.topic, fromBeginning: true });
  await consumer.run({
    eachBatchAutoResolve: false,
    // Offsets are committed by the insert pipeline, only after their rows are in ClickHouse.
    autoCommit: false,
    partitionsConsumedConcurrently: config.concurrency ?? 6,
    eachBatch: async (payload) => {
      const { batch, heartbeat, isRunning, isStale } = payload;
      if (batch.isEmpty() || stopping) return;
      activeBatches++;
      const w = worker(batch.partition);
      const gen = generation;
      const ctx: WorkContext = {
        alive: () => isRunning() && !isStale() && gen === generation,
        heartbeat,
      };
      try {
        await w.runExclusive(() => processBatch(w, payload, ctx));
      } catch (err) {
        w.invalidate();
        if (err instanceof BatchAborted) {
          logger.info(
            { partition: batch.partition, reason: err.message },
            'batch abandoned; it will be redelivered',
          );
          return;
        }
        // Never crash on a batch: the unresolved messages are fetched again after a pause.
        logger.error({ err, partition: batch.partition }, 'batch failed; it will be redelivered');
        await sleep(1000);
      } finally {
        activeBatches--;
      }
    },
  });

  // Which partitions have nothing left to read. Processing time may freeze a partition's hours
  // only then: with a backlog (after downtime, or while batches fail because ClickHouse is down)
  // freezing by the wall clock would carry the backlog's usage into later hours.
  const lagAdmin = kafka.admin();
  await lagAdmin.connect();
  const caughtUp = async (): Promise<Map<number, boolean>> => {
    const out = new Map<number, boolean>();
    const [high, committed] = await Promise.all([
      lagAdmin.fetchTopicOffsets(config.topic),
      lagAdmin.fetchOffsets({ groupId: config.groupId, topics: [config.topic] }),
    ]);
    const commits = new Map<number, bigint>();
    for (const t of committed) {
      for (const c of t.partitions) commits.set(c.partition, BigInt(c.offset));
    }
    for (const h of high) {
      const hw = BigInt(h.high);
      const low = BigInt(h.low);
      const w = workers.get(h.partition);
      const consumed = w && w.lastOffset !== '-1' ? BigInt(w.lastOffset) + 1n : -1n;
      const commit = commits.get(h.partition) ?? -1n;
      const position = consumed > commit ? consumed : commit;
      const done = position >= 0n ? position >= hw : hw === low;
      out.set(h.partition, done);
      if (assigned.has(h.partition)) {
        const lag = position >= 0n ? hw - position : hw - low;
        metrics.consumerLag.set({ partition: String(h.partition) }, Number(lag > 0n ? lag : 0n));
      }
    }
    return out;
  };

  // Processing-time fallback: an idle partition's hours are frozen by the wall clock.
  const tick = async (): Promise<void> => {
    const gen = generation;
    let idleOk: Map<number, boolean>;
    try {
      idleOk = await caughtUp();
    } catch (err) {
      logger.warn({ err }, 'cannot read partition offsets; no idle freeze this tick');
      return;
    }
    for (const p of [...assigned]) {
      const w = workers.get(p);
      if (!w || ticking.has(p) || stopping || idleOk.get(p) !== true) continue;
      ticking.add(p);
      const ctx: WorkContext = {
        alive: () => !stopping && gen === generation && assigned.has(p),
        heartbeat: async () => {},
      };
      try {
        await w.runExclusive(async () => {
          if (Date.now() - w.lastMessageAt < config.idleMs || !ctx.alive()) return;
          const now = clock();
          await w.ensureLoaded(ctx);
          if (w.freezeDue(now, true)) await w.freezeThrough(w.dueHour(now), ctx, 'idle');
        });
      } catch (err) {
        w.invalidate();
        if (!(err instanceof BatchAborted))
          logger.error({ err, partition: p }, 'idle freeze failed');
      } finally {
        ticking.delete(p);
      }
    }
  };
  let tickRunning: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (tickRunning) return;
    tickRunning = tick().finally(() => {
      tickRunning = undefined;
    });
  }, config.tickMs);

  let stopped: Promise<void> | undefined;
  return {
    metrics,
    opsPort: ops?.port,
    ready: () => joined && !stopping,
    stop: () =>
      (stopped ??= (async () => {
        // Graceful: stop fetching, let the running batches finish, make their rows durable and
        // commit them, then leave the group. A ClickHouse outage bounds this to 20 s (uncommitted
        // rows are replayed by the next owner).
        stopping = true;
        stopDeadline = Date.now() + 20_000;
        clearInterval(timer);
        consumer.pause([{ topic: config.topic }]);
        while (activeBatches > 0 && Date.now() < stopDeadline) await sleep(20);
        await tickRunning;
        await pipeline.drain();
        await lagAdmin.disconnect();
        await consumer.disconnect();
        await ch.close();
        await ops?.close();
        logger.info('aggregator stopped');
      })()),
  };
}

/** Start of the hour `ms` falls in, exported for callers building freeze commands. */
export const hourStart = hourOf;
export { HOUR_MS };
