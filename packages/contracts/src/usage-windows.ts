// Table `usage_windows` (owner: aggregator; read by the submitter, the auditor, the console and
// analysts): one row per (partition, product, customer, dimension, hour), written once when the
// hour is frozen on that partition and never updated.
import { defineTable } from './table.js';

/** Table `usage_windows`. */
export const USAGE_WINDOWS = defineTable({
  name: 'usage_windows',
  columns: [
    'product_code String',
    'customer String',
    'customer_kind String',
    'dimension String',
    "hour DateTime('UTC')",
    'quantity_micros Int64',
    'event_count UInt64',
    'late_quantity_micros Int64',
    'late_event_count UInt64',
    'too_old_event_count UInt64',
    'duplicate_count UInt64',
    "first_event_at DateTime('UTC')",
    "last_event_at DateTime('UTC')",
    "frozen_at DateTime('UTC')",
    'freeze_kind String',
    'kafka_partition UInt32',
    'request_id String',
    'early_all UInt8',
  ],
  // Windows are written once per key and never updated (insert guarded by NOT IN).
  engine: 'MergeTree',
  partitionBy: 'toYYYYMM(hour)',
  orderBy: '(kafka_partition, hour, product_code, customer, dimension)',
});

/** A frozen usage window summed over its partitions, as the submitter reads it. */
export interface UsageWindow {
  productCode: string;
  customer: string;
  customerKind: 'identifier' | 'account';
  dimension: string;
  /** Epoch ms of the hour start. */
  hour: number;
  quantityMicros: bigint;
  /**
   * Start of the hour of the earliest event counted in the window, over its partitions: below
   * `hour` when the aggregator carried late usage into it (ADR 0002 point 6), else `hour`.
   */
  usageFromHour: number;
}
