import {
  allowIdentifiers,
  joinSql,
  raw,
  sql,
  type ClickHouse,
  type SqlFragment,
} from '@meterstream/clickhouse';
import {
  entitlementFromRow,
  ledgerEvidence,
  ledgerFromEvidence,
  ledgerFromRow,
  toSeconds as sec,
  type Entitlement,
  type FindingKind,
  type FindingStatus,
  type LedgerRecord,
  type Table,
} from '@meterstream/contracts';
import {
  chainKey,
  checkContractTerms,
  conserve,
  type Conservation,
  type ConservationOptions,
  type EventTotal,
  type FreezeState,
  type HourKey,
  type WindowTotal,
} from './conservation.js';
import { HOUR_MS } from '@meterstream/runtime';
import type { StoredFinding } from './findings.js';
import type { CloudTrailRecord, CustomerKind, RecordStatus } from './parse.js';
import {
  mergeReconciliations,
  reconcile,
  type ReconcileOptions,
  type Reconciliation,
} from './reconcile.js';
import { AUDITOR_TABLES, FOREIGN_TABLES } from './migrations.js';

/** The key of a row that selects `product_code, customer, dimension` and `hour_s` (epoch s). */
function keyOfRow(r: Record<string, unknown>): RecordKey {
  return {
    productCode: String(r.product_code),
    customer: String(r.customer),
    dimension: String(r.dimension),
    hourMs: Number(r.hour_s) * 1000,
  };
}

let lastVersion = 0;
/** Strictly increasing versions for ReplacingMergeTree rows written by this process. */
export function nextVersion(now = Date.now()): number {
  lastVersion = Math.max(lastVersion + 1, now * 1000);
  return lastVersion;
}

/**
 * ClickHouse access of the auditor. Every value goes through `sql` literals and every name
 * through the allow-list; DateTime columns are written as epoch seconds and read with
 * `toUnixTimestamp`, so the server's time zone never matters.
 */
export class AuditStore {
  constructor(
    readonly ch: ClickHouse,
    readonly database: string,
  ) {
    // The database name comes from validated configuration; it joins the allow-list here.
    allowIdentifiers(database);
  }

  private t(table: Table): SqlFragment {
    return table.in(this.database);
  }

  /** Which of these event ids are already stored. */
  async knownEventIds(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.ch.query<{ event_id: string }>(
      sql`SELECT DISTINCT event_id FROM ${this.t(AUDITOR_TABLES.events)} WHERE event_id IN (${inList(ids)})`,
    );
    return new Set(rows.map((r) => r.event_id));
  }

  /** Stores events and their records (records first: an event row means "fully stored"). */
  async storeEvents(
    events: readonly {
      eventId: string;
      eventName: string;
      eventTimeMs: number;
      parseStatus: string;
      records: readonly CloudTrailRecord[];
    }[],
    nowMs: number,
  ): Promise<void> {
    const records = events.flatMap((e) =>
      e.records.map((r) => ({
        event_id: r.eventId,
        record_index: r.recordIndex,
        event_name: r.eventName,
        event_time: sec(r.eventTimeMs),
        event_time_ms: r.eventTimeMs,
        product_code: r.productCode,
        customer: r.customer,
        customer_kind: r.customerKind,
        license_arn: r.licenseArn,
        dimension: r.dimension,
        hour: sec(r.hourMs),
        timestamp_ms: r.timestampMs,
        quantity: r.quantity,
        request_quantity: r.requestQuantity ?? -1,
        status: r.status,
        metering_record_id: r.meteringRecordId,
        error_code: r.errorCode,
        allocations: JSON.stringify(r.allocations),
        read_at: sec(nowMs),
      })),
    );
    await this.ch.insert(this.t(AUDITOR_TABLES.records), records);
    await this.ch.insert(
      this.t(AUDITOR_TABLES.events),
      events.map((e) => ({
        event_id: e.eventId,
        event_name: e.eventName,
        event_time: sec(e.eventTimeMs),
        event_time_ms: e.eventTimeMs,
        parse_status: e.parseStatus,
        record_count: e.records.length,
        first_read_at: sec(nowMs),
      })),
    );
  }

