// Tables `cloudtrail_events` and `cloudtrail_records` (owner and only reader: auditor): what the
// auditor read from CloudTrail LookupEvents, one row per event and one per usage record in it.
import { USAGE_KEY_COLUMNS, defineTable } from './table.js';

/** Table `cloudtrail_events`: one row per CloudTrail event id (re-reading adds nothing). */
export const CLOUDTRAIL_EVENTS = defineTable({
  name: 'cloudtrail_events',
  columns: [
    'event_id String',
    'event_name String',
    'event_time DateTime',
    'event_time_ms UInt64',
    'parse_status String',
    'record_count UInt32',
    'first_read_at DateTime',
  ],
  engine: 'ReplacingMergeTree',
  partitionBy: 'toYYYYMM(event_time)',
  orderBy: 'event_id',
  shardingKey: 'cityHash64(event_id)',
});

/** Table `cloudtrail_records`: one row per usage record of an event (event id + index). */
export const CLOUDTRAIL_RECORDS = defineTable({
  name: 'cloudtrail_records',
  columns: [
    'event_id String',
    'record_index UInt32',
    'event_name String',
    'event_time DateTime',
    'event_time_ms UInt64',
    ...USAGE_KEY_COLUMNS,
    'timestamp_ms UInt64',
    'quantity UInt64',
    'request_quantity Int64',
    'status String',
    'metering_record_id String',
    'error_code String',
    'allocations String',
    'read_at DateTime',
  ],
  engine: 'ReplacingMergeTree',
  partitionBy: 'toYYYYMM(hour)',
  orderBy: '(product_code, customer, dimension, hour, event_id, record_index)',
  shardingKey: 'cityHash64(product_code, customer)',
});

/** Table `audit_checkpoints`: how far the auditor has read CloudTrail, per checkpoint name. */
export const AUDIT_CHECKPOINTS = defineTable({
  name: 'audit_checkpoints',
  columns: ['name String', 'read_until_ms UInt64', 'updated_at DateTime', 'version UInt64'],
  engine: 'ReplacingMergeTree',
  engineArgs: ['version'],
  orderBy: 'name',
  shardingKey: 'cityHash64(name)',
});
