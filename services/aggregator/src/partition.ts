import type { Logger } from '@meterstream/observability';
import { isRetriable, toMeterstreamError } from '@meterstream/errors';
import { retry, sleep } from '@meterstream/runtime';
import type { AggregatorStore } from './store.js';
import type { AggregatorMetrics } from './metrics.js';
import { HOUR_MS, hourOf } from './hours.js';
import type { FreezeCommandValue } from './wire.js';

/** Thrown to abandon a batch without committing: ownership lost, consumer stopping or stale. */
export class BatchAborted extends Error {
  constructor(reason: string) {
    super(`batch aborted: ${reason}`);
    this.name = 'BatchAborted';
  }
}

/** What a worker needs from the Kafka side while it works on a batch (or on an idle tick). */
export interface WorkContext {
  /** False once the batch must be abandoned (shutdown, rebalance, seek). */
  alive(): boolean;
  /** Keeps the group membership alive during long waits; may throw on rebalance. */
  heartbeat(): Promise<void>;
}

/** Settings a partition worker needs. */
export interface WorkerSettings {
  graceMs: number;
  idleMs: number;
  fenceMs: number;
  instanceId: string;
  /** Back-off ceiling for ClickHouse retries. */
  maxBackoffMs: number;
}

/** The (product, customer, dimension) an event is counted under. */
export interface UsageKey {
  productCode: string;
  customer: string;
  dimension: string;
}

/**
 * The state of one Kafka partition owned by this process: which hours are frozen (all hours
 * before `openFrom`, plus key-level early freezes), the event-time watermark and the ownership
 * claim. All of it is bounded (a few numbers plus the early freezes of open hours) and can be
 * rebuilt from ClickHouse, which is what a new owner does.
 */
export class PartitionWorker {
  token: string | undefined;
  private loaded = false;
  /** First hour (ms) still open for every key; undefined until the first freeze. */
  openFrom: number | undefined;
  /** Before the first freeze: the smallest billing hour written (from ClickHouse and since). */
  firstHour: number | undefined;
  watermark = Number.NEGATIVE_INFINITY;
  /** `${hour}|${product}|${customer}|${dimension or *}` of early-frozen keys of open hours. */
  private readonly early = new Set<string>();
  lastMessageAt = Date.now();
  lastOffset = '-1';
  private chain: Promise<unknown> = Promise.resolve();
  private claims = 0;

  constructor(
    readonly partition: number,
    private readonly store: AggregatorStore,
    private readonly settings: WorkerSettings,
    private readonly metrics: AggregatorMetrics,
    private readonly logger: Logger,
    /** Makes every row this process has produced durable (the insert pipeline's drain). */
    private readonly drain: (ctx: WorkContext) => Promise<void> = async () => {},
  ) {}

  /** Runs `fn` after every earlier piece of work on this partition (batches and idle ticks). */
  runExclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Forgets the in-memory state; the next piece of work reloads it from ClickHouse. */
  invalidate(): void {
    this.loaded = false;
    this.watermark = Number.NEGATIVE_INFINITY;
  }

  get isLoaded(): boolean {
    return this.loaded;
  }

  /**
   * Retries a ClickHouse operation with exponential back-off for as long as the batch is alive
   * (ClickHouse down means waiting, never dropping or committing past unwritten events).
   */
  async retry<T>(op: string, ctx: WorkContext, fn: () => Promise<T>): Promise<T> {
    const stopped = (): BatchAborted => new BatchAborted(`${op} failed while stopping`);
    return retry(fn, {
      attempts: Number.POSITIVE_INFINITY,
      baseMs: 100,
      maxMs: this.settings.maxBackoffMs,
      jitter: 0,
      retriable: () => true,
      onRetry: (err, attempt) => {
        const e = toMeterstreamError(err);
        this.metrics.clickhouseFailures.inc({ op });
        if (attempt === 0 || (attempt + 1) % 20 === 0) {
          this.logger.warn(
            {
              err: e,
              op,
              attempt: attempt + 1,
              partition: this.partition,
              retriable: isRetriable(e),
            },
            'ClickHouse operation failed; retrying',
          );
        }
        if (!ctx.alive()) throw stopped();
      },
      sleep: async (ms) => {
        await sleep(ms);
        try {
          await ctx.heartbeat();
        } catch {
          throw new BatchAborted('rebalance during ClickHouse retry');
        }
        if (!ctx.alive()) throw stopped();
      },
    });
  }