  /** Distinct stored events (for tests and the report). */
  async countEvents(): Promise<number> {
    const [row] = await this.ch.query<{ n: string }>(
      sql`SELECT uniqExact(event_id) AS n FROM ${this.t(AUDITOR_TABLES.events)}`,
    );
    return Number(row?.n ?? 0);
  }

  /** CloudTrail records of hours in [fromMs, toMs), one per (event, index) however often read. */
  async cloudTrailRecords(
    fromMs: number,
    toMs: number,
    key?: RecordKey,
  ): Promise<CloudTrailRecord[]> {
    const rows = await this.ch.query<Record<string, string | number>>(sql`
      SELECT event_id, record_index, any(event_name) AS c_event_name, any(event_time_ms) AS c_event_time_ms,
        product_code, customer, any(customer_kind) AS c_customer_kind, any(license_arn) AS c_license_arn,
        dimension, toUnixTimestamp(hour) AS hour_s, any(timestamp_ms) AS c_timestamp_ms,
        any(quantity) AS c_quantity, any(request_quantity) AS c_request_quantity, any(status) AS c_status,
        any(metering_record_id) AS c_metering_record_id, any(error_code) AS c_error_code,
        any(allocations) AS c_allocations
      FROM ${this.t(AUDITOR_TABLES.records)}
      WHERE hour >= ${new Date(fromMs)} AND hour < ${new Date(toMs)} ${keyFilter(key)}
      GROUP BY product_code, customer, dimension, hour, event_id, record_index
      ORDER BY c_event_time_ms, event_id, record_index`);
    return rows.map((r) => ({
      eventId: String(r.event_id),
      recordIndex: Number(r.record_index),
      eventName: String(r.c_event_name),
      eventTimeMs: Number(r.c_event_time_ms),
      productCode: String(r.product_code),
      customer: String(r.customer),
      customerKind: String(r.c_customer_kind) as CustomerKind,
      licenseArn: String(r.c_license_arn),
      dimension: String(r.dimension),
      hourMs: Number(r.hour_s) * 1000,
      timestampMs: Number(r.c_timestamp_ms),
      quantity: Number(r.c_quantity),
      requestQuantity: Number(r.c_request_quantity) < 0 ? null : Number(r.c_request_quantity),
      status: String(r.c_status) as RecordStatus,
      meteringRecordId: String(r.c_metering_record_id),
      errorCode: String(r.c_error_code),
      allocations: JSON.parse(String(r.c_allocations)) as CloudTrailRecord['allocations'],
    }));
  }

  /**
   * The latest version of every ledger record of hours in [fromMs, toMs) (`FINAL`: the highest
   * version per key), read through the ledger's contract; only one key's, or only some products'.
   */
  async ledger(
    fromMs: number,
    toMs: number,
    only: { key?: RecordKey; productCodes?: readonly string[] } = {},
  ): Promise<LedgerRecord[]> {
    const products = only.productCodes
      ? sql`AND product_code IN (${inList(only.productCodes)})`
      : sql``;
    const rows = await this.ch.query<Record<string, unknown>>(sql`
      SELECT ${raw(FOREIGN_TABLES.ledger.select)}
      FROM ${this.t(FOREIGN_TABLES.ledger)} FINAL
      WHERE hour >= ${new Date(fromMs)} AND hour < ${new Date(toMs)} ${keyFilter(only.key)} ${products}`);
    return rows.map(ledgerFromRow);
  }

  /** Every version of one ledger record, oldest first (its state history, for `trace`). */
  async ledgerHistory(key: RecordKey): Promise<Record<string, unknown>[]> {
    return this.ch.query(sql`
      SELECT version, state, quantity, carry_in_micros, carry_out_micros, metering_record_id, aws_status,
        reason, attempts, batch_id, customer_kind, license_arn, toUnixTimestamp(updated_at) AS updated_s
      FROM ${this.t(FOREIGN_TABLES.ledger)}
      WHERE 1 ${keyFilter(key)}
      ORDER BY version`);
  }

