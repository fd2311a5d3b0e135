// Table `ledger` (owner: submitter; read by the auditor and the console). One row per version of
// one metering record (product, customer, dimension, hour); the highest version is its state.
import { renderAddColumn, type MigrationContext } from '@meterstream/clickhouse';
import { MeterstreamError } from '@meterstream/errors';
import { hourStart } from '@meterstream/runtime';
import { bigint, defineTable, fromSeconds, text, toSeconds, type Row } from './table.js';

/** States of one ledger record. */
export type LedgerState =
  | 'frozen'
  | 'sending'
  | 'held'
  | 'accepted'
  | 'duplicate'
  | 'not_subscribed'
  | 'rejected'
  | 'expired';

/**
 * The legal transitions. `frozen` holds the quantity and is written before the first send;
 * `sending` is written before every call (attempts + 1), so a crash anywhere leaves a record that
 * is sent again, identically. `held` is a record that cannot be sent now for a reason the seller
 * can fix (DESIGN invariant 7): every run re-evaluates it, sends it once the cause is gone, and
 * only its AWS deadline ends it (`expired`). Terminal states have no way out.
 */
export const LEDGER_TRANSITIONS: Readonly<Record<LedgerState, readonly LedgerState[]>> = {
  frozen: ['sending', 'held', 'expired', 'rejected'],
  sending: ['sending', 'held', 'accepted', 'duplicate', 'not_subscribed', 'rejected', 'expired'],
  // held → held: the reason changed (another cause now blocks it), a new version says which.
  // held → frozen: a record held for a missing entitlement (never sent, attempts 0, quantity not
  // known yet) is planned once its contract term is known (ADR 0006, "Missing entitlements").
  held: ['sending', 'held', 'frozen', 'expired'],
  accepted: [],
  duplicate: [],
  not_subscribed: [],
  rejected: [],
  expired: [],
};

/** Every ledger state. */
export const LEDGER_STATES = Object.keys(LEDGER_TRANSITIONS) as LedgerState[];

/** States from which a record still has to be sent (a held one once its cause is fixed). */
export const OPEN_STATES: readonly LedgerState[] = ['frozen', 'sending', 'held'];

/** True when `state` is final. */
export function isTerminal(state: LedgerState): boolean {
  return LEDGER_TRANSITIONS[state].length === 0;
}

/** Throws ILLEGAL_STATE_TRANSITION unless `from → to` is in the table. */
export function assertTransition(from: LedgerState, to: LedgerState): void {
  if (!LEDGER_TRANSITIONS[from].includes(to)) {
    throw new MeterstreamError(
      'ILLEGAL_STATE_TRANSITION',
      `ledger: ${from} -> ${to} is not allowed`,
      {
        details: { from, to },
      },
    );
  }
}

/**
 * Why a record is held: a closed set, so metrics, alerts, the console and runbooks can name each.
 * Stored at the start of the record's `reason` as `code: message` (see {@link heldReason}).
 */
export const HELD_REASONS = [
  /** carry + billable of the hour is above 2,147,483,647 units; AWS takes one record per key-hour. */
  'quantity_above_max',
  /** An account-style customer (CustomerAWSAccountId) that is not in `subscriptions` (no license). */
  'unknown_subscription',
  /** No metering plan for the product. */
  'no_plan',
  /** The dimension is not in the plan version in force at the hour. */
  'dimension_not_in_plan',
  /** DisabledApiException: metering is disabled for the seller account. */
  'aws_api_disabled',
  /** InvalidEndpointRegionException: calls go to a region the product is not in. */
  'aws_wrong_region',
  /** InvalidProductCodeException: AWS does not know the product code (or not for this account). */
  'aws_invalid_product',
  /** InvalidUsageDimensionException for this record: the AWS listing lacks its dimension. */
  'aws_invalid_dimension',
  /**
   * InvalidLicenseException for this record: AWS does not know the license the registry gave it
   * (a stale or wrong LicenseArn). A subscription sync that brings the right one lets it go again.
   */
  'aws_invalid_license',
  /**
   * A contract key-hour with usage and no entitlement term covering it (or after such an hour of
   * the same key): never billed as overage; planned when an entitlement sync brings the term.
   */
  'missing_entitlement',
] as const;
/** One of {@link HELD_REASONS}. */
export type HeldReason = (typeof HELD_REASONS)[number];

