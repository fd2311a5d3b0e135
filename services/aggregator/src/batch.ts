import type { BatchContext, ConsumedMessage } from '@meterstream/kafka';
import { DAY_MS, MINUTE_MS } from '@meterstream/runtime';
import type { ProductResolver } from './config.js';
import type { SchemaCache } from './decode.js';
import { HOUR_MS, hourOf, isTooOldForAws, sec } from './hours.js';
import type { AggregatorMetrics } from './metrics.js';
import type { PartitionWorker, UsageKey, WorkContext } from './partition.js';
import type { InsertPipeline } from './pipeline.js';
import { RowBinaryWriter } from './rowbinary.js';
import type { AggregatorStore } from './store.js';
import { quantityToMicros, type FreezeCommandValue, type UsageEventValue } from './wire.js';

/** Events further in the future than this do not move the watermark. */
const MAX_FUTURE_SKEW_MS = 5 * MINUTE_MS;

/** Events further in the future than this are rejected (`usage_rejects`), never billed. */
const MAX_EVENT_AHEAD_MS = DAY_MS;

/** What processing a batch needs from the rest of the aggregator. */
export interface BatchDeps {
  store: AggregatorStore;
  pipeline: InsertPipeline;
  metrics: AggregatorMetrics;
  schemas: SchemaCache;
  catalog: ProductResolver | undefined;
  /** The processing-time clock (too-old checks, future-skew cap). */
  clock: () => number;
  dedupHorizonHours: number;
}

/** A usage event that has everything it needs to be counted. */
interface Usage {
  ev: UsageEventValue;
  key: UsageKey;
  customerKind: 'identifier' | 'account';
  micros: string;
  ts: number;
}

/** The rows and rejects of one batch not yet handed on, and the offset they reach. */
class BatchOutput {
  readonly rows = new RowBinaryWriter(256 * 1024);
  /** Now, in seconds, as `ingested_at` of the batch's rows and rejects. */
  readonly nowSec = sec(Date.now());
  private count = 0;
  private pendingOffset: string | undefined;
  private readonly rejects: Record<string, unknown>[] = [];

  constructor(
    private readonly deps: BatchDeps,
    private readonly w: PartitionWorker,
    private readonly ctx: WorkContext,
    private readonly resolveOffset: (offset: string) => void,
  ) {}

  /** Keeps a message that cannot be counted in `usage_rejects`, with its reason. */
  reject(m: ConsumedMessage, reason: string): void {
    this.deps.metrics.rejected.inc({ reason });
    this.rejects.push({
      kafka_partition: this.w.partition,
      kafka_offset: Number(m.offset),
      reason,
      message_key: m.key?.toString('utf8') ?? '',
      value_base64: m.value?.toString('base64') ?? '',
      ingested_at: this.nowSec,
    });
  }

  /** One more row was written to {@link rows}. */
  counted(): void {
    this.count++;
  }

  /** The message at `offset` is handled (counted, rejected or applied). */
  advance(offset: string): void {
    this.pendingOffset = offset;
    this.w.lastOffset = offset;
  }

  /** Writes the rejects, hands the rows to the insert pipeline and moves the fetch position. */
  async flush(): Promise<void> {
    if (this.rejects.length > 0) {
      const batchRejects = this.rejects.slice();
      await this.w.retry('insert', this.ctx, () => this.deps.store.insertRejects(batchRejects));
      this.rejects.length = 0;
    }
    if (this.pendingOffset !== undefined) {
      // The fetch position moves on now; the commit waits until the rows are durable.
      const { partition, token } = this.w;
      this.deps.pipeline.add(
        partition,
        token ?? '',
        this.rows.take(),
        this.count,
        this.pendingOffset,
      );
      this.resolveOffset(this.pendingOffset);
    }
    this.count = 0;
    this.pendingOffset = undefined;
  }
}

/**
 * Processes one Kafka batch of a partition: decodes each message, keeps the usage events as raw
 * rows (through the insert pipeline), applies freeze commands in order, freezes hours the
 * watermark passes and rejects what cannot be counted. Runs exclusively on the partition's worker.
 */
export async function processBatch(
  deps: BatchDeps,
  w: PartitionWorker,
  { batch, resolveOffset }: BatchContext,
  ctx: WorkContext,
): Promise<void> {
  await w.ensureLoaded(ctx);
  const now = deps.clock();
  const out = new BatchOutput(deps, w, ctx, resolveOffset);
  for (const m of batch.messages) {
    const d = await deps.schemas.decode(m, ctx);
    if (d.kind === 'reject') out.reject(m, d.reason);
    else if (d.kind === 'freeze') await applyFreeze(w, out, m, d.value, ctx);
    else await acceptUsage(deps, w, out, m, d.value as UsageEventValue, now, ctx);
    out.advance(m.offset);
  }
  await out.flush();
  await deps.pipeline.room(ctx.heartbeat);
  w.lastMessageAt = Date.now();
  const lag = Number(batch.highWatermark) - 1 - Number(w.lastOffset);
  deps.metrics.consumerLag.set({ partition: String(batch.partition) }, Math.max(0, lag));
}