  /**
   * Unique usage events per key and billing hour of [fromMs, toMs), as the aggregator counts them
   * (ADR 0001): an identity (product, customer, id) once, in the smallest billing hour of its rows,
   * with the dimension and quantity of its first row; but across every partition, and looking
   * back `lookbackMs` for an earlier row of the same id. Too-old events are summed apart.
   */
  async uniqueEventTotals(fromMs: number, toMs: number, lookbackMs: number): Promise<EventTotal[]> {
    const from = new Date(fromMs);
    const to = new Date(toMs);
    const t = this.t(FOREIGN_TABLES.usageEvents);
    const rows = await this.ch.query<Record<string, string | number>>(sql`
      SELECT product_code, customer, dim, toUnixTimestamp(bh) AS hour_s,
        toString(sumIf(q, old = 0)) AS micros, toString(sumIf(q, old != 0)) AS old_micros, count() AS n
      FROM (
        SELECT product_code, customer, id, min(billing_hour) AS bh,
          argMin(dimension, kafka_offset) AS dim, argMin(quantity_micros, kafka_offset) AS q,
          argMin(too_old, kafka_offset) AS old
        FROM ${t}
        WHERE billing_hour >= ${new Date(fromMs - lookbackMs)} AND billing_hour < ${to}
          AND (product_code, customer, id) IN (
            SELECT product_code, customer, id FROM ${t} WHERE billing_hour >= ${from} AND billing_hour < ${to})
        GROUP BY product_code, customer, id
        HAVING bh >= ${from}
      )
      GROUP BY product_code, customer, dim, bh`);
    return rows.map((r) => ({
      ...keyOfRow({ ...r, dimension: r.dim }),
      micros: BigInt(String(r.micros)),
      tooOldMicros: BigInt(String(r.old_micros)),
      events: Number(r.n),
    }));
  }

  /**
   * Windows per key and hour of [fromMs, toMs): the latest window of each partition (a re-frozen
   * window replaces its partition's earlier one), summed over partitions (ADR 0002).
   */
  async windowTotals(fromMs: number, toMs: number): Promise<WindowTotal[]> {
    const rows = await this.ch.query<Record<string, string | number>>(sql`
      SELECT product_code, customer, dimension, toUnixTimestamp(hour) AS hour_s,
        toString(sum(pq)) AS micros, count() AS parts
      FROM (
        SELECT product_code, customer, dimension, hour, kafka_partition,
          argMax(quantity_micros, frozen_at) AS pq
        FROM ${this.t(FOREIGN_TABLES.usageWindows)}
        WHERE hour >= ${new Date(fromMs)} AND hour < ${new Date(toMs)}
        GROUP BY product_code, customer, dimension, hour, kafka_partition
      )
      GROUP BY product_code, customer, dimension, hour`);
    return rows.map((r) => ({
      ...keyOfRow(r),
      micros: BigInt(String(r.micros)),
      partitions: Number(r.parts),
    }));
  }

  /**
   * The contract terms the submitter keeps (`entitlement_terms`, its migration 2); none when the
   * table is not there (a submitter older than the terms, or no submitter tables at all).
   */
  async contractTerms(): Promise<Entitlement[]> {
    const terms = FOREIGN_TABLES.entitlementTerms;
    const [exists] = await this.ch.query<{ n: string }>(
      sql`SELECT count() AS n FROM system.tables WHERE database = ${this.database} AND name = ${terms.name}`,
    );
    if (Number(exists?.n ?? 0) === 0) return [];
    const rows = await this.ch.query<Record<string, unknown>>(
      sql`SELECT ${raw(terms.select)} FROM ${this.t(terms)} FINAL`,
    );
    return rows.map(entitlementFromRow);
  }

