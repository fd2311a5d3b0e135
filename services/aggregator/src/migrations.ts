import { renderCreateTable, renderCreateView, type Migration } from '@meterstream/clickhouse';

/** Tables and views the aggregator owns (names are binding per ADR 0001). */
export const TABLES = {
  events: 'usage_events',
  windows: 'usage_windows',
  freezes: 'window_freezes',
  owners: 'partition_owners',
  rejects: 'usage_rejects',
} as const;

/** Analyst views (plain views: always current, SQL valid on ClickHouse 18.16 and current). */
export const VIEWS = ['usage_hourly', 'usage_daily', 'late_usage', 'top_customers'] as const;

/** Columns of `usage_events` in the order the aggregator writes them (RowBinary). */
export const EVENT_COLUMNS = [
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

/** The aggregator's numbered migrations. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'raw events, windows, freezes, owners, rejects',
    up: ({ database, topology }) => [
      ...renderCreateTable(
        {
          database,
          name: TABLES.events,
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
          ].join(', '),
          // Plain MergeTree on purpose: a replayed (partition, offset) row must never replace the
          // first one, because an identity is billed in the smallest billing_hour of its rows.
          engine: 'MergeTree',
          partitionBy: 'toYYYYMM(billing_hour)',
          orderBy: '(kafka_partition, billing_hour, product_code, customer, id)',
        },
        topology,
      ),
      ...renderCreateTable(
        {
          database,
          name: TABLES.windows,
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
          ].join(', '),
          // Windows are written once per key and never updated (insert guarded by NOT IN).
          engine: 'MergeTree',
          partitionBy: 'toYYYYMM(hour)',
          orderBy: '(kafka_partition, hour, product_code, customer, dimension)',
        },
        topology,
      ),
      ...renderCreateTable(
        {
          database,
          name: TABLES.freezes,
          columns: [
            'kafka_partition UInt32',
            "hour DateTime('UTC')",
            "frozen_at DateTime('UTC')",
            "watermark DateTime('UTC')",
            'kafka_offset Int64',
            'owner String',
          ].join(', '),
          engine: 'ReplacingMergeTree',
          orderBy: '(kafka_partition, hour)',
        },
        topology,
      ),
      ...renderCreateTable(
        {
          database,
          name: TABLES.owners,
          columns: [
            'kafka_partition UInt32',
            'seq UInt64',
            'owner String',
            "claimed_at DateTime('UTC')",
          ].join(', '),
          engine: 'MergeTree',
          orderBy: '(kafka_partition, seq)',
        },
        topology,
      ),
      ...renderCreateTable(
        {
          database,
          name: TABLES.rejects,
          columns: [
            'kafka_partition UInt32',
            'kafka_offset Int64',
            'reason String',
            'message_key String',
            'value_base64 String',
            "ingested_at DateTime('UTC')",
          ].join(', '),
          engine: 'MergeTree',
          orderBy: '(kafka_partition, kafka_offset)',
        },
        topology,
      ),
    ],
  },
  {
    version: 2,
    name: 'analyst views',
    up: ({ database, topology }) => {
      const db = database;
      return [
        renderCreateView(
          db,
          'usage_hourly',
          `SELECT product_code, customer, customer_kind, dimension, hour, toDate(hour) AS day,
             quantity_micros, quantity_micros / 1000000 AS quantity, event_count,
             late_quantity_micros, late_event_count, duplicate_count, freeze_kind, frozen_at
           FROM ${db}.${TABLES.windows}`,
          topology,
        ),
        renderCreateView(
          db,
          'usage_daily',
          `SELECT product_code, customer, dimension, toDate(hour) AS day,
             sum(quantity_micros) AS total_micros, total_micros / 1000000 AS quantity,
             sum(event_count) AS events, sum(late_quantity_micros) AS late_micros, count() AS hours
           FROM ${db}.${TABLES.windows}
           GROUP BY product_code, customer, dimension, day`,
          topology,
        ),
        renderCreateView(
          db,
          'late_usage',
          `SELECT product_code, customer, id, dim AS dimension, q AS quantity_micros, et AS event_time,
             eh AS event_hour, bh AS billing_hour, (bh - eh) / 3600 AS hours_late, old AS too_old,
             part AS kafka_partition, off AS kafka_offset
           FROM (
             SELECT product_code, customer, id,
               argMin(dimension, kafka_offset) AS dim, argMin(quantity_micros, kafka_offset) AS q,
               argMin(event_time, kafka_offset) AS et, argMin(event_hour, kafka_offset) AS eh,
               min(billing_hour) AS bh, max(too_old) AS old,
               any(kafka_partition) AS part, min(kafka_offset) AS off
             FROM ${db}.${TABLES.events}
             GROUP BY product_code, customer, id
           )
           WHERE bh > eh`,
          topology,
        ),
        renderCreateView(
          db,
          'top_customers',
          `SELECT product_code, customer, customer_kind, sum(quantity_micros) AS total_micros,
             total_micros / 1000000 AS quantity, sum(event_count) AS events,
             min(hour) AS first_hour, max(hour) AS last_hour
           FROM ${db}.${TABLES.windows}
           GROUP BY product_code, customer, customer_kind
           ORDER BY total_micros DESC`,
          topology,
        ),
      ];
    },
  },
];