/** The `reason` text of a held record: its code, then a message for people. */
export function heldReason(code: HeldReason, message: string): string {
  return `${code}: ${message}`;
}

/** The held-reason code at the start of `reason`, if there is one. */
export function heldReasonOf(reason: string): HeldReason | undefined {
  const code = reason.slice(0, Math.max(0, reason.indexOf(':')));
  return (HELD_REASONS as readonly string[]).includes(code) ? (code as HeldReason) : undefined;
}

/** `identifier` (CustomerIdentifier) or `account` (CustomerAWSAccountId), as in ADR 0001. */
export type CustomerKind = 'identifier' | 'account';

/** A stored customer kind (anything but `account` is an identifier). */
export const customerKindOf = (v: unknown): CustomerKind =>
  v === 'account' ? 'account' : 'identifier';

/** One version of a ledger record, as stored. */
export interface LedgerRecord {
  productCode: string;
  customer: string;
  customerKind: CustomerKind;
  dimension: string;
  /** Epoch ms of the hour start; also the record's Timestamp. */
  hour: number;
  version: bigint;
  state: LedgerState;
  quantity: number;
  usageMicros: bigint;
  billableMicros: bigint;
  carryInMicros: bigint;
  carryOutMicros: bigint;
  meteringRecordId: string;
  awsStatus: string;
  reason: string;
  attempts: number;
  batchId: string;
  runId: string;
  instanceId: string;
  workPartition: number;
  licenseArn: string;
  pricePerUnit: string;
  /** Epoch ms after which AWS refuses the record. */
  deadline: number;
  updatedAt: number;
  /**
   * Epoch ms of the hour the record's earliest usage happened in: `hour`, or an earlier hour when
   * the aggregator carried late usage into this one (DESIGN invariant 4, ADR 0002 point 6). The
   * plan version of that hour still covers the usage (ADR 0006).
   */
  usageFromHour: number;
}

/** The identity of a ledger record. */
export function recordKey(r: {
  productCode: string;
  customer: string;
  dimension: string;
  hour: number;
}): string {
  return `${r.productCode}|${r.customer}|${r.dimension}|${r.hour}`;
}

/** What {@link transition} needs of a version clock. */
export interface VersionSource {
  nowMs(): number;
  next(after?: bigint): bigint;
}

/** Changes a record to `to` with a strictly greater version, checking the transition table. */
export function transition(
  r: LedgerRecord,
  to: LedgerState,
  changes: Partial<Omit<LedgerRecord, 'state' | 'version'>>,
  clock: VersionSource,
): LedgerRecord {
  assertTransition(r.state, to);
  return { ...r, ...changes, state: to, version: clock.next(r.version), updatedAt: clock.nowMs() };
}

/** Columns `ledger` was created with (migration 1 of the submitter). */
const COLUMNS_V1 = [
  'product_code String',
  'customer String',
  'dimension String',
  'hour DateTime',
  'version UInt64',
  'state String',
  'quantity UInt32',
  'usage_micros Int64',
  'billable_micros Int64',
  'carry_in_micros Int64',
  'carry_out_micros Int64',
  'metering_record_id String',
  'aws_status String',
  'reason String',
  'attempts UInt32',
  'batch_id String',
  'run_id String',
  'instance_id String',
  'work_partition UInt16',
  'customer_kind String',
  'license_arn String',
  'price_per_unit String',
  'deadline DateTime',
  'updated_at DateTime',
];

/**
 * The hour of the earliest usage a record carries (migration 3): below `hour` when the aggregator
 * carried late usage into it (ADR 0002 point 6). Rows written without it (older submitters, 18.16
 * JSONEachRow without the field) read as 0 and are taken as `hour` by every reader.
 */
const USAGE_FROM_HOUR = 'usage_from_hour DateTime DEFAULT hour';