  /**
   * For each key with a ledger record in [fromMs, toMs): the carry out of its latest record in
   * the `lookbackMs` before the range (what its first record of the range must take in).
   */
  async carryBefore(
    fromMs: number,
    toMs: number,
    lookbackMs: number,
  ): Promise<Map<string, { hourMs: number; carryOutMicros: bigint }>> {
    const from = new Date(fromMs);
    const t = this.t(FOREIGN_TABLES.ledger);
    const rows = await this.ch.query<Record<string, string | number>>(sql`
      SELECT product_code, customer, dimension, toUnixTimestamp(max(h)) AS hour_s, toString(argMax(co, h)) AS co
      FROM (
        SELECT product_code, customer, dimension, hour AS h, argMax(carry_out_micros, version) AS co
        FROM ${t}
        WHERE hour >= ${new Date(fromMs - lookbackMs)} AND hour < ${from}
          AND (product_code, customer, dimension) IN (
            SELECT product_code, customer, dimension FROM ${t} WHERE hour >= ${from} AND hour < ${new Date(toMs)})
        GROUP BY product_code, customer, dimension, hour
      )
      GROUP BY product_code, customer, dimension`);
    return new Map(
      rows.map((r) => [
        chainKey({
          productCode: String(r.product_code),
          customer: String(r.customer),
          dimension: String(r.dimension),
        }),
        { hourMs: Number(r.hour_s) * 1000, carryOutMicros: BigInt(String(r.co)) },
      ]),
    );
  }

  /**
   * Which hours every partition has frozen (`window_freezes`; a partition freezes its hours in
   * order), and when each hour of [fromMs, toMs) was frozen by its last partition. A partition
   * with events in the range but no freeze at all closes nothing.
   */
  async freezeState(fromMs: number, toMs: number): Promise<FreezeState> {
    const from = new Date(fromMs);
    const to = new Date(toMs);
    const [latest, hours, eventPartitions] = await Promise.all([
      this.ch.query<{ p: string | number; h: string | number }>(sql`
        SELECT kafka_partition AS p, toUnixTimestamp(max(hour)) AS h
        FROM ${this.t(FOREIGN_TABLES.windowFreezes)} GROUP BY kafka_partition`),
      this.ch.query<{ hour_s: string | number; at_s: string | number }>(sql`
        SELECT toUnixTimestamp(hour) AS hour_s, toUnixTimestamp(max(frozen_at)) AS at_s
        FROM ${this.t(FOREIGN_TABLES.windowFreezes)}
        WHERE hour >= ${from} AND hour < ${to} GROUP BY hour`),
      this.ch.query<{ p: string | number }>(sql`
        SELECT DISTINCT kafka_partition AS p FROM ${this.t(FOREIGN_TABLES.usageEvents)}
        WHERE billing_hour >= ${from} AND billing_hour < ${to}`),
    ]);
    const frozen = new Map(latest.map((r) => [Number(r.p), Number(r.h) * 1000]));
    const unfrozen = eventPartitions.some((r) => !frozen.has(Number(r.p)));
    return {
      closedThroughMs: frozen.size === 0 || unfrozen ? 0 : Math.min(...frozen.values()),
      closedAtMs: new Map(hours.map((r) => [Number(r.hour_s) * 1000, Number(r.at_s) * 1000])),
    };
  }

  /** The checkpoint: CloudTrail was read completely up to this time. */
  async checkpoint(name: string): Promise<number | undefined> {
    const [row] = await this.ch.query<{ n: string; until: string }>(sql`
      SELECT count() AS n, argMax(read_until_ms, version) AS until
      FROM ${this.t(AUDITOR_TABLES.checkpoints)} WHERE name = ${name}`);
    return row && Number(row.n) > 0 ? Number(row.until) : undefined;
  }

