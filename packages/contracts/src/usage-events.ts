// Table `usage_events` (owner: aggregator; read by the auditor's conservation check and analysts):
// every usage event as read from Kafka, one row per (partition, offset) — the source of truth.
import { defineTable } from './table.js';

/** Columns of `usage_events` in the order the aggregator writes them (RowBinary). */
export const USAGE_EVENT_COLUMNS = [
  'id',
  'product_code',
  'license_arn',
  'customer',
  'customer_kind',
  'dimension',
  'quantity',
  'quantity_micros',
  'event_time',
  'event_time_ms',
  'allocations',
  'source',
  'actor',
  'attributes',
  'kafka_partition',
  'kafka_offset',
  'event_hour',
  'billing_hour',
  'too_old',
  'ingested_at',
] as const;

/** Table `usage_events`. */
export const USAGE_EVENTS = defineTable({
  name: 'usage_events',
  columns: [
    'id String',
    'product_code String',
    'license_arn Nullable(String)',
    'customer String',
    'customer_kind String',
    'dimension String',
    'quantity String',
    'quantity_micros Int64',
    "event_time DateTime('UTC')",
    'event_time_ms Int64',
    'allocations String',
    'source String',
    'actor Nullable(String)',
    'attributes String',
    'kafka_partition UInt32',
    'kafka_offset Int64',
    "event_hour DateTime('UTC')",
    "billing_hour DateTime('UTC')",
    'too_old UInt8',
    "ingested_at DateTime('UTC')",
  ],
  // Plain MergeTree on purpose: a replayed (partition, offset) row must never replace the first
  // one, because an identity is billed in the smallest billing_hour of its rows.
  engine: 'MergeTree',
  partitionBy: 'toYYYYMM(billing_hour)',
  orderBy: '(kafka_partition, billing_hour, product_code, customer, id)',
});