  /** Throws {@link BatchAborted} unless this process still holds the latest claim on the partition. */
  async ensureOwner(ctx: WorkContext): Promise<void> {
    const owner = await this.retry('owner', ctx, () => this.store.currentOwner(this.partition));
    if (owner !== this.token) {
      this.loaded = false;
      this.token = undefined;
      throw new BatchAborted(`partition ${this.partition} is owned by another instance`);
    }
  }

  /**
   * Makes sure this process owns the partition and knows its frozen hours. A process that did not
   * hold the latest claim claims it and then waits `fenceMs` before reading any state, so a
   * previous owner's last in-flight write has landed (or timed out) first.
   */
  async ensureLoaded(ctx: WorkContext): Promise<void> {
    if (this.loaded) return;
    // Rows still in our own insert pipeline would be invisible to the state we are about to read.
    await this.drain(ctx);
    const owner = await this.retry('owner', ctx, () => this.store.currentOwner(this.partition));
    if (owner === undefined || owner !== this.token) {
      this.token = `${this.settings.instanceId}:${++this.claims}`;
      await this.retry('claim', ctx, () => this.store.claim(this.partition, this.token ?? ''));
      const until = Date.now() + this.settings.fenceMs;
      while (Date.now() < until) {
        await sleep(Math.min(1000, until - Date.now()));
        await ctx.heartbeat();
        if (!ctx.alive()) throw new BatchAborted('stopped while fencing');
      }
      await this.ensureOwner(ctx);
    }
    await this.restore(ctx);
    this.loaded = true;
    this.lastMessageAt = Date.now();
  }

  private async restore(ctx: WorkContext): Promise<void> {
    const p = this.partition;
    const lastFrozen = await this.retry('restore', ctx, () => this.store.lastFrozenHour(p));
    this.openFrom = lastFrozen === undefined ? undefined : lastFrozen + HOUR_MS;
    this.firstHour =
      this.openFrom === undefined
        ? await this.retry('restore', ctx, () => this.store.firstBillingHour(p))
        : undefined;
    this.watermark = Number.NEGATIVE_INFINITY;
    this.early.clear();
    // A crash between writing an hour's windows and recording the freeze: finish that freeze. The
    // insert-select skips keys that already have windows, so nothing is computed twice.
    const lastWindows = await this.retry('restore', ctx, () => this.store.lastWindowHour(p));
    if (
      lastWindows !== undefined &&
      (this.openFrom === undefined || lastWindows >= this.openFrom)
    ) {
      this.logger.warn(
        { partition: p, hour: new Date(lastWindows).toISOString() },
        'repairing an unrecorded freeze',
      );
      await this.freezeThrough(lastWindows, ctx, 'repair');
    }
    const early = await this.retry('restore', ctx, () =>
      this.store.earlyFreezes(p, this.openFrom ?? 0),
    );
    for (const e of early) {
      this.early.add(`${e.h}|${e.product_code}|${e.customer}|${e.early_all ? '*' : e.dimension}`);
    }
    this.logger.info(
      {
        partition: p,
        openFrom: this.openFrom === undefined ? null : new Date(this.openFrom).toISOString(),
        early: this.early.size,
      },
      'partition state restored',
    );
  }

  /**
   * The hour an event is billed in: its own hour, or the first hour after it that is still open
   * for its key. Too-old events are carried at least to the current hour (AWS would reject them
   * in their own), flagged, never dropped.
   */
  billingHour(eventMs: number, key: UsageKey, tooOld: boolean, nowMs: number): number {
    const bh = this.placeHour(eventMs, key, tooOld, nowMs);
    if (this.openFrom === undefined && (this.firstHour === undefined || bh < this.firstHour))
      this.firstHour = bh;
    return bh;
  }

  /** The hour {@link billingHour} would assign, without noting it (for an event not yet accepted). */
  placeHour(eventMs: number, key: UsageKey, tooOld: boolean, nowMs: number): number {
    let bh = hourOf(eventMs);
    if (this.openFrom !== undefined && bh < this.openFrom) bh = this.openFrom;
    if (tooOld) bh = Math.max(bh, hourOf(nowMs));
    if (this.early.size > 0) {
      const k = `|${key.productCode}|${key.customer}|`;
      while (this.early.has(`${bh}${k}*`) || this.early.has(`${bh}${k}${key.dimension}`))
        bh += HOUR_MS;
    }
    return bh;
  }