  async saveCheckpoint(name: string, readUntilMs: number, nowMs: number): Promise<void> {
    await this.ch.insert(this.t(AUDITOR_TABLES.checkpoints), [
      { name, read_until_ms: readUntilMs, updated_at: sec(nowMs), version: nextVersion(nowMs) },
    ]);
  }

  /** Writes new versions of findings. */
  async writeFindings(findings: readonly StoredFinding[], nowMs: number): Promise<void> {
    await this.ch.insert(
      this.t(AUDITOR_TABLES.findings),
      findings.map((f) => ({
        finding_id: f.id,
        kind: f.kind,
        status: f.status,
        product_code: f.productCode,
        customer: f.customer,
        customer_kind: f.customerKind,
        dimension: f.dimension,
        hour: sec(f.hourMs),
        ledger_quantity: f.ledgerQuantity ?? -1,
        ledger_state: f.ledgerState,
        cloudtrail_quantities: f.cloudTrailQuantities,
        cloudtrail_statuses: f.cloudTrailStatuses,
        event_ids: f.eventIds,
        metering_record_ids: f.meteringRecordIds,
        ledger_record: ledgerEvidence(f.ledger),
        raw_event: f.raw ?? '',
        detail: f.detail,
        note: f.note,
        notified: f.notified ? 1 : 0,
        notified_channels: f.notifiedChannels,
        first_seen_at: sec(f.firstSeenMs),
        updated_at: sec(nowMs),
        version: nextVersion(nowMs),
      })),
    );
  }

  /** The latest version of stored findings, filtered by hour range and/or ids. */
  async findings(
    filter: {
      fromMs?: number;
      toMs?: number;
      ids?: readonly string[];
      key?: RecordKey;
      /** Only findings whose latest version has this status. */
      status?: FindingStatus;
      /** Only findings not yet notified. */
      unnotified?: boolean;
      /** Finding ids starting with this (the CLI accepts a prefix). */
      idPrefix?: string;
    } = {},
  ): Promise<StoredFinding[]> {
    const where: SqlFragment[] = [];
    if (filter.fromMs !== undefined) where.push(sql`AND hour >= ${new Date(filter.fromMs)}`);
    if (filter.toMs !== undefined) where.push(sql`AND hour < ${new Date(filter.toMs)}`);
    if (filter.idPrefix !== undefined)
      where.push(sql`AND startsWith(finding_id, ${filter.idPrefix})`);
    const having: SqlFragment[] = [];
    if (filter.status !== undefined)
      having.push(sql`AND argMax(status, version) = ${filter.status}`);
    if (filter.unnotified) having.push(sql`AND argMax(notified, version) = 0`);
    if (filter.ids) {
      if (filter.ids.length === 0) return [];
      where.push(sql`AND finding_id IN (${inList(filter.ids)})`);
    }
    const rows = await this.ch.query<Record<string, unknown>>(sql`
      SELECT finding_id, argMax(kind, version) AS f_kind, argMax(status, version) AS f_status,
        argMax(product_code, version) AS f_product_code, argMax(customer, version) AS f_customer,
        argMax(customer_kind, version) AS f_customer_kind, argMax(dimension, version) AS f_dimension,
        toUnixTimestamp(argMax(hour, version)) AS hour_s, argMax(ledger_quantity, version) AS f_ledger_quantity,
        argMax(ledger_state, version) AS f_ledger_state, argMax(cloudtrail_quantities, version) AS f_cloudtrail_quantities,
        argMax(cloudtrail_statuses, version) AS f_cloudtrail_statuses, argMax(event_ids, version) AS f_event_ids,
        argMax(metering_record_ids, version) AS f_metering_record_ids, argMax(ledger_record, version) AS f_ledger_record,
        argMax(raw_event, version) AS f_raw_event, argMax(detail, version) AS f_detail, argMax(note, version) AS f_note,
        argMax(notified, version) AS f_notified, argMax(notified_channels, version) AS f_notified_channels, toUnixTimestamp(min(first_seen_at)) AS first_s,
        toUnixTimestamp(max(updated_at)) AS updated_s
      FROM ${this.t(AUDITOR_TABLES.findings)}
      WHERE 1 ${joinSql(where, ' ')} ${keyFilter(filter.key)}
      GROUP BY finding_id
      HAVING 1 ${joinSql(having, ' ')}
      ORDER BY hour_s, finding_id`);
    return rows.map((r) => ({
      id: String(r.finding_id),
      kind: String(r.f_kind) as FindingKind,
      status: String(r.f_status) as FindingStatus,
      productCode: String(r.f_product_code),
      customer: String(r.f_customer),
      customerKind: String(r.f_customer_kind),
      dimension: String(r.f_dimension),
      hourMs: Number(r.hour_s) * 1000,
      ledgerQuantity: Number(r.f_ledger_quantity) < 0 ? null : Number(r.f_ledger_quantity),
      ledgerState: String(r.f_ledger_state),
      cloudTrailQuantities: (r.f_cloudtrail_quantities as (string | number)[]).map(Number),
      cloudTrailStatuses: r.f_cloudtrail_statuses as string[],
      eventIds: r.f_event_ids as string[],
      meteringRecordIds: r.f_metering_record_ids as string[],
      ledger: ledgerFromEvidence(String(r.f_ledger_record ?? '')),
      ...(r.f_raw_event ? { raw: String(r.f_raw_event) } : {}),
      detail: String(r.f_detail),
      note: String(r.f_note),
      notified: Number(r.f_notified) === 1,
      notifiedChannels: r.f_notified_channels as string[],
      firstSeenMs: Number(r.first_s) * 1000,
      updatedMs: Number(r.updated_s) * 1000,
    }));
  }

