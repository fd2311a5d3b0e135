import {
  allowIdentifiers,
  ident,
  joinSql,
  raw,
  sql,
  type ClickHouse,
  type SqlFragment,
} from '@meterstream/clickhouse';
import {
  AUDIT_FINDINGS,
  CONSOLE_SUBMISSIONS,
  ENTITLEMENTS,
  LEDGER,
  SUBSCRIPTIONS,
  USAGE_WINDOWS,
  customerKindOf,
  entitlementFromRow,
  ledgerFromRow,
  subscriptionFromRow,
  type Table,
} from '@meterstream/contracts';
import { isMeterstreamError } from '@meterstream/errors';
import {
  cdKey,
  ledgerEntry,
  recordKey,
  statusOfLedgerState,
  type AuditFinding,
  type ConsoleData,
  type Entitlement,
  type LedgerEntry,
  type LedgerFilter,
  type RecordKey,
  type RecordStatus,
  type Submission,
  type Subscription,
} from './model.js';

allowIdentifiers('system', 'tables');

/**
 * `(product_code, customer, dimension, hour) IN (…)`: the condition that selects these ledger
 * (or window) keys, comparing hours as epoch seconds so it works on every ClickHouse version.
 */
export function keysIn(keys: readonly RecordKey[]): SqlFragment {
  const tuples = joinSql(
    keys.map(
      (k) =>
        sql`(${k.productCode}, ${k.customer}, ${k.dimension}, ${Math.floor(k.hour.getTime() / 1000)})`,
    ),
  );
  return sql`(product_code, customer, dimension, toUnixTimestamp(hour)) IN (${tuples})`;
}

const secs = (v: unknown): Date => new Date(Number(v) * 1000);
const big = (v: unknown): bigint => BigInt(String(v ?? '0'));
const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));

/** True for "this table does not exist (yet)": its owner has not migrated, so there is nothing to show. */
function isMissingTable(err: unknown): boolean {
  if (!isMeterstreamError(err, 'CLICKHOUSE_QUERY_FAILED')) return false;
  const code = String(err.details.serverCode ?? '');
  return (
    code === '60' ||
    code === '81' ||
    /doesn't exist|does not exist|UNKNOWN_TABLE/i.test(err.message)
  );
}

/** The latest version of each ledger record: the ledger's contract select over `FINAL`. */
const LEDGER_LATEST = raw(LEDGER.select);

/**
 * {@link ConsoleData} over ClickHouse (ADR 0001 tables). Every value goes through the `sql`
 * literal escaping; table names come from their contracts (@meterstream/contracts). Works on ClickHouse 18.16.
 */
export class ClickHouseData implements ConsoleData {
  constructor(
    private readonly ch: ClickHouse,
    private readonly database: string,
    /** The auditor's findings table (MS_CONSOLE_AUDIT_TABLE; its contract's name by default). */
    private readonly auditTable = AUDIT_FINDINGS.name,
  ) {
    allowIdentifiers(database, auditTable);
  }

  private t(table: Table): SqlFragment {
    return table.in(this.database);
  }

  private async rows(q: SqlFragment): Promise<Record<string, unknown>[]> {
    try {
      return await this.ch.query<Record<string, unknown>>(q);
    } catch (err) {
      if (isMissingTable(err)) return [];
      throw err;
    }
  }

  async subscriptions(productCode?: string): Promise<Subscription[]> {
    const where = productCode ? sql`WHERE product_code = ${productCode}` : raw('');
    const rows = await this.rows(sql`SELECT ${raw(SUBSCRIPTIONS.select)}
      FROM ${this.t(SUBSCRIPTIONS)} FINAL ${where}
      ORDER BY product_code, buyer_name, customer LIMIT 10000`);
    return rows.map(subscriptionFromRow);
  }

  async entitlements(productCode: string): Promise<Entitlement[]> {
    const rows = await this.rows(sql`SELECT ${raw(ENTITLEMENTS.select)}
      FROM ${this.t(ENTITLEMENTS)} FINAL WHERE product_code = ${productCode}`);
    return rows.map(entitlementFromRow);
  }

  async usageMicros(
    productCode: string,
    periods: readonly { customer: string; from: Date; to: Date }[],
  ): Promise<Map<string, bigint>> {
    const out = new Map<string, bigint>();
    if (periods.length === 0) return out;
    const cond = joinSql(
      periods.map(
        (p) =>
          sql`(customer = ${p.customer} AND hour >= ${p.from} AND hour < ${p.to < new Date(4102444800000) ? p.to : new Date(4102444800000)})`,
      ),
      ' OR ',
    );
    const rows = await this.rows(sql`SELECT customer, dimension, toString(sum(q)) AS micros FROM (
        SELECT customer, dimension, hour, kafka_partition, argMax(quantity_micros, frozen_at) AS q
        FROM ${this.t(USAGE_WINDOWS)} WHERE product_code = ${productCode} AND (${cond})
        GROUP BY customer, dimension, hour, kafka_partition)
      GROUP BY customer, dimension`);
    for (const r of rows) out.set(cdKey(str(r.customer), str(r.dimension)), big(r.micros));
    return out;
  }

  async lastStatuses(productCode?: string): Promise<Map<string, RecordStatus>> {
    const group = productCode ? raw('customer') : raw('product_code');
    const where = productCode ? sql`WHERE product_code = ${productCode}` : raw('');
    const rows = await this.rows(sql`SELECT g, argMax(st, hour_s) AS st FROM (
        SELECT ${group} AS g, toUnixTimestamp(hour) AS hour_s, argMax(state, version) AS st
        FROM ${this.t(LEDGER)} ${where}
        GROUP BY product_code, customer, dimension, hour)
      GROUP BY g`);
    return new Map(rows.map((r) => [str(r.g), statusOfLedgerState(str(r.st))]));
  }

