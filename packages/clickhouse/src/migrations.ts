import type { Logger } from 'pino';
import { MeterstreamError } from '@meterstream/errors';
import type { ClickHouse } from './client.js';
import { isAddColumn, renderCreateDatabase, renderCreateTable, type Topology } from './ddl.js';
import { allowIdentifiers, ident, sql } from './escape.js';

/** What a migration may use to render its statements. */
export interface MigrationContext {
  database: string;
  topology: Topology;
}

/** One numbered migration of one component (service). Statements must be idempotent. */
export interface Migration {
  version: number;
  name: string;
  up: (ctx: MigrationContext) => string[];
}

const MIGRATIONS_TABLE = 'schema_migrations';
/** The server's answer to an `ADD COLUMN` of a column that exists (18.16 and current versions). */
const COLUMN_EXISTS = /column with this name already exists/i;

/**
 * Applies the numbered migrations of `component` that are not yet recorded, in order. Every
 * statement is `IF NOT EXISTS` (or an `ADD COLUMN` whose "already exists" counts as applied, as
 * 18.16 has no `ADD COLUMN IF NOT EXISTS`), so two processes migrating at once, or a crash between
 * a statement and its record, is harmless: the next run re-applies and records it. Versions must
 * increase but may have gaps (a version another branch adds later is applied when it arrives).
 */
export async function migrate(
  ch: ClickHouse,
  component: string,
  migrations: readonly Migration[],
  ctx: MigrationContext,
  logger?: Logger,
): Promise<number[]> {
  const versions = migrations.map((m) => m.version);
  if (
    new Set(versions).size !== versions.length ||
    versions.some((v, i) => i > 0 && v <= (versions[i - 1] ?? 0))
  ) {
    throw new MeterstreamError(
      'CONFIG_INVALID',
      `migrations of ${component} must have strictly increasing versions`,
    );
  }
  allowIdentifiers(ctx.database, MIGRATIONS_TABLE);
  await ch.command(renderCreateDatabase(ctx.database, ctx.topology));
  for (const stmt of renderCreateTable(
    {
      database: ctx.database,
      name: MIGRATIONS_TABLE,
      columns: 'component String, version UInt32, name String, applied_at DateTime',
      engine: 'ReplacingMergeTree',
      orderBy: '(component, version)',
    },
    ctx.topology,
  )) {
    await ch.command(stmt);
  }
  const table = ident(`${ctx.database}.${MIGRATIONS_TABLE}`);
  const rows = await ch.query<{ version: number }>(
    sql`SELECT DISTINCT version FROM ${table} WHERE component = ${component}`,
  );
  const applied = new Set(rows.map((r) => Number(r.version)));
  const done: number[] = [];
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    logger?.info({ component, version: m.version, migration: m.name }, 'applying migration');
    for (const stmt of m.up(ctx)) {
      try {
        await ch.command(stmt);
      } catch (err) {
        if (!(isAddColumn(stmt) && COLUMN_EXISTS.test((err as Error).message))) throw err;
      }
    }
    await ch.insert(table, [
      { component, version: m.version, name: m.name, applied_at: Math.floor(Date.now() / 1000) },
    ]);
    done.push(m.version);
  }
  return done;
}