  /** Open findings by kind (for the gauge). */
  async openCounts(): Promise<Map<string, number>> {
    const rows = await this.ch.query<{ kind: string; n: string }>(sql`
      SELECT k AS kind, count() AS n FROM (
        SELECT argMax(kind, version) AS k, argMax(status, version) AS s
        FROM ${this.t(AUDITOR_TABLES.findings)} GROUP BY finding_id
      ) WHERE s = 'open' GROUP BY k`);
    return new Map(rows.map((r) => [r.kind, Number(r.n)]));
  }

  /**
   * The `usage_events` row of one event (aggregator, ADR 0001). A replayed event may have more
   * than one row; it is billed in the smallest billing hour, so that one is followed.
   */
  async usageEvent(eventId: string): Promise<Record<string, unknown> | undefined> {
    const [row] = await this.ch.query(sql`
      SELECT id, product_code, customer, customer_kind, dimension, quantity_micros,
        kafka_partition, kafka_offset, toUnixTimestamp(event_hour) AS event_hour_s,
        toUnixTimestamp(billing_hour) AS billing_hour_s
      FROM ${this.t(FOREIGN_TABLES.usageEvents)} WHERE id = ${eventId}
      ORDER BY billing_hour, kafka_partition, kafka_offset LIMIT 1`);
    return row;
  }

  /** The `usage_windows` row of one key (aggregator, ADR 0001). */
  async usageWindow(key: RecordKey): Promise<Record<string, unknown> | undefined> {
    const [row] = await this.ch.query(sql`
      SELECT product_code, customer, dimension, toUnixTimestamp(hour) AS hour_s, quantity_micros,
        event_count, late_quantity_micros, freeze_kind, kafka_partition, toUnixTimestamp(frozen_at) AS frozen_s
      FROM ${this.t(FOREIGN_TABLES.usageWindows)} WHERE 1 ${keyFilter(key)}
      ORDER BY frozen_at DESC LIMIT 1`);
    return row;
  }
}

/** Bounds of the conservation queries (ADR 0007). */
export interface ConservationRangeOptions extends ConservationOptions {
  /**
   * How far before the range an event id is still a duplicate: an identity counts once, in its
   * first billing hour, if that hour lies within this lookback. Longer than the aggregator's dedup
   * horizon, so an id it counted twice shows up.
   */
  dedupLookbackMs: number;
  /** How far before the range the previous ledger record of a key is looked for (its carry). */
  carryLookbackMs: number;
  productCode?: string;
}

