import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import {
  ClickHouse,
  allowIdentifiers,
  sql,
  toClickHouseError,
  type SqlFragment,
} from '@meterstream/clickhouse';
import { USAGE_EVENT_COLUMNS } from '@meterstream/contracts';
import { TABLES } from './migrations.js';
import { HOUR_MS, sec } from './hours.js';

/** One `usage_windows` insert-select's scope. */
export interface FreezeScope {
  partition: number;
  hourMs: number;
  kind: 'watermark' | 'early';
  /** Early freezes only: the key and dimensions (empty = all). */
  productCode?: string;
  customer?: string;
  dimensions?: readonly string[];
  requestId?: string;
}

/**
 * Every ClickHouse statement of the aggregator. Values reach SQL only through `sql` literals;
 * names through the allow-list.
 */
export class AggregatorStore {
  private readonly t: Record<keyof typeof TABLES, SqlFragment>;
  private readonly eventsInsert: string;

  constructor(
    readonly ch: ClickHouse,
    readonly database: string,
    private readonly dedupHorizonHours: number,
  ) {
    allowIdentifiers(database);
    this.t = {
      events: TABLES.events.in(database),
      windows: TABLES.windows.in(database),
      freezes: TABLES.freezes.in(database),
      owners: TABLES.owners.in(database),
      rejects: TABLES.rejects.in(database),
    };
    this.eventsInsert = `INSERT INTO ${this.t.events.text} (${USAGE_EVENT_COLUMNS.join(', ')}) FORMAT RowBinary`;
  }

  /** Inserts RowBinary rows of `usage_events` (see USAGE_EVENT_COLUMNS) in one request (one block). */
  async insertEvents(rows: Buffer): Promise<void> {
    if (rows.length === 0) return;
    try {
      const res = await this.ch.client.exec({
        query: this.eventsInsert,
        values: Readable.from([rows]),
      });
      res.stream.resume();
      await finished(res.stream);
    } catch (err) {
      throw toClickHouseError(err, 'insert');
    }
  }

  async insertRejects(rows: Record<string, unknown>[]): Promise<void> {
    await this.ch.insert(this.t.rejects, rows);
  }

  /** Appends an ownership claim for `partition` with the next sequence number; returns nothing. */
  async claim(partition: number, owner: string): Promise<void> {
    await this.ch.command(sql`INSERT INTO ${this.t.owners} (kafka_partition, seq, owner, claimed_at)
      SELECT ${partition}, (SELECT max(seq) FROM ${this.t.owners} WHERE kafka_partition = ${partition}) + 1, ${owner}, now()`);
  }

  /** The latest claimant of `partition` (undefined when nobody ever claimed it). */
  async currentOwner(partition: number): Promise<string | undefined> {
    const rows = await this.ch.query<{ owner: string }>(
      sql`SELECT owner FROM ${this.t.owners} WHERE kafka_partition = ${partition} ORDER BY seq DESC, owner DESC LIMIT 1`,
    );
    return rows[0]?.owner;
  }

  /** The latest claimant of every claimed partition. */
  async owners(): Promise<Map<number, string>> {
    const rows = await this.ch.query<{ p: number; owner: string }>(
      sql`SELECT kafka_partition AS p, argMax(owner, (seq, owner)) AS owner FROM ${this.t.owners} GROUP BY kafka_partition`,
    );
    return new Map(rows.map((r) => [Number(r.p), r.owner]));
  }

  /** Latest hour recorded in `window_freezes` for the partition (ms), if any. */
  async lastFrozenHour(partition: number): Promise<number | undefined> {
    return this.maxHour(
      sql`SELECT toUInt32(max(hour)) AS h, count() AS n FROM ${this.t.freezes} WHERE kafka_partition = ${partition}`,
    );
  }

  /** Latest hour with watermark windows for the partition (ms), if any. */
  async lastWindowHour(partition: number): Promise<number | undefined> {
    return this.maxHour(
      sql`SELECT toUInt32(max(hour)) AS h, count() AS n FROM ${this.t.windows} WHERE kafka_partition = ${partition} AND freeze_kind = 'watermark'`,
    );
  }

  /** Smallest billing hour of any row of the partition (ms), if any. */
  async firstBillingHour(partition: number): Promise<number | undefined> {
    return this.maxHour(
      sql`SELECT toUInt32(min(billing_hour)) AS h, count() AS n FROM ${this.t.events} WHERE kafka_partition = ${partition}`,
    );
  }

  private async maxHour(q: SqlFragment): Promise<number | undefined> {
    const rows = await this.ch.query<{ h: number | string; n: number | string }>(q);
    const r = rows[0];
    if (!r || Number(r.n) === 0) return undefined;
    return Number(r.h) * 1000;
  }

  /** Distinct billing hours (ms, ascending) with rows on the partition in [from, to]. */
  async billingHours(partition: number, fromMs: number, toMs: number): Promise<number[]> {
    const rows = await this.ch.query<{ h: number | string }>(
      sql`SELECT DISTINCT toUInt32(billing_hour) AS h FROM ${this.t.events}
          WHERE kafka_partition = ${partition} AND billing_hour >= toDateTime(${sec(fromMs)}) AND billing_hour <= toDateTime(${sec(toMs)})
          ORDER BY h`,
    );
    return rows.map((r) => Number(r.h) * 1000);
  }