  async ledger(f: LedgerFilter): Promise<LedgerEntry[]> {
    const conds: SqlFragment[] = [raw('1')];
    if (f.productCode) conds.push(sql`product_code = ${f.productCode}`);
    if (f.customer) conds.push(sql`customer = ${f.customer}`);
    if (f.dimension) conds.push(sql`dimension = ${f.dimension}`);
    if (f.from) conds.push(sql`hour >= ${f.from}`);
    if (f.to) conds.push(sql`hour < ${f.to}`);
    const rows = await this.rows(sql`SELECT ${LEDGER_LATEST} FROM ${this.t(LEDGER)} FINAL
      WHERE ${joinSql(conds, ' AND ')}
      ORDER BY hour DESC, product_code, customer, dimension LIMIT ${Math.max(1, Math.floor(f.limit))}`);
    return rows.map((r) => ledgerEntry(ledgerFromRow(r)));
  }

  async records(keys: readonly RecordKey[]): Promise<LedgerEntry[]> {
    if (keys.length === 0) return [];
    const rows = await this.rows(sql`SELECT ${LEDGER_LATEST} FROM ${this.t(LEDGER)} FINAL
      WHERE ${keysIn(keys)}`);
    return rows.map((r) => ledgerEntry(ledgerFromRow(r)));
  }

  async auditFindings(limit: number): Promise<AuditFinding[] | undefined> {
    const exists = await this.ch.query<{ n: string | number }>(
      sql`SELECT count() AS n FROM system.tables WHERE database = ${this.database} AND name = ${this.auditTable}`,
    );
    if (Number(exists[0]?.n ?? 0) === 0) return undefined;
    // Latest version of each finding (auditor's ReplacingMergeTree, columns per its migration).
    const rows = await this
      .rows(sql`SELECT finding_id, argMax(kind, version) AS kind, argMax(status, version) AS st,
        argMax(product_code, version) AS product_code, argMax(customer, version) AS customer,
        argMax(dimension, version) AS dimension, toUnixTimestamp(argMax(hour, version)) AS hour_s,
        argMax(detail, version) AS detail, toUnixTimestamp(min(first_seen_at)) AS seen_s
      FROM ${ident(`${this.database}.${this.auditTable}`)}
      GROUP BY finding_id ORDER BY seen_s DESC, finding_id LIMIT ${Math.floor(limit)}`);
    return rows.map((r) => ({
      detectedAt: secs(r.seen_s),
      kind: str(r.kind),
      status: str(r.st),
      productCode: str(r.product_code),
      customer: str(r.customer),
      dimension: str(r.dimension),
      hour: Number(r.hour_s) > 0 ? secs(r.hour_s) : undefined,
      detail: str(r.detail),
    }));
  }

  async findSubmission(id: string): Promise<Submission | undefined> {
    const rows = await this
      .rows(sql`SELECT line_index, any(actor) AS actor, any(product_code) AS product_code,
        any(customer) AS customer, any(customer_kind) AS ck, any(license_arn) AS la, any(dimension) AS dimension,
        toUnixTimestamp(any(hour)) AS hour_s, toString(any(at_ms)) AS at_ms, any(quantity) AS quantity,
        toString(any(quantity_micros)) AS qm, any(event_id) AS event_id
      FROM ${this.t(CONSOLE_SUBMISSIONS)} WHERE submission_id = ${id}
      GROUP BY line_index ORDER BY line_index`);
    const first = rows[0];
    if (!first) return undefined;
    return {
      id,
      actor: str(first.actor),
      productCode: str(first.product_code),
      hour: secs(first.hour_s),
      at: new Date(Number(first.at_ms)),
      lines: rows.map((r) => ({
        customer: str(r.customer),
        customerKind: customerKindOf(r.ck),
        licenseArn: str(r.la),
        dimension: str(r.dimension),
        quantity: str(r.quantity),
        quantityMicros: big(r.qm),
        eventId: str(r.event_id),
      })),
    };
  }

  async recordSubmission(s: Submission): Promise<void> {
    const created = Math.floor(Date.now() / 1000);
    await this.ch.insert(
      this.t(CONSOLE_SUBMISSIONS),
      s.lines.map((l, i) => ({
        submission_id: s.id,
        line_index: i,
        actor: s.actor,
        product_code: s.productCode,
        customer: l.customer,
        customer_kind: l.customerKind,
        license_arn: l.licenseArn,
        dimension: l.dimension,
        hour: Math.floor(s.hour.getTime() / 1000),
        at_ms: s.at.getTime(),
        quantity: l.quantity,
        quantity_micros: l.quantityMicros.toString(),
        event_id: l.eventId,
        created_at: created,
      })),
    );
  }

  async manualKeys(productCode?: string): Promise<Map<string, string>> {
    const where = productCode ? sql`WHERE product_code = ${productCode}` : raw('');
    const rows = await this
      .rows(sql`SELECT product_code, customer, dimension, toUnixTimestamp(hour) AS hour_s, any(actor) AS actor
      FROM ${this.t(CONSOLE_SUBMISSIONS)} ${where}
      GROUP BY product_code, customer, dimension, hour LIMIT 100000`);
    return new Map(
      rows.map((r) => [
        recordKey({
          productCode: str(r.product_code),
          customer: str(r.customer),
          dimension: str(r.dimension),
          hour: secs(r.hour_s),
        }),
        str(r.actor),
      ]),
    );
  }

  ping(): Promise<boolean> {
    return this.ch.ping();
  }
}
