import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '@meterstream/testing';
import { allowIdentifiers, ident, sql } from './escape.js';
import { migrate, type Migration } from './migrations.js';
import { isAddColumn, renderAddColumn, renderCreateTable } from './ddl.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase('chint');
});
afterAll(async () => {
  await db?.drop();
});

describe('ClickHouse through @clickhouse/client (runs on 18.16 and current)', () => {
  it('creates, inserts, selects and drops', async () => {
    allowIdentifiers('things');
    const t = ident(`${db.name}.things`);
    for (const s of renderCreateTable(
      {
        database: db.name,
        name: 'things',
        columns: 'id UInt64, name String, at DateTime',
        engine: 'MergeTree',
        orderBy: 'id',
      },
      { kind: 'single' },
    )) {
      await db.ch.command(s);
    }
    await db.ch.insert(t, [
      { id: 1, name: 'one', at: 1_700_000_000 },
      { id: 2, name: 'two', at: 1_700_000_001 },
    ]);
    await db.ch.command(
      sql`INSERT INTO ${t} (id, name, at) VALUES (${3}, ${"th'ree"}, ${new Date(1_700_000_002_000)})`,
    );
    const rows = await db.ch.query<{ id: string; name: string; at: string }>(
      sql`SELECT id, name, toUnixTimestamp(at) AS at FROM ${t} ORDER BY id`,
    );
    expect(rows.map((r) => [Number(r.id), r.name, Number(r.at)])).toEqual([
      [1, 'one', 1_700_000_000],
      [2, 'two', 1_700_000_001],
      [3, "th'ree", 1_700_000_002],
    ]);
    await db.ch.command(sql`DROP TABLE ${t}`);
    const left = await db.ch.query(
      sql`SELECT name FROM system.tables WHERE database = ${db.name} AND name = 'things'`,
    );
    expect(left).toEqual([]);
  });

  it('round-trips quotes, backslashes, newlines, NUL and unicode through the escaping helper', async () => {
    const samples = [
      "'",
      "\\'",
      '\\',
      '\n\r\t',
      'a\0b',
      '\x01\x1f\x7f',
      'ünï©ødé 🚀 ∑',
      "'; DROP TABLE x; --",
      "\\\\''",
      '',
    ];
    for (const s of samples) {
      const [row] = await db.ch.query<{ v: string }>(sql`SELECT ${s} AS v`);
      expect(row?.v).toBe(s);
    }
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 40 }), async (s) => {
        const [row] = await db.ch.query<{ v: string; n: string }>(
          sql`SELECT ${s} AS v, length(${s}) AS n`,
        );
        expect(row?.v).toBe(s);
        expect(Number(row?.n)).toBe(Buffer.byteLength(s));
      }),
      { numRuns: 60 },
    );
  });

  it('applies numbered migrations once', async () => {
    const ran: number[] = [];
    const migrations: Migration[] = [
      {
        version: 1,
        name: 'a',
        up: (ctx) => (
          ran.push(1),
          [
            `CREATE TABLE IF NOT EXISTS ${ctx.database}.m1 (x UInt8) ENGINE = MergeTree() ORDER BY x`,
          ]
        ),
      },
      {
        version: 2,
        name: 'b',
        up: (ctx) => (
          ran.push(2),
          [`CREATE VIEW IF NOT EXISTS ${ctx.database}.v1 AS SELECT x FROM ${ctx.database}.m1`]
        ),
      },
    ];
    const ctx = { database: db.name, topology: { kind: 'single' } as const };
    expect(await migrate(db.ch, 'comp', migrations, ctx)).toEqual([1, 2]);
    expect(await migrate(db.ch, 'comp', migrations, ctx)).toEqual([]);
    expect(ran).toEqual([1, 2]);
    await expect(migrate(db.ch, 'comp', [migrations[1]!, migrations[0]!], ctx)).rejects.toThrow(
      /increasing/,
    );
  });

  it('applies migrations with a gap in the versions and an ADD COLUMN that already ran', async () => {
    const ctx = { database: db.name, topology: { kind: 'single' } as const };
    const table: Migration = {
      version: 1,
      name: 't',
      up: (c) => [
        `CREATE TABLE IF NOT EXISTS ${c.database}.g1 (h DateTime, x UInt8) ENGINE = MergeTree ORDER BY h`,
      ],
    };
    const column: Migration = {
      version: 3,
      name: 'column',
      up: (c) => renderAddColumn(c.database, 'g1', 'h2 DateTime DEFAULT h', c.topology),
    };
    expect(await migrate(db.ch, 'gap', [table], ctx)).toEqual([1]);
    // A crash after the ALTER and before the migration was recorded: the next start re-runs it.
    for (const stmt of column.up(ctx)) await db.ch.command(stmt);
    expect(await migrate(db.ch, 'gap', [table, column], ctx)).toEqual([3]);
    // Version 2 arrives later (another branch): applied then, the others are not re-run.
    const two: Migration = { version: 2, name: 'two', up: () => [] };
    expect(await migrate(db.ch, 'gap', [table, two, column], ctx)).toEqual([2]);
    expect(isAddColumn(renderAddColumn('a', 'b', 'c UInt8', ctx.topology)[0] ?? '')).toBe(true);
    // Any other failure of an ADD COLUMN still stops the migration.
    const broken: Migration = {
      version: 4,
      name: 'broken',
      up: (c) => renderAddColumn(c.database, 'missing_table', 'c UInt8', c.topology),
    };
    await expect(migrate(db.ch, 'gap', [table, broken], ctx)).rejects.toThrow();
  });

  it('maps a refused connection to a retriable error', async () => {
    const { ClickHouse } = await import('./client.js');
    const dead = new ClickHouse({ url: 'http://127.0.0.1:1', requestTimeoutMs: 2000 });
    await expect(dead.query('SELECT 1')).rejects.toMatchObject({
      code: 'CLICKHOUSE_UNAVAILABLE',
      retriable: true,
    });
    expect(await dead.ping()).toBe(false);
    await dead.close();
  });
});