  /** Key-level early freezes of open hours (hour ≥ fromMs) on the partition. */
  async earlyFreezes(
    partition: number,
    fromMs: number,
  ): Promise<
    { h: number; product_code: string; customer: string; dimension: string; early_all: number }[]
  > {
    const rows = await this.ch.query<{
      h: number | string;
      product_code: string;
      customer: string;
      dimension: string;
      early_all: number | string;
    }>(
      sql`SELECT toUInt32(hour) AS h, product_code, customer, dimension, early_all FROM ${this.t.windows}
          WHERE kafka_partition = ${partition} AND freeze_kind = 'early' AND hour >= toDateTime(${sec(fromMs)})`,
    );
    return rows.map((r) => ({ ...r, h: Number(r.h) * 1000, early_all: Number(r.early_all) }));
  }

  /**
   * Computes the windows of one hour of one partition (or of one key, for an early freeze) from the
   * raw events in one INSERT … SELECT. An identity (product, customer, id) counts once, in the
   * smallest billing_hour of its rows, with the dimension and quantity of its first row (lowest
   * offset). Keys that already have a window for the hour are excluded, so re-running after a
   * crash adds nothing and a partial run is completed, never doubled.
   */
  async freezeWindows(s: FreezeScope): Promise<void> {
    const h = sec(s.hourMs);
    const from = sec(s.hourMs - this.dedupHorizonHours * HOUR_MS);
    const keyFilter =
      s.kind === 'early'
        ? sql` AND product_code = ${s.productCode ?? ''} AND customer = ${s.customer ?? ''}`
        : sql``;
    const dimFilter =
      s.kind === 'early' && s.dimensions && s.dimensions.length > 0
        ? sql` AND has(${s.dimensions}, dim)`
        : sql``;
    const earlyAll = s.kind === 'early' && (!s.dimensions || s.dimensions.length === 0) ? 1 : 0;
    await this.ch.command(sql`INSERT INTO ${this.t.windows}
      (product_code, customer, customer_kind, dimension, hour, quantity_micros, event_count,
       late_quantity_micros, late_event_count, too_old_event_count, duplicate_count,
       first_event_at, last_event_at, frozen_at, freeze_kind, kafka_partition, request_id, early_all)
      SELECT product_code, customer, any(ck), dim, toDateTime(${h}), sum(q), count(),
        sumIf(q, eh < toDateTime(${h})), countIf(eh < toDateTime(${h})), sum(old), sum(sends - 1),
        min(et), max(et), now(), ${s.kind}, ${s.partition}, ${s.requestId ?? ''}, ${earlyAll}
      FROM (
        SELECT product_code, customer, id, min(billing_hour) AS bh,
          argMin(dimension, kafka_offset) AS dim, argMin(quantity_micros, kafka_offset) AS q,
          argMin(customer_kind, kafka_offset) AS ck, argMin(event_hour, kafka_offset) AS eh,
          argMin(event_time, kafka_offset) AS et, argMin(too_old, kafka_offset) AS old,
          uniqExact(kafka_offset) AS sends
        FROM ${this.t.events}
        WHERE kafka_partition = ${s.partition}
          AND billing_hour >= toDateTime(${from}) AND billing_hour <= toDateTime(${h})${keyFilter}
        GROUP BY product_code, customer, id
        HAVING bh = toDateTime(${h})
      )
      WHERE (product_code, customer, dim) NOT IN (
        SELECT product_code, customer, dimension FROM ${this.t.windows}
        WHERE kafka_partition = ${s.partition} AND hour = toDateTime(${h})
      )${dimFilter}
      GROUP BY product_code, customer, dim`);
  }

  /**
   * Windows of one hour of a partition, and its duplicates: messages billed in that hour that did
   * not count (their identity was counted in this hour or an earlier one).
   */
  async windowStats(
    partition: number,
    hourMs: number,
    kind: string,
  ): Promise<{ windows: number; duplicates: number }> {
    const h = sec(hourMs);
    const rows = await this.ch.query<{ n: string | number; d: string | number }>(
      sql`SELECT
            (SELECT count() FROM ${this.t.windows} WHERE kafka_partition = ${partition} AND hour = toDateTime(${h}) AND freeze_kind = ${kind}) AS n,
            (SELECT uniqExact(kafka_offset) FROM ${this.t.events} WHERE kafka_partition = ${partition} AND billing_hour = toDateTime(${h}))
            - (SELECT sum(event_count) FROM ${this.t.windows} WHERE kafka_partition = ${partition} AND hour = toDateTime(${h})) AS d`,
    );
    return { windows: Number(rows[0]?.n ?? 0), duplicates: Math.max(0, Number(rows[0]?.d ?? 0)) };
  }

  /** Records that hours are frozen for every key of the partition. */
  async recordFreezes(
    partition: number,
    hoursMs: readonly number[],
    watermarkMs: number,
    offset: string,
    owner: string,
  ): Promise<void> {
    if (hoursMs.length === 0) return;
    const now = sec(Date.now());
    await this.ch.insert(
      this.t.freezes,
      hoursMs.map((h) => ({
        kafka_partition: partition,
        hour: sec(h),
        frozen_at: now,
        watermark: Math.max(0, sec(watermarkMs)),
        kafka_offset: Number(offset),
        owner,
      })),
    );
  }
}