/**
 * Loads the events, windows, ledger, carry and freezes of hours in [fromMs, toMs) and checks
 * conservation over them (conservation.ts). Every query is bounded by the range and its lookbacks.
 */
export async function conserveRange(
  store: AuditStore,
  fromMs: number,
  toMs: number,
  options: ConservationRangeOptions,
): Promise<Conservation> {
  const [events, windows, ledger, carryBefore, freeze] = await Promise.all([
    store.uniqueEventTotals(fromMs, toMs, options.dedupLookbackMs),
    store.windowTotals(fromMs, toMs),
    store.ledger(fromMs, toMs),
    store.carryBefore(fromMs, toMs, options.carryLookbackMs),
    store.freezeState(fromMs, toMs),
  ]);
  const keep = <T extends { productCode: string }>(xs: readonly T[]): T[] =>
    options.productCode === undefined
      ? [...xs]
      : xs.filter((x) => x.productCode === options.productCode);
  const c = conserve(
    { events: keep(events), windows: keep(windows), ledger: keep(ledger), carryBefore, freeze },
    options,
  );
  // Contract keys: what was billed against what each term's entitlement leaves (issue 13, item 5).
  // The ledger is read from the earliest term start, but no further back than the carry lookback
  // (35 days by default): the term of an hour starting earlier is checked only for billing
  // without any term, since the usage it had before is not read.
  const terms = keep(await store.contractTerms()).filter(
    (t) => t.periodStart < toMs && t.periodEnd > fromMs,
  );
  if (terms.length > 0) {
    const since = Math.max(
      Math.min(...terms.map((t) => t.periodStart)),
      fromMs - options.carryLookbackMs,
    );
    const products = [...new Set(terms.map((t) => t.productCode))];
    const termLedger = await store.ledger(since, toMs, { productCodes: products });
    const checked = checkContractTerms(terms, termLedger, fromMs, toMs, since);
    c.findings.push(...checked.findings);
    c.windowsLedger.unexplainedMicros += checked.unexplainedMicros;
  }
  return c;
}

/**
 * Reconciles hours in [fromMs, toMs) a chunk of hours at a time, so memory stays bounded by one
 * chunk's keys however long the range (a month of reports, a 48-hour lookback of a big seller).
 */
export async function reconcileRange(
  store: AuditStore,
  fromMs: number,
  toMs: number,
  options: ReconcileOptions & { chunkHours?: number; productCode?: string },
): Promise<Reconciliation> {
  const step = (options.chunkHours ?? 6) * HOUR_MS;
  const keep = <T extends { productCode: string }>(xs: T[]): T[] =>
    options.productCode === undefined
      ? xs
      : xs.filter((x) => x.productCode === options.productCode);
  const parts: Reconciliation[] = [];
  for (let start = fromMs; start < toMs; start += step) {
    const end = Math.min(toMs, start + step);
    const [ledger, records] = await Promise.all([
      store.ledger(start, end),
      store.cloudTrailRecords(start, end),
    ]);
    parts.push(reconcile(keep(ledger), keep(records), options));
  }
  return mergeReconciliations(parts);
}

/** One (product, customer, dimension, hour). */
export type RecordKey = HourKey;

function keyFilter(key: RecordKey | undefined): SqlFragment {
  if (!key) return sql``;
  return sql`AND product_code = ${key.productCode} AND customer = ${key.customer}
    AND dimension = ${key.dimension} AND hour = ${new Date(key.hourMs)}`;
}

/** `'a', 'b'` for `IN (…)`: ClickHouse 18.16 reads an array literal there as one value. */
function inList(values: readonly string[]): SqlFragment {
  return joinSql(values.map((v) => sql`${v}`));
}
