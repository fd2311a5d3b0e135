import {
  allowIdentifiers,
  renderAddColumn,
  renderCreateTable,
  type Migration,
  type Topology,
} from '@meterstream/clickhouse';

/** Tables the submitter owns (ADR 0001) and the aggregator tables it reads. */
export const TABLES = {
  ledger: 'ledger',
  subscriptions: 'subscriptions',
  entitlements: 'entitlements',
  entitlementTerms: 'entitlement_terms',
  hourFills: 'submitter_hour_fills',
  usageWindows: 'usage_windows',
  windowFreezes: 'window_freezes',
} as const;

allowIdentifiers(...Object.values(TABLES));

/** Columns `ledger` was created with (migration 1); later migrations add to them. */
const LEDGER_COLUMNS_V1 = [
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

/** Columns of `ledger` (ADR 0001), in one place so tests and the bench write the same shape. */
export const LEDGER_COLUMNS = [...LEDGER_COLUMNS_V1, USAGE_FROM_HOUR].join(', ');

/** The submitter's migrations (idempotent DDL, ClickHouse 18.16 and current). */
export const SUBMITTER_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'ledger, subscriptions, entitlements, hour fills',
    up: ({ database, topology }) => [
      ...renderCreateTable(
        {
          database,
          name: TABLES.ledger,
          columns: LEDGER_COLUMNS_V1.join(', '),
          engine: 'ReplacingMergeTree',
          engineArgs: ['version'],
          partitionBy: 'toYYYYMM(hour)',
          orderBy: '(product_code, customer, dimension, hour)',
          shardingKey: 'cityHash64(product_code, customer)',
        },
        topology,
      ),
      ...renderCreateTable(
        {
          database,
          name: TABLES.subscriptions,
          columns:
            'product_code String, customer String, customer_kind String, license_arn String, buyer_name String, agreement_id String, status String, period_start DateTime, period_end DateTime, source String, updated_at DateTime, version UInt64',
          engine: 'ReplacingMergeTree',
          engineArgs: ['version'],
          orderBy: '(product_code, customer)',
        },
        topology,
      ),
      ...renderCreateTable(
        {
          database,
          name: TABLES.entitlements,
          columns:
            'product_code String, customer String, dimension String, quantity UInt64, period_start DateTime, period_end DateTime, version UInt64',
          engine: 'ReplacingMergeTree',
          engineArgs: ['version'],
          orderBy: '(product_code, customer, dimension)',
        },
        topology,
      ),
      ...renderCreateTable(
        {
          database,
          name: TABLES.hourFills,
          columns: 'hour DateTime, work_partition UInt16, instance_id String, filled_at DateTime',
          engine: 'ReplacingMergeTree',
          orderBy: '(hour, work_partition)',
        },
        topology,
      ),
    ],
  },
  {
    // Contract terms, several per key (issue 13, item 5): `entitlements` is ordered by
    // (product, customer, dimension), so a renewal replaced the first term and old-term usage ate
    // the new term's entitlement. `entitlements` stays (the current term per key, which the
    // console reads); the planner reads every term from here. The copy re-applies harmlessly: it
    // writes the same rows with the same versions, which the ReplacingMergeTree collapses.
    version: 2,
    name: 'entitlement terms',
    up: ({ database, topology }) => [
      ...renderCreateTable(
        {
          database,
          name: TABLES.entitlementTerms,
          columns:
            'product_code String, customer String, dimension String, term_start DateTime, term_end DateTime, quantity UInt64, version UInt64',
          engine: 'ReplacingMergeTree',
          engineArgs: ['version'],
          orderBy: '(product_code, customer, dimension, term_start)',
        },
        topology,
      ),
      `INSERT INTO ${database}.${TABLES.entitlementTerms} (product_code, customer, dimension, term_start, term_end, quantity, version)
       SELECT product_code, customer, dimension, period_start, period_end, quantity, version FROM ${database}.${TABLES.entitlements} FINAL`,
    ],
  },
  {
    version: 3,
    name: 'ledger.usage_from_hour: the origin of late usage carried into a record',
    up: ({ database, topology }) =>
      renderAddColumn(database, TABLES.ledger, USAGE_FROM_HOUR, topology),
  },
];

/**
 * DDL of the aggregator's tables as ADR 0001 describes them, for tests and the bench that run the
 * submitter without the aggregator. The aggregator's own migrations are authoritative.
 */
export function aggregatorTablesForTests(
  database: string,
  topology: Topology = { kind: 'single' },
): string[] {
  return [
    ...renderCreateTable(
      {
        database,
        name: TABLES.usageWindows,
        columns:
          'product_code String, customer String, customer_kind String, dimension String, hour DateTime, quantity_micros Int64, event_count UInt64, late_quantity_micros Int64, first_event_at DateTime, last_event_at DateTime, frozen_at DateTime, freeze_kind String, kafka_partition UInt32',
        engine: 'ReplacingMergeTree',
        orderBy: '(product_code, customer, dimension, hour)',
      },
      topology,
    ),
    ...renderCreateTable(
      {
        database,
        name: TABLES.windowFreezes,
        columns: 'kafka_partition UInt32, hour DateTime, frozen_at DateTime, watermark DateTime',
        engine: 'ReplacingMergeTree',
        orderBy: '(hour, kafka_partition)',
      },
      topology,
    ),
  ];
}
