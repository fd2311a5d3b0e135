import {
  allowIdentifiers,
  migrate,
  renderCreateTable,
  type ClickHouse,
  type Migration,
  type Topology,
} from '@meterstream/clickhouse';
import type { Logger } from '@meterstream/observability';

/** Tables the auditor owns (ADR 0001). */
export const AUDITOR_TABLES = {
  events: 'cloudtrail_events',
  records: 'cloudtrail_records',
  findings: 'audit_findings',
  checkpoints: 'audit_checkpoints',
} as const;

/** Tables of other services the auditor reads (ADR 0001). */
export const FOREIGN_TABLES = {
  ledger: 'ledger',
  usageEvents: 'usage_events',
  usageWindows: 'usage_windows',
  windowFreezes: 'window_freezes',
  entitlementTerms: 'entitlement_terms',
} as const;

allowIdentifiers(...Object.values(AUDITOR_TABLES), ...Object.values(FOREIGN_TABLES));

/** The auditor's numbered migrations (component `auditor`). */
export const AUDITOR_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'cloudtrail events and records, findings, checkpoints',
    up: ({ database, topology }) => [
      // One row per CloudTrail event id: re-reading an overlapping window adds nothing.
      ...renderCreateTable(
        {
          database,
          name: AUDITOR_TABLES.events,
          columns: [
            'event_id String',
            'event_name String',
            'event_time DateTime',
            'event_time_ms UInt64',
            'parse_status String',
            'record_count UInt32',
            'first_read_at DateTime',
          ].join(', '),
          engine: 'ReplacingMergeTree',
          partitionBy: 'toYYYYMM(event_time)',
          orderBy: 'event_id',
          shardingKey: 'cityHash64(event_id)',
        },
        topology,
      ),
      ...renderCreateTable(
        {
          database,
          name: AUDITOR_TABLES.records,
          columns: [
            'event_id String',
            'record_index UInt32',
            'event_name String',
            'event_time DateTime',
            'event_time_ms UInt64',
            'product_code String',
            'customer String',
            'customer_kind String',
            'license_arn String',
            'dimension String',
            'hour DateTime',
            'timestamp_ms UInt64',
            'quantity UInt64',
            'request_quantity Int64',
            'status String',
            'metering_record_id String',
            'error_code String',
            'allocations String',
            'read_at DateTime',
          ].join(', '),
          engine: 'ReplacingMergeTree',
          partitionBy: 'toYYYYMM(hour)',
          orderBy: '(product_code, customer, dimension, hour, event_id, record_index)',
          shardingKey: 'cityHash64(product_code, customer)',
        },
        topology,
      ),
      ...renderCreateTable(
        {
          database,
          name: AUDITOR_TABLES.findings,
          columns: [
            'finding_id String',
            'kind String',
            'status String',
            'product_code String',
            'customer String',
            'customer_kind String',
            'dimension String',
            'hour DateTime',
            'ledger_quantity Int64',
            'ledger_state String',
            'cloudtrail_quantities Array(UInt64)',
            'cloudtrail_statuses Array(String)',
            'event_ids Array(String)',
            'metering_record_ids Array(String)',
            'ledger_record String',
            'raw_event String',
            'detail String',
            'note String',
            'notified UInt8',
            // Channels that took the finding, so a retry after a failed channel repeats no other.
            'notified_channels Array(String)',
            'first_seen_at DateTime',
            'updated_at DateTime',
            'version UInt64',
          ].join(', '),
          engine: 'ReplacingMergeTree',
          engineArgs: ['version'],
          orderBy: 'finding_id',
          shardingKey: 'cityHash64(finding_id)',
        },
        topology,
      ),
      ...renderCreateTable(
        {
          database,
          name: AUDITOR_TABLES.checkpoints,
          columns: 'name String, read_until_ms UInt64, updated_at DateTime, version UInt64',
          engine: 'ReplacingMergeTree',
          engineArgs: ['version'],
          orderBy: 'name',
          shardingKey: 'cityHash64(name)',
        },
        topology,
      ),
    ],
  },
];

/** Creates or upgrades the auditor's tables. */
export async function migrateAuditor(
  ch: ClickHouse,
  database: string,
  topology: Topology,
  logger?: Logger,
): Promise<void> {
  await migrate(ch, 'auditor', AUDITOR_MIGRATIONS, { database, topology }, logger);
}