async function applyFreeze(
  w: PartitionWorker,
  out: BatchOutput,
  m: ConsumedMessage,
  cmd: FreezeCommandValue,
  ctx: WorkContext,
): Promise<void> {
  // Everything before the command is written first: the command is ordered after that usage.
  await out.flush();
  if (
    typeof cmd.productCode === 'string' &&
    typeof cmd.customer === 'string' &&
    Number.isFinite(cmd.hour)
  ) {
    await w.earlyFreeze(cmd, ctx);
  } else {
    out.reject(m, 'invalid_freeze_command');
  }
}

/** The event with its key and exact quantity; undefined when something it needs is missing. */
function readUsage(
  ev: UsageEventValue,
  m: ConsumedMessage,
  catalog: ProductResolver | undefined,
): Usage | undefined {
  const customer = ev.customerIdentifier ?? ev.customerAwsAccountId;
  let product = ev.productCode;
  if (!product && ev.licenseArn)
    product = catalog?.resolveProduct(ev.licenseArn)?.productCode ?? null;
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
  )
    return undefined;
  return {
    ev,
    key: { productCode: product, customer, dimension: ev.dimension },
    customerKind: ev.customerIdentifier != null ? 'identifier' : 'account',
    micros,
    ts,
  };
}

async function acceptUsage(
  deps: BatchDeps,
  w: PartitionWorker,
  out: BatchOutput,
  m: ConsumedMessage,
  value: UsageEventValue,
  now: number,
  ctx: WorkContext,
): Promise<void> {
  const u = readUsage(value, m, deps.catalog);
  if (!u) return out.reject(m, 'invalid_event');
  const { ts, key } = u;
  if (ts > now + MAX_EVENT_AHEAD_MS) {
    // Usage cannot happen a day from now: the producer's clock or unit is wrong. Kept, its hour
    // would stay open (and unbilled) until that day, or for ever past 2106, where a ClickHouse
    // DateTime (u32 seconds) wraps.
    return out.reject(m, 'timestamp_in_future');
  }
  const tooOld = isTooOldForAws(ts, now);
  if (hourOf(ts) < w.placeHour(ts, key, tooOld, now) - deps.dedupHorizonHours * HOUR_MS) {
    // The window of its billing hour scans identities back to that hour minus the horizon only.
    // A row with the same timestamp counted earlier lies before that scan, so this one could be
    // counted a second time: it is recorded here instead, never counted (ADR 0002). (The
    // watermark freeze below closes only hours before the event's own: same hour.)
    return out.reject(m, 'beyond_dedup_horizon');
  }
  // A producer with a clock far ahead must not freeze everyone's hours early.
  if (ts > w.watermark && ts <= now + MAX_FUTURE_SKEW_MS) {
    w.watermark = ts;
    if (w.freezeDue(ts)) {
      await out.flush();
      await w.freezeThrough(w.dueHour(ts), ctx, 'watermark');
    }
  }
  const eh = hourOf(ts);
  const bh = w.billingHour(ts, key, tooOld, now);
  if (tooOld) deps.metrics.lateEvents.inc({ kind: 'too_old' });
  else if (bh > eh) deps.metrics.lateEvents.inc({ kind: 'carried' });
  writeEventRow(out, u, w.partition, m.offset, { eh, bh, tooOld });
  out.counted();
}

/** Appends one `usage_events` row in RowBinary, columns in the order of USAGE_EVENT_COLUMNS (@meterstream/contracts). */
function writeEventRow(
  out: BatchOutput,
  u: Usage,
  partition: number,
  offset: string,
  hours: { eh: number; bh: number; tooOld: boolean },
): void {
  const { ev, key, micros } = u;
  out.rows
    .string(ev.id)
    .string(key.productCode)
    .nullableString(ev.licenseArn)
    .string(key.customer)
    .string(u.customerKind)
    .string(ev.dimension)
    .string(ev.quantity)
    .i64(micros.length < 16 ? Number(micros) : micros)
    .u32(sec(u.ts))
    .i64(u.ts)
    .string(ev.allocations && ev.allocations.length > 0 ? JSON.stringify(ev.allocations) : '[]')
    .string(ev.source ?? '')
    .nullableString(ev.actor)
    .string(JSON.stringify(ev.attributes ?? {}))
    .u32(partition)
    .i64(Number(offset))
    .u32(sec(hours.eh))
    .u32(sec(hours.bh))
    .u8(hours.tooOld ? 1 : 0)
    .u32(out.nowSec);
}