/** Table `ledger`. */
export const LEDGER = {
  ...defineTable({
    name: 'ledger',
    columns: COLUMNS_V1,
    engine: 'ReplacingMergeTree',
    engineArgs: ['version'],
    partitionBy: 'toYYYYMM(hour)',
    orderBy: '(product_code, customer, dimension, hour)',
    shardingKey: 'cityHash64(product_code, customer)',
  }),
  /** Every column as it is now, for tests and the bench that write the same shape. */
  columns: [...COLUMNS_V1, USAGE_FROM_HOUR].join(', '),
  /** Migration 3 of the submitter: `usage_from_hour`. */
  addUsageFromHour: ({ database, topology }: MigrationContext): string[] =>
    renderAddColumn(database, 'ledger', USAGE_FROM_HOUR, topology),
  /** The select list {@link ledgerFromRow} reads (64-bit values as text, times as seconds). */
  select: `product_code, customer, customer_kind, dimension, toUnixTimestamp(hour) AS hour_s, toString(version) AS version, state, quantity,
   toString(usage_micros) AS usage_micros, toString(billable_micros) AS billable_micros, toString(carry_in_micros) AS carry_in_micros,
   toString(carry_out_micros) AS carry_out_micros, metering_record_id, aws_status, reason, attempts, batch_id, run_id, instance_id,
   work_partition, license_arn, price_per_unit, toUnixTimestamp(deadline) AS deadline_s, toUnixTimestamp(updated_at) AS updated_s,
   toUnixTimestamp(usage_from_hour) AS usage_from_s`,
} as const;

/**
 * The origin hour of a record's usage as stored: a row written without it (0, or anything not an
 * hour before the record's own) is a record whose usage is all of its own hour.
 */
export function usageFromHourOf(hourMs: number, storedMs: number): number {
  const from = hourStart(storedMs);
  return from > 0 && from < hourMs ? from : hourMs;
}

/** The key of a (product, customer, dimension, hour) row read with `toUnixTimestamp(hour) AS hour_s`. */
export interface RowKey {
  productCode: string;
  customer: string;
  customerKind: CustomerKind;
  dimension: string;
  /** Epoch ms of the hour start. */
  hour: number;
}

/** The {@link RowKey} of a ledger or window row. */
export function keyFromRow(r: Row): RowKey {
  return {
    productCode: text(r.product_code),
    customer: text(r.customer),
    customerKind: customerKindOf(r.customer_kind),
    dimension: text(r.dimension),
    hour: fromSeconds(r.hour_s),
  };
}

/** A row read with {@link LEDGER}.select as a record. */
export function ledgerFromRow(r: Row): LedgerRecord {
  const key = keyFromRow(r);
  return {
    ...key,
    version: bigint(r.version),
    state: text(r.state) as LedgerState,
    quantity: Number(r.quantity),
    usageMicros: bigint(r.usage_micros),
    billableMicros: bigint(r.billable_micros),
    carryInMicros: bigint(r.carry_in_micros),
    carryOutMicros: bigint(r.carry_out_micros),
    meteringRecordId: text(r.metering_record_id),
    awsStatus: text(r.aws_status),
    reason: text(r.reason),
    attempts: Number(r.attempts),
    batchId: text(r.batch_id),
    runId: text(r.run_id),
    instanceId: text(r.instance_id),
    workPartition: Number(r.work_partition),
    licenseArn: text(r.license_arn),
    pricePerUnit: text(r.price_per_unit),
    deadline: fromSeconds(r.deadline_s),
    updatedAt: fromSeconds(r.updated_s),
    usageFromHour: usageFromHourOf(key.hour, fromSeconds(r.usage_from_s)),
  };
}

/** A record as the row `JSONEachRow` inserts. */
export function ledgerToRow(r: LedgerRecord): Row {
  return {
    product_code: r.productCode,
    customer: r.customer,
    customer_kind: r.customerKind,
    dimension: r.dimension,
    hour: toSeconds(r.hour),
    version: r.version.toString(),
    state: r.state,
    quantity: r.quantity,
    usage_micros: r.usageMicros.toString(),
    billable_micros: r.billableMicros.toString(),
    carry_in_micros: r.carryInMicros.toString(),
    carry_out_micros: r.carryOutMicros.toString(),
    metering_record_id: r.meteringRecordId,
    aws_status: r.awsStatus,
    reason: r.reason,
    attempts: r.attempts,
    batch_id: r.batchId,
    run_id: r.runId,
    instance_id: r.instanceId,
    work_partition: r.workPartition,
    license_arn: r.licenseArn,
    price_per_unit: r.pricePerUnit,
    deadline: toSeconds(r.deadline),
    updated_at: toSeconds(r.updatedAt),
    usage_from_hour: toSeconds(r.usageFromHour),
  };
}
