import { MeterstreamError } from '@meterstream/errors';

/** How ClickHouse is deployed: one server, or a cluster with replicated shards. */
export type Topology = { kind: 'single' } | { kind: 'cluster'; cluster: string };

/** Engines we use; the cluster rendering picks their Replicated variant. */
export type EngineName =
  'MergeTree' | 'ReplacingMergeTree' | 'SummingMergeTree' | 'AggregatingMergeTree';

/** A table as migrations describe it, independent of topology. */
export interface TableDef {
  database: string;
  name: string;
  /** Column definitions, e.g. `id String, ts DateTime`. Trusted text from our code. */
  columns: string;
  engine: EngineName;
  /** Engine arguments, e.g. the version column of a ReplacingMergeTree. */
  engineArgs?: string[];
  partitionBy?: string;
  orderBy: string;
  /** Sharding key of the Distributed table in a cluster (default `rand()`). */
  shardingKey?: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkName(n: string): string {
  if (!NAME.test(n))
    throw new MeterstreamError('CONFIG_INVALID', `illegal identifier in DDL: ${JSON.stringify(n)}`);
  return n;
}

function onCluster(t: Topology): string {
  return t.kind === 'cluster' ? ` ON CLUSTER ${checkName(t.cluster)}` : '';
}

/** `CREATE DATABASE IF NOT EXISTS`, with ON CLUSTER in a cluster. */
export function renderCreateDatabase(database: string, t: Topology): string {
  return `CREATE DATABASE IF NOT EXISTS ${checkName(database)}${onCluster(t)}`;
}

/**
 * Renders a table's DDL. Single server: one MergeTree-family table. Cluster: a Replicated table
 * `<name>_local` on every node (ZooKeeper path per shard) plus a Distributed table `<name>` over
 * it, so queries and inserts use the same name in both topologies. Syntax works on 18.16+.
 */
export function renderCreateTable(def: TableDef, t: Topology): string[] {
  const db = checkName(def.database);
  const name = checkName(def.name);
  const args = (def.engineArgs ?? []).join(', ');
  const tail = `${def.partitionBy ? ` PARTITION BY ${def.partitionBy}` : ''} ORDER BY ${def.orderBy}`;
  if (t.kind === 'single') {
    return [
      `CREATE TABLE IF NOT EXISTS ${db}.${name} (${def.columns}) ENGINE = ${def.engine}(${args})${tail}`,
    ];
  }
  const local = `${name}_local`;
  const zkArgs = [
    `'/clickhouse/tables/{shard}/${db}/${local}'`,
    `'{replica}'`,
    ...(def.engineArgs ?? []),
  ].join(', ');
  return [
    `CREATE TABLE IF NOT EXISTS ${db}.${local}${onCluster(t)} (${def.columns}) ENGINE = Replicated${def.engine}(${zkArgs})${tail}`,
    `CREATE TABLE IF NOT EXISTS ${db}.${name}${onCluster(t)} AS ${db}.${local} ENGINE = Distributed(${checkName(t.cluster)}, ${db}, ${local}, ${def.shardingKey ?? 'rand()'})`,
  ];
}

/**
 * `ALTER TABLE … ADD COLUMN` (on the `_local` table and the Distributed table in a cluster).
 * ClickHouse 18.16 has no `ADD COLUMN IF NOT EXISTS`, so the statement is not idempotent by
 * itself; {@link migrate} treats "column already exists" of exactly this statement as applied.
 * `column` is trusted text from our code, e.g. `usage_from_hour DateTime DEFAULT hour`.
 */
export function renderAddColumn(
  database: string,
  table: string,
  column: string,
  t: Topology,
): string[] {
  const db = checkName(database);
  const name = checkName(table);
  const add = ` ADD COLUMN ${column}`;
  return t.kind === 'single'
    ? [`ALTER TABLE ${db}.${name}${add}`]
    : [
        `ALTER TABLE ${db}.${name}_local${onCluster(t)}${add}`,
        `ALTER TABLE ${db}.${name}${onCluster(t)}${add}`,
      ];
}

/** True for a statement rendered by {@link renderAddColumn}. */
export function isAddColumn(statement: string): boolean {
  return /^ALTER TABLE [A-Za-z0-9_.]+( ON CLUSTER [A-Za-z0-9_]+)? ADD COLUMN /.test(statement);
}

/** `CREATE VIEW IF NOT EXISTS` (a plain view; `select` is trusted text from our code). */
export function renderCreateView(
  database: string,
  name: string,
  select: string,
  t: Topology,
): string {
  return `CREATE VIEW IF NOT EXISTS ${checkName(database)}.${checkName(name)}${onCluster(t)} AS ${select}`;
}

/** `DROP TABLE IF EXISTS` for a table or view (and its `_local` part in a cluster). */
export function renderDropTable(database: string, name: string, t: Topology): string[] {
  const base = `DROP TABLE IF EXISTS ${checkName(database)}.${checkName(name)}${onCluster(t)}`;
  return t.kind === 'cluster'
    ? [base, `DROP TABLE IF EXISTS ${database}.${name}_local${onCluster(t)}`]
    : [base];
}
