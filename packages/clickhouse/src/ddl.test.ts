import { describe, expect, it } from 'vitest';
import { renderCreateDatabase, renderCreateTable, renderCreateView, type TableDef } from './ddl.js';

const def: TableDef = {
  database: 'ms',
  name: 'windows',
  columns: 'k String, v UInt64, ver UInt64',
  engine: 'ReplacingMergeTree',
  engineArgs: ['ver'],
  partitionBy: 'toYYYYMM(hour)',
  orderBy: '(k)',
  shardingKey: 'cityHash64(k)',
};

describe('DDL rendering', () => {
  it('renders a single-server table', () => {
    expect(renderCreateTable(def, { kind: 'single' })).toEqual([
      'CREATE TABLE IF NOT EXISTS ms.windows (k String, v UInt64, ver UInt64) ENGINE = ReplacingMergeTree(ver) PARTITION BY toYYYYMM(hour) ORDER BY (k)',
    ]);
  });

  it('renders replicated local tables plus a Distributed table for a cluster', () => {
    const [local, dist] = renderCreateTable(def, { kind: 'cluster', cluster: 'prod' });
    expect(local).toBe(
      "CREATE TABLE IF NOT EXISTS ms.windows_local ON CLUSTER prod (k String, v UInt64, ver UInt64) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/ms/windows_local', '{replica}', ver) PARTITION BY toYYYYMM(hour) ORDER BY (k)",
    );
    expect(dist).toBe(
      'CREATE TABLE IF NOT EXISTS ms.windows ON CLUSTER prod AS ms.windows_local ENGINE = Distributed(prod, ms, windows_local, cityHash64(k))',
    );
    expect(renderCreateDatabase('ms', { kind: 'cluster', cluster: 'prod' })).toBe(
      'CREATE DATABASE IF NOT EXISTS ms ON CLUSTER prod',
    );
    expect(renderCreateView('ms', 'v', 'SELECT 1', { kind: 'cluster', cluster: 'prod' })).toBe(
      'CREATE VIEW IF NOT EXISTS ms.v ON CLUSTER prod AS SELECT 1',
    );
  });

  it('refuses identifiers that are not plain names', () => {
    expect(() => renderCreateTable({ ...def, name: 'x; DROP' }, { kind: 'single' })).toThrow();
    expect(() => renderCreateDatabase('a', { kind: 'cluster', cluster: "c'" })).toThrow();
  });
});
