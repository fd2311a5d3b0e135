import { migrate, type ClickHouse, type Migration, type Topology } from '@meterstream/clickhouse';
import { CONSOLE_SUBMISSIONS } from '@meterstream/contracts';
import type { Logger } from '@meterstream/observability';

/** The console's own table: one row per line of every manual submission, with its actor. */
export const CONSOLE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'console_submissions',
    up: (ctx) => CONSOLE_SUBMISSIONS.create(ctx),
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
