import {
  joinSql,
  quoteString,
  raw,
  sql,
  type ClickHouse,
  type SqlFragment,
} from '@meterstream/clickhouse';
import {
  LEDGER,
  SUBSCRIPTIONS,
  bigint,
  keyFromRow,
  entitlementFromRow,
  entitlementRows,
  fromSeconds,
  ledgerFromRow,
  ledgerToRow,
  subscriptionFromRow,
  subscriptionToRow,
  toSeconds,
  usageFromHourOf,
  type Entitlement,
  type LedgerRecord,
  type LedgerState,
  type Row,
  type Subscription,
  type Table,
  type UsageWindow,
} from '@meterstream/contracts';
import { isMeterstreamError } from '@meterstream/errors';
import { retry } from '@meterstream/runtime';
import { TABLES } from './migrations.js';

// Row types and codecs are the tables' contracts (@meterstream/contracts).
export type { Entitlement, Subscription, UsageWindow } from '@meterstream/contracts';
export { usageFromHourOf } from '@meterstream/contracts';

const s = toSeconds;

type LedgerRow = Row;

/** A usage window from the rows of {@link Store.pendingWindows} and {@link Store.windowsBetween}. */
function windowFromRow(r: LedgerRow): UsageWindow {
  const key = keyFromRow(r);
  return {
    ...key,
    quantityMicros: bigint(r.q),
    usageFromHour: usageFromHourOf(key.hour, fromSeconds(r.from_s)),
  };
}

const inList = (values: readonly number[]): SqlFragment =>
  raw(`(${values.map((v) => String(Math.trunc(v))).join(', ')})`);

/**
 * Retries a ClickHouse call that failed because the server was unreachable (including a pooled
 * keep-alive socket the server had already closed): 4 attempts, 100, 200 and 400 ms apart. Safe
 * for every call here: reads are idempotent, and a repeated insert repeats identical rows, which
 * the ReplacingMergeTree tables collapse (same key, same version).
 */
function retrying<T>(op: () => Promise<T>): Promise<T> {
  return retry(op, {
    attempts: 4,
    baseMs: 100,
    maxMs: 1_000,
    jitter: 0,
    retriable: (err) => isMeterstreamError(err, 'CLICKHOUSE_UNAVAILABLE'),
  });
}

/** A ClickHouse client whose calls retry on unavailability. */
class RetryingClickHouse {
  constructor(private readonly ch: ClickHouse) {}
  query<T>(q: SqlFragment): Promise<T[]> {
    return retrying(() => this.ch.query<T>(q));
  }
  insert(table: SqlFragment, rows: readonly Record<string, unknown>[]): Promise<void> {
    return retrying(() => this.ch.insert(table, rows));
  }
}

/** The submitter's reads and writes in ClickHouse. Values go through `sql`, names through `ident`. */
export class Store {
  private readonly ch: RetryingClickHouse;

  constructor(
    ch: ClickHouse,
    private readonly database: string,
  ) {
    this.ch = new RetryingClickHouse(ch);
  }

  private t(table: Table): SqlFragment {
    return table.in(this.database);
  }

