import { renderCreateTable, type ClickHouse, type Topology } from '@meterstream/clickhouse';

/**
 * DDL of the tables the auditor reads but other services own (ADR 0001): `ledger` (submitter),
 * `usage_events` and `usage_windows` (aggregator). For tests only, until those services' own
 * migrations can be applied instead; the columns are the ADR's, nothing the auditor invented.
 */
export async function createContractTables(
  ch: ClickHouse,
  database: string,
  topology: Topology = { kind: 'single' },
): Promise<void> {
  const statements = [
    ...renderCreateTable(
      {
        database,
        name: 'ledger',
        columns: [
          'product_code String',
          'customer String',
          'customer_kind String',
          'dimension String',
          'hour DateTime',
          'version UInt64',
          'state String',
          'quantity UInt32',
          'carry_in_micros Int64',
          'carry_out_micros Int64',
          'metering_record_id String',
          'aws_status String',
          'reason String',
          'attempts UInt32',
          'batch_id String',
          'license_arn String',
          'updated_at DateTime',
        ].join(', '),
        engine: 'ReplacingMergeTree',
        engineArgs: ['version'],
        orderBy: '(product_code, customer, dimension, hour)',
      },
      topology,
    ),
    ...renderCreateTable(
      {
        database,
        name: 'usage_events',
        columns: [
          'id String',
          'product_code String',
          'license_arn String',
          'customer String',
          'customer_kind String',
          'dimension String',
          'quantity_micros Int64',
          'timestamp_ms Int64',
          'source String',
          'actor String',
          'kafka_partition Int32',
          'kafka_offset Int64',
          'event_hour DateTime',
          'billing_hour DateTime',
          'ingested_at DateTime',
        ].join(', '),
        engine: 'ReplacingMergeTree',
        orderBy: 'id',
      },
      topology,
    ),
    ...renderCreateTable(
      {
        database,
        name: 'usage_windows',
        columns: [
          'product_code String',
          'customer String',
          'customer_kind String',
          'dimension String',
          'hour DateTime',
          'quantity_micros Int64',
          'event_count UInt64',
          'late_quantity_micros Int64',
          'first_event_at DateTime',
          'last_event_at DateTime',
          'frozen_at DateTime',
          'freeze_kind String',
          'kafka_partition Int32',
        ].join(', '),
        engine: 'ReplacingMergeTree',
        orderBy: '(product_code, customer, dimension, hour)',
      },
      topology,
    ),
  ];
  for (const s of statements) await ch.command(s);
}
