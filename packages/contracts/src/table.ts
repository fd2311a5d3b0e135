import {
  allowIdentifiers,
  ident,
  renderCreateTable,
  type MigrationContext,
  type SqlFragment,
  type TableDef,
} from '@meterstream/clickhouse';

/** A ClickHouse table as every service sees it: its name, and the DDL of its first version. */
export interface Table {
  readonly name: string;
  /** `db.name`, quoted for a query. */
  in(database: string): SqlFragment;
  /** The statements that create the table as its first migration made it (both topologies). */
  create(ctx: MigrationContext): string[];
}

/**
 * Declares a table: its name joins the SQL identifier allow-list, and `create` renders the DDL of
 * its first version (later changes are their own statements, e.g. `renderAddColumn`).
 */
export function defineTable(
  def: Omit<TableDef, 'database' | 'columns'> & { columns: readonly string[] },
): Table {
  allowIdentifiers(def.name);
  return {
    name: def.name,
    in: (database) => ident(`${database}.${def.name}`),
    create: ({ database, topology }) =>
      renderCreateTable({ ...def, database, columns: def.columns.join(', ') }, topology),
  };
}

/**
 * The columns that say whose usage a record is, in the order the CloudTrail and console tables
 * were created with (a table's DDL never changes once created).
 */
export const USAGE_KEY_COLUMNS = [
  'product_code String',
  'customer String',
  'customer_kind String',
  'license_arn String',
  'dimension String',
  'hour DateTime',
] as const;

/** Epoch ms → the whole seconds a `DateTime` column is written with. */
export const toSeconds = (ms: number): number => Math.floor(ms / 1000);

/** A `DateTime` read as `toUnixTimestamp(…)` → epoch ms. */
export const fromSeconds = (v: unknown): number => Number(v) * 1000;

/** A column read as text (64-bit integers are read with `toString` to stay exact). */
export const text = (v: unknown): string => (v === null || v === undefined ? '' : String(v));

/** A 64-bit integer read with `toString(…)`. */
export const bigint = (v: unknown): bigint => BigInt(text(v) || '0');

/** A `JSON.stringify` replacer that writes 64-bit values (bigint) as decimal strings. */
export const bigintAsString = (_key: string, v: unknown): unknown =>
  typeof v === 'bigint' ? v.toString() : v;

/** A row as ClickHouse returns it in `FORMAT JSON` (numbers may come as strings). */
export type Row = Record<string, unknown>;

/**
 * Versions of rows written together at `nowMs`: microseconds, one apart, so the batch's order is
 * kept and a later write always wins.
 */
export function batchVersion(nowMs: number, index: number): string {
  return (BigInt(nowMs) * 1000n + BigInt(index)).toString();
}
