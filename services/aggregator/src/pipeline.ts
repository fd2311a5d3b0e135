import { toMeterstreamError } from '@meterstream/errors';
import type { Logger } from '@meterstream/observability';
import { retry, sleep } from '@meterstream/runtime';
import type { AggregatorMetrics } from './metrics.js';
import type { AggregatorStore } from './store.js';

/** Rows of one partition waiting for the next insert. */
interface PartitionRows {
  partition: number;
  chunks: Buffer[];
  count: number;
  /** Last Kafka offset the rows cover (committed as offset + 1 once they are durable). */
  lastOffset: string;
  /** The ownership claim the rows were produced under. */
  token: string;
}

/** Settings of {@link InsertPipeline}. */
export interface PipelineSettings {
  /** Seal and insert once this many rows are buffered. */
  maxRows: number;
  /** Insert what is buffered after this long even when it is small. */
  lingerMs: number;
  /** Back-pressure: batches wait while more rows than this are buffered or in flight. */
  maxPendingRows: number;
}

/**
 * Group commit of raw events: rows of every partition are gathered into one large insert (a
 * ClickHouse part costs the same for 5 000 rows as for 50 000), one insert in flight while the next
 * fills. Offsets are committed to Kafka only after the insert holding their rows succeeded, so a
 * crash anywhere replays rows (harmless: counting is by event identity) and never skips one.
 * Before an insert, the ownership claims are checked: rows of a partition this process no longer
 * owns are dropped uncommitted (the new owner replays them).
 */
export class InsertPipeline {
  private buffer = new Map<string, PartitionRows>();
  private buffered = 0;
  private pending = 0;
  private writing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: AggregatorStore,
    private readonly metrics: AggregatorMetrics,
    private readonly logger: Logger,
    private readonly settings: PipelineSettings,
    private readonly commit: (offsets: { partition: number; offset: string }[]) => Promise<void>,
    /** False once the process is stopping for good: failed inserts then stop retrying. */
    private readonly keepTrying: () => boolean,
  ) {}

  /** Rows buffered or being inserted. */
  get pendingRows(): number {
    return this.pending;
  }

  /** Adds RowBinary rows of one partition covering offsets up to `lastOffset`. */
  add(partition: number, token: string, rows: Buffer, count: number, lastOffset: string): void {
    const key = `${partition}|${token}`;
    let entry = this.buffer.get(key);
    if (!entry) {
      entry = { partition, chunks: [], count: 0, lastOffset, token };
      this.buffer.set(key, entry);
    }
    if (count > 0) entry.chunks.push(rows);
    entry.count += count;
    entry.lastOffset = lastOffset;
    this.buffered += count;
    this.pending += count;
    if (this.buffered >= this.settings.maxRows) this.seal();
    else this.timer ??= setTimeout(() => this.seal(), this.settings.lingerMs);
  }

  /**
   * Starts inserting what is buffered. While an insert is in flight the buffer keeps growing and
   * goes out as one insert when it returns: slow ClickHouse → fewer, larger inserts.
   */
  seal(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing || this.buffer.size === 0) return;
    this.writing = (async () => {
      while (this.buffer.size > 0) {
        const parts = this.buffer;
        this.buffer = new Map();
        this.buffered = 0;
        await this.write(parts);
      }
    })().finally(() => {
      this.writing = undefined;
      if (this.buffer.size > 0) this.seal();
    });
  }

  /** Inserts everything buffered and waits until it is durable and committed (heartbeating). */
  async drain(heartbeat?: () => Promise<void>): Promise<void> {
    this.seal();
    while (this.writing || this.buffer.size > 0) {
      if (!this.writing) this.seal();
      const w = this.writing ?? Promise.resolve();
      await Promise.race([w, sleep(1000)]);
      if (heartbeat) await heartbeat();
    }
  }

  /** Waits (heartbeating) while too many rows are pending, so memory stays bounded. */
  async room(heartbeat: () => Promise<void>): Promise<void> {
    while (this.pending > this.settings.maxPendingRows) {
      this.seal();
      await Promise.race([this.writing ?? sleep(10), sleep(1000)]);
      await heartbeat();
    }
  }

  private async write(parts: Map<string, PartitionRows>): Promise<void> {
    let total = 0;
    for (const e of parts.values()) total += e.count;
    try {
      const owners = await this.retry('owner', () => this.store.owners());
      const keep: [number, PartitionRows][] = [];
      for (const e of parts.values()) {
        if (owners.get(e.partition) === e.token) keep.push([e.partition, e]);
        else
          this.logger.warn(
            { partition: e.partition, rows: e.count },
            'partition owned by another instance; rows dropped uncommitted',
          );
      }
      const body = Buffer.concat(keep.flatMap(([, e]) => e.chunks));
      if (body.length > 0) {
        const end = this.metrics.clickhouseInsertSeconds.startTimer({ table: 'usage_events' });
        await this.retry('insert', () => this.store.insertEvents(body));
        end();
      }
      let rows = 0;
      for (const [, e] of keep) rows += e.count;
      this.metrics.events.inc(rows);
      await this.commit(
        keep.map(([partition, e]) => ({
          partition,
          offset: (BigInt(e.lastOffset) + 1n).toString(),
        })),
      ).catch((err: unknown) =>
        this.logger.warn({ err }, 'offset commit failed; the rows will be replayed'),
      );
    } catch (err) {
      // Only when stopping: nothing was committed, so the next owner replays these rows.
      this.logger.warn(
        { err, rows: total },
        'insert abandoned while stopping; rows will be replayed',
      );
    } finally {
      this.pending -= total;
    }
  }

  /** Retries a ClickHouse write with back-off until it succeeds or the process stops for good. */
  private retry<T>(op: string, fn: () => Promise<T>): Promise<T> {
    return retry(fn, {
      attempts: Number.POSITIVE_INFINITY,
      baseMs: 100,
      maxMs: 5000,
      jitter: 0,
      retriable: () => true,
      onRetry: (err, attempt) => {
        this.metrics.clickhouseFailures.inc({ op });
        if (attempt === 0 || (attempt + 1) % 20 === 0) {
          this.logger.warn(
            { err: toMeterstreamError(err), op, attempt: attempt + 1 },
            'ClickHouse write failed; retrying',
          );
        }
        if (!this.keepTrying()) throw err;
      },
    });
  }
}