  /** Appends ledger versions in one insert (one block: all or nothing). */
  async writeLedger(records: readonly LedgerRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += 50_000) {
      await this.ch.insert(this.t(TABLES.ledger), records.slice(i, i + 50_000).map(ledgerToRow));
    }
  }

  /** Current state (highest version) of the records of the given buckets in states `states`, since `fromHour`. */
  async ledgerByState(
    states: readonly LedgerState[],
    fromHour: number,
    partitions?: readonly number[],
  ): Promise<LedgerRecord[]> {
    const part = partitions ? sql` AND work_partition IN ${inList(partitions)}` : raw('');
    const rows = await this.ch.query<LedgerRow>(
      sql`SELECT ${raw(LEDGER.select)} FROM ${this.t(TABLES.ledger)} FINAL
          WHERE hour >= ${new Date(fromHour)} AND state IN ${raw(`(${states.map((x) => `'${x}'`).join(', ')})`)}${part}`,
    );
    return rows.map(ledgerFromRow);
  }

  /** Current state of records written by one run (the control API). */
  async ledgerByRun(runId: string): Promise<LedgerRecord[]> {
    const rows = await this.ch.query<LedgerRow>(
      sql`SELECT ${raw(LEDGER.select)} FROM ${this.t(TABLES.ledger)} FINAL
          WHERE (product_code, customer, dimension, hour) IN
            (SELECT product_code, customer, dimension, hour FROM ${this.t(TABLES.ledger)} WHERE run_id = ${runId})`,
    );
    return rows.map(ledgerFromRow);
  }

  /** Every record (current state) of a product, for tests and the CLI. */
  async ledgerAll(fromHour = 0): Promise<LedgerRecord[]> {
    const rows = await this.ch.query<LedgerRow>(
      sql`SELECT ${raw(LEDGER.select)} FROM ${this.t(TABLES.ledger)} FINAL WHERE hour >= ${new Date(fromHour)}`,
    );
    return rows.map(ledgerFromRow);
  }

  /**
   * For each key with a ledger record before `beforeHour`: the hour of its latest record and that
   * record's carry. Only keys whose latest carry is non-zero or whose latest hour is recent matter;
   * the caller passes the lookback start.
   */
  async latestPerKey(
    fromHour: number,
  ): Promise<Map<string, { hour: number; carryOutMicros: bigint }>> {
    const rows = await this.ch.query<{ k: string; h: string | number; c: string }>(
      sql`SELECT concat(product_code, '|', customer, '|', dimension) AS k, toUnixTimestamp(max(hour)) AS h,
            toString(argMax(carry_out_micros, hour)) AS c
          FROM ${this.t(TABLES.ledger)} WHERE hour >= ${new Date(fromHour)} GROUP BY product_code, customer, dimension`,
    );
    return new Map(rows.map((r) => [r.k, { hour: fromSeconds(r.h), carryOutMicros: BigInt(r.c) }]));
  }

  /**
   * Like {@link latestPerKey}, without a lower time bound but only for the given keys: the latest
   * record before `beforeHour` of a key idle longer than the planner's lookback, so its carry is
   * never lost (invariant 5). Keys are looked up in chunks (a tuple IN on the ledger's sort-key
   * prefix), so the query text stays small.
   */
  async latestPerKeyOf(
    keys: readonly { productCode: string; customer: string; dimension: string }[],
    beforeHour: number,
  ): Promise<Map<string, { hour: number; carryOutMicros: bigint }>> {
    const out = new Map<string, { hour: number; carryOutMicros: bigint }>();
    for (let i = 0; i < keys.length; i += 1000) {
      const tuples = joinSql(
        keys.slice(i, i + 1000).map((k) => sql`(${k.productCode}, ${k.customer}, ${k.dimension})`),
      );
      const rows = await this.ch.query<{ k: string; h: string | number; c: string }>(
        sql`SELECT concat(product_code, '|', customer, '|', dimension) AS k, toUnixTimestamp(max(hour)) AS h,
              toString(argMax(carry_out_micros, hour)) AS c
            FROM ${this.t(TABLES.ledger)}
            WHERE hour < ${new Date(beforeHour)} AND (product_code, customer, dimension) IN (${tuples})
            GROUP BY product_code, customer, dimension`,
      );
      for (const r of rows) out.set(r.k, { hour: fromSeconds(r.h), carryOutMicros: BigInt(r.c) });
    }
    return out;
  }

  /** Hours ≥ fromHour that every partition of the usage topic has frozen. */
  async fullyFrozenHours(fromHour: number, partitions: number): Promise<number[]> {
    const rows = await this.ch.query<{ h: string | number }>(
      sql`SELECT toUnixTimestamp(hour) AS h FROM ${this.t(TABLES.windowFreezes)} WHERE hour >= ${new Date(fromHour)}
          GROUP BY hour HAVING uniqExact(kafka_partition) >= ${partitions} ORDER BY hour`,
    );
    return rows.map((r) => fromSeconds(r.h));
  }

  /**
   * The hour through which every partition of the usage topic is closed: the smallest, over the
   * `partitions` partitions, of the latest hour each has recorded in `window_freezes` (a partition
   * freezes its hours in order, so it writes no window for an hour at or before its latest freeze
   * any more). 0 while some partition has never frozen an hour.
   */
  async closedThrough(partitions: number): Promise<number> {
    const rows = await this.ch.query<{ h: string | number }>(
      sql`SELECT if(uniqExact(kafka_partition) >= ${partitions}, min(m), 0) AS h
          FROM (SELECT kafka_partition, toUInt32(max(hour)) AS m FROM ${this.t(TABLES.windowFreezes)} GROUP BY kafka_partition)`,
    );
    return fromSeconds(rows[0]?.h ?? 0);
  }

  /**
   * Windows since `fromHour` without a ledger record yet, summed over the partitions of the usage
   * topic: one key's events may arrive on several partitions (producers with different
   * partitioners), and each partition writes its own window (ADR 0002). A key-hour is returned
   * only once every partition has closed the hour (so no partition's window can still come and
   * find the quantity frozen without it), or when one of its windows is an early (console) freeze.
   * The closed hour is read before the windows, for the same reason as in the planner.
   */
  async pendingWindows(fromHour: number, partitions: number): Promise<UsageWindow[]> {
    const closed = await this.closedThrough(partitions);
    const from = new Date(fromHour);
    return this.summedWindows(
      sql`hour >= ${from} AND (product_code, customer, dimension, hour) NOT IN
            (SELECT product_code, customer, dimension, hour FROM ${this.t(TABLES.ledger)} WHERE hour >= ${from})`,
      sql`HAVING max(early) = 1 OR toUnixTimestamp(hour) <= ${Math.floor(closed / 1000)}`,
    );
  }

  /**
   * One row per (key, hour, partition) of `usage_windows` matching `where`: the partition's latest
   * window (the aggregator writes one per partition, key and hour; latest-wins keeps a rewrite of
   * the same partition from counting twice), as `pq`, with `ck` (customer kind), `early` and `pf`,
   * the time of the earliest event counted in it (`first_event_at` is `min(event_time)` over the
   * window's counted identities, so a window with late usage has one before its hour).
   */
  private perPartitionWindows(where: SqlFragment): SqlFragment {
    return sql`SELECT product_code, customer, dimension, hour, kafka_partition, any(customer_kind) AS ck,
        argMax(quantity_micros, frozen_at) AS pq, max(freeze_kind = 'early') AS early,
        argMax(first_event_at, frozen_at) AS pf
      FROM ${this.t(TABLES.usageWindows)} WHERE ${where}
      GROUP BY product_code, customer, dimension, hour, kafka_partition`;
  }

  /** Windows matching `where` summed over their partitions (see {@link perPartitionWindows}). */
  private async summedWindows(where: SqlFragment, having = raw('')): Promise<UsageWindow[]> {
    const rows = await this.ch.query<Record<string, string | number>>(
      sql`SELECT product_code, customer, any(ck) AS customer_kind, dimension, toUnixTimestamp(hour) AS hour_s,
            toString(sum(pq)) AS q, toUnixTimestamp(min(pf)) AS from_s
          FROM (${this.perPartitionWindows(where)})
          GROUP BY product_code, customer, dimension, hour
          ${having}`,
    );
    return rows.map(windowFromRow);
  }

  /** Usage per key and hour of contract keys within [fromHour, toHour), for cumulative overage. */
  async windowsBetween(
    productCodes: readonly string[],
    fromHour: number,
    toHour: number,
  ): Promise<UsageWindow[]> {
    if (productCodes.length === 0) return [];
    return this.summedWindows(
      sql`product_code IN ${raw(`(${productCodes.map(quoteString).join(', ')})`)} AND hour >= ${new Date(fromHour)} AND hour < ${new Date(toHour)}`,
    );
  }

  /** (hour, bucket) pairs whose zero records were already written. */
  async hourFills(fromHour: number): Promise<Set<string>> {
    const rows = await this.ch.query<{ h: string | number; p: number }>(
      sql`SELECT DISTINCT toUnixTimestamp(hour) AS h, work_partition AS p FROM ${this.t(TABLES.hourFills)} WHERE hour >= ${new Date(fromHour)}`,
    );
    return new Set(rows.map((r) => `${fromSeconds(r.h)}|${Number(r.p)}`));
  }

  async markHourFills(
    fills: readonly { hour: number; partition: number }[],
    instanceId: string,
  ): Promise<void> {
    await this.ch.insert(
      this.t(TABLES.hourFills),
      fills.map((f) => ({
        hour: s(f.hour),
        work_partition: f.partition,
        instance_id: instanceId,
        filled_at: s(Date.now()),
      })),
    );
  }

  /** Current subscriptions (latest version per product and customer). */
  async subscriptions(): Promise<Subscription[]> {
    const rows = await this.ch.query<Row>(
      sql`SELECT ${raw(SUBSCRIPTIONS.select)} FROM ${this.t(TABLES.subscriptions)} FINAL`,
    );
    return rows.map(subscriptionFromRow);
  }

  async upsertSubscriptions(subs: readonly Subscription[]): Promise<void> {
    const now = Date.now();
    await this.ch.insert(
      this.t(TABLES.subscriptions),
      subs.map((x, i) => subscriptionToRow(x, now, i)),
    );
  }

  /** Every contract term (several per key: one per renewal), latest version of each. */
  async entitlements(): Promise<Entitlement[]> {
    const rows = await this.ch.query<Row>(
      sql`SELECT ${raw(TABLES.entitlementTerms.select)} FROM ${this.t(TABLES.entitlementTerms)} FINAL`,
    );
    return rows.map(entitlementFromRow);
  }

  /**
   * Writes contract terms (a term is identified by its key and start). Each is also written to
   * `entitlements`, which keeps one row per key: the term written last, i.e. the current one
   * after a sync (the console computes manual overage from it).
   */
  async upsertEntitlements(ents: readonly Entitlement[]): Promise<void> {
    const { terms, current } = entitlementRows(ents, Date.now());
    await this.ch.insert(this.t(TABLES.entitlementTerms), terms);
    await this.ch.insert(this.t(TABLES.entitlements), current);
  }
}
