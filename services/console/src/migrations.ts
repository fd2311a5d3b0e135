import {
  allowIdentifiers,
  migrate,
  renderCreateTable,
  type ClickHouse,
  type Migration,
  type Topology,
} from '@meterstream/clickhouse';
import type { Logger } from '@meterstream/observability';

/** The one table the console owns. */
export const SUBMISSIONS_TABLE = 'console_submissions';
allowIdentifiers(SUBMISSIONS_TABLE);

/** The console's own table: one row per line of every manual submission, with its actor. */
export const CONSOLE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'console_submissions',
    up: ({ database, topology }) =>
      renderCreateTable(
        {
          database,
          name: SUBMISSIONS_TABLE,
          columns:
            'submission_id String, line_index UInt32, actor String, product_code String, customer String, customer_kind String, license_arn String, dimension String, hour DateTime, at_ms UInt64, quantity String, quantity_micros Int64, event_id String, created_at DateTime',
          engine: 'ReplacingMergeTree',
          partitionBy: 'toYYYYMM(hour)',
          orderBy: '(submission_id, line_index)',
        },
        topology,
      ),
  },
];

/** Applies the console's migrations. */
export async function migrateConsole(
  ch: ClickHouse,
  database: string,
  topology: Topology,
  logger?: Logger,
): Promise<void> {
  await migrate(ch, 'console', CONSOLE_MIGRATIONS, { database, topology }, logger);
}