  /** The last hour that event time (or processing time, for an idle partition) allows freezing. */
  dueHour(watermarkMs: number): number {
    return hourOf(watermarkMs - this.settings.graceMs - HOUR_MS);
  }

  /** Whether the watermark allows freezing an hour that is still open. */
  freezeDue(watermarkMs: number, idle = false): boolean {
    if (!Number.isFinite(watermarkMs)) return false;
    const first = this.openFrom ?? this.firstHour;
    // An idle partition that never saw an event still records its hours as frozen.
    if (first === undefined) return idle;
    return this.dueHour(watermarkMs) >= first;
  }

  /**
   * Freezes every open hour up to `dueMs` for every key of the partition. Order matters:
   * (1) stop assigning those hours (in memory; every earlier row is already in ClickHouse),
   * (2) compute each hour's windows with one insert-select, (3) record the freezes.
   */
  async freezeThrough(
    dueMs: number,
    ctx: WorkContext,
    reason: 'watermark' | 'idle' | 'repair',
  ): Promise<void> {
    const p = this.partition;
    const start = this.openFrom ?? this.firstHour ?? dueMs;
    if (start > dueMs) return;
    // Every row billed in these hours must be in ClickHouse before their windows are computed.
    await this.drain(ctx);
    this.openFrom = dueMs + HOUR_MS;
    this.firstHour = undefined;
    const withData = await this.retry('freeze', ctx, () =>
      this.store.billingHours(p, start, dueMs),
    );
    for (const h of withData) {
      await this.ensureOwner(ctx);
      const end = this.metrics.clickhouseInsertSeconds.startTimer({ table: 'usage_windows' });
      await this.retry('freeze', ctx, () =>
        this.store.freezeWindows({ partition: p, hourMs: h, kind: 'watermark' }),
      );
      end();
      const stats = await this.retry('freeze', ctx, () =>
        this.store.windowStats(p, h, 'watermark'),
      );
      if (reason !== 'repair') {
        this.metrics.windowsFrozen.inc({ kind: 'watermark' }, stats.windows);
        this.metrics.dedupHits.inc(stats.duplicates);
      }
    }
    const hours: number[] = [];
    for (let h = start; h <= dueMs; h += HOUR_MS) hours.push(h);
    await this.ensureOwner(ctx);
    const wm = Number.isFinite(this.watermark) ? this.watermark : Date.now();
    await this.retry('freeze', ctx, () =>
      this.store.recordFreezes(p, hours, wm, this.lastOffset, this.token ?? ''),
    );
    this.metrics.hoursFrozen.inc({ reason }, hours.length);
    for (const k of this.early) {
      if (Number(k.slice(0, k.indexOf('|'))) < this.openFrom) this.early.delete(k);
    }
    this.logger.info(
      {
        partition: p,
        from: new Date(start).toISOString(),
        through: new Date(dueMs).toISOString(),
        hours: hours.length,
        reason,
      },
      'hours frozen',
    );
  }

  /** Freezes one hour of one key early (console "submit now"); later usage of it is carried. */
  async earlyFreeze(cmd: FreezeCommandValue, ctx: WorkContext): Promise<void> {
    const h = hourOf(cmd.hour);
    if (this.openFrom !== undefined && h < this.openFrom) {
      this.logger.info(
        { partition: this.partition, requestId: cmd.requestId },
        'freeze command for an hour already frozen',
      );
      return;
    }
    await this.drain(ctx);
    const dims = cmd.dimensions.length === 0 ? ['*'] : cmd.dimensions;
    for (const d of dims) this.early.add(`${h}|${cmd.productCode}|${cmd.customer}|${d}`);
    await this.ensureOwner(ctx);
    await this.retry('early-freeze', ctx, () =>
      this.store.freezeWindows({
        partition: this.partition,
        hourMs: h,
        kind: 'early',
        productCode: cmd.productCode,
        customer: cmd.customer,
        dimensions: cmd.dimensions,
        requestId: cmd.requestId,
      }),
    );
    this.metrics.freezeCommands.inc();

    this.logger.info(
      { partition: this.partition, requestId: cmd.requestId, hour: new Date(h).toISOString() },
      'key frozen early',
    );
  }
}
