// Unit tests of the demo's pure steps: options, the customers' partitions, the expected billing
// per row, when a row matches, and the table.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PARTITIONS, contractEntitlements, partitionOf, pickCustomers } from './customers.mjs';
import type { DemoCustomer } from './customers.mjs';
import { expectedRows, progressLine, tableRow, type RowSpec } from './expect.mjs';
import { ROOT, logFile, parseOptions, type DemoOptions } from './options.mjs';
import { tableLines } from './report.mjs';

const parse = (argv: string[], env: Record<string, string> = {}): DemoOptions => {
  const o = parseOptions(argv, env, 'abc123');
  if (o.help) throw new Error('help');
  return o;
};

describe('parseOptions', () => {
  it('derives names, ports and URLs from the defaults', () => {
    const o = parse([]);
    expect(o).toMatchObject({
      name: 'demo',
      once: false,
      ownAws: true,
      hours: 4,
      timeoutS: 240,
      database: 'meterstream_demo',
      topic: 'meterstream.demo.abc123.usage',
      awsUrl: 'http://127.0.0.1:4567',
      kafka: '127.0.0.1:9092',
      clickhouse: 'http://127.0.0.1:8123',
      registry: 'http://127.0.0.1:8081/apis/ccompat/v7',
      ports: {
        ingest: 8080,
        aggregator: 9101,
        submitter: 9102,
        auditor: 9103,
        console: 8090,
        aws: 4567,
      },
    });
    expect(logFile(o, 'ingest')).toBe(path.join(ROOT, '.stack', 'logs', 'demo-ingest.log'));
  });

  it('moves every port with --port-base and names logs after --name', () => {
    const o = parse([
      '--port-base',
      '20000',
      '--name',
      'sys',
      '--once',
      '--faults',
      '--hours',
      '2',
    ]);
    expect(o.ports).toEqual({
      ingest: 20000,
      aggregator: 20001,
      submitter: 20002,
      auditor: 20003,
      console: 20004,
      aws: 20005,
    });
    expect(o).toMatchObject({
      once: true,
      faults: true,
      hours: 2,
      awsUrl: 'http://127.0.0.1:20005',
    });
    expect(logFile(o, 'aws')).toBe(path.join(ROOT, '.stack', 'logs', 'demo-sys-aws.log'));
    expect(o.data).toBe(path.join(ROOT, '.stack', 'data', 'demo', 'sys'));
  });

  it('reads the environment: stack endpoints, the stack emulator, the name', () => {
    const o = parse([], {
      MS_DEMO_NAME: 'envname',
      MS_DEMO_STACK_AWS: '1',
      MS_AWS_PORT: '4999',
      MS_KAFKA_BROKERS: 'k:1,k:2',
    });
    expect(o).toMatchObject({
      name: 'envname',
      ownAws: false,
      awsUrl: 'http://127.0.0.1:4999',
      kafka: 'k:1,k:2',
    });
  });

  it('answers --help, and rejects a bad name, bad hours, and faults on the shared emulator', () => {
    expect(parseOptions(['--help'], {})).toEqual({ help: true });
    expect(() => parse(['--name', 'Bad'])).toThrow(/--name must match/);
    expect(() => parse(['--hours', '21'])).toThrow('--hours must be 1..20');
    expect(() => parse(['--hours', '1.5'])).toThrow('--hours must be 1..20');
    expect(() => parse(['--faults', '--stack-aws'])).toThrow(/--faults needs the private emulator/);
  });
});

const subPlan = { productCode: 'demo-analytics' };
const conPlan = { productCode: 'demo-platform' };

describe('customers', () => {
  it('partitions keys as Kafka’s murmur2 default partitioner does', () => {
    // The Java client's own test vectors (UtilsTest: Utils.murmur2), as toPositive(h) % n.
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, h] of vectors) expect(partitionOf(key, 997), key).toBe((h & 0x7fffffff) % 997);
  });

  it('picks customers whose keys cover every partition, with two contract accounts', () => {
    const all = pickCustomers('run1', subPlan, conPlan) ?? [];
    expect(all.filter((c) => c.kind === 'identifier').map((c) => c.id)).toEqual([
      expect.stringMatching(/^acme-run1/),
      expect.stringMatching(/^globex-run1/),
      expect.stringMatching(/^initech-run1/),
      expect.stringMatching(/^umbrella-run1/),
    ]);
    const accounts = all.filter((c) => c.kind === 'account');
    expect(accounts).toHaveLength(2);
    for (const a of accounts) expect(a.licenseArn).toContain(`::${a.id}:license:l-`);
    const partitions = new Set(
      all.map((c) => partitionOf(`${c.plan.productCode}|${c.id}`, PARTITIONS)),
    );
    expect(partitions.size).toBe(PARTITIONS);
  });
});

describe('expected billing', () => {
  const sub: DemoCustomer = { plan: subPlan, id: 'acme', kind: 'identifier' };
  const conLow: DemoCustomer = { plan: conPlan, id: '111', kind: 'account' };
  const conHigh: DemoCustomer = { plan: conPlan, id: '222', kind: 'account' };
  const ev = (id: string, c: DemoCustomer, dimension: string, quantity: string) => ({
    id,
    productCode: c.plan.productCode,
    ...(c.kind === 'account' ? { customerAwsAccountId: c.id } : { customerIdentifier: c.id }),
    dimension,
    quantity,
  });
  const dims: Record<string, string[]> = {
    'demo-analytics': ['api_calls'],
    'demo-platform': ['seats', 'compute_hours'],
  };
  const spec = expectedRows({
    sent: new Map(
      [
        ev('1', sub, 'api_calls', '10.75'),
        ev('2', sub, 'api_calls', '0.5'),
        ev('3', conLow, 'seats', '45.5'),
        ev('4', conHigh, 'seats', '45.5'),
      ].map((e) => [e.id, e]),
    ),
    customers: [sub, conLow, conHigh],
    entitlement: contractEntitlements([sub, conLow, conHigh]),
    dimsAt: (plan) => dims[plan.productCode] ?? [],
    firstHour: 0,
    lastHour: 0,
  });
  const byKey = new Map(spec.map((s) => [s.k, s]));

  it('bills floor(Σ usage) for subscriptions, floor(usage beyond the entitlement) for contracts', () => {
    expect(byKey.get('demo-analytics|acme|api_calls')).toMatchObject({
      usage: 11_250_000n,
      ent: undefined,
      expectedBilled: 11n,
    });
    expect(byKey.get('demo-platform|111|seats')).toMatchObject({
      ent: 40_000_000n,
      expectedBilled: 5n,
    });
    expect(byKey.get('demo-platform|222|seats')).toMatchObject({
      ent: 400_000_000n,
      expectedBilled: 0n,
    });
    expect(byKey.get('demo-platform|111|compute_hours')).toMatchObject({
      usage: 0n,
      expectedBilled: 0n,
    });
    expect(spec).toHaveLength(5);
  });

  const row = (s: RowSpec, over: Partial<Parameters<typeof tableRow>[1]> = {}) =>
    tableRow(s, {
      l: { recs: 3, qty: String(s.expectedBilled), open: 0 },
      w: { n: 3, micros: String(s.usage) },
      ct: { recs: 3, qty: String(s.expectedBilled) },
      b: { recs: 3, qty: s.expectedBilled },
      stat: { events: 4, dupes: 1, late: 0 },
      lates: '1',
      ...over,
    });

  it('matches a row only when windows, ledger, AWS and CloudTrail all agree and nothing is open', () => {
    const s = byKey.get('demo-analytics|acme|api_calls')!;
    expect(row(s)).toMatchObject({
      uniqueQuantity: '11.25',
      windowQuantity: '11.25',
      entitlement: null,
      late: 1,
      matched: true,
    });
    expect(row(s, { l: { recs: 3, qty: '11', open: 1 } }).matched).toBe(false);
    expect(row(s, { b: { recs: 3, qty: 12n } }).matched).toBe(false);
    expect(row(s, { ct: { recs: 2, qty: '11' } }).matched).toBe(false);
    expect(row(s, { w: { n: 3, micros: '11000000' } }).matched).toBe(false);
    expect(row(s, { f: { kinds: ['missing_in_cloudtrail'] } }).matched).toBe(false);
    expect(row(s, { l: undefined, ct: undefined }).matched).toBe(false);
  });

  it('reports progress per stage, and prints a table with text left and numbers right', () => {
    const s = byKey.get('demo-analytics|acme|api_calls')!;
    const rows = [row(s), row(byKey.get('demo-platform|111|seats')!, { b: { recs: 0, qty: 0n } })];
    expect(progressLine(rows)).toBe(
      'rows 2: windows complete 2, ledger sent 2, billed 1, audited 1',
    );
    const lines = tableLines(rows);
    expect(lines).toHaveLength(4);
    expect(lines[0]?.split(/ {2,}/).slice(0, 4)).toEqual([
      'product',
      'customer',
      'dimension',
      'events',
    ]);
    expect(lines[1]).toMatch(/^─+ {2}─+/);
    expect(lines[2]).toMatch(/ 11\.25 .* matched +$/);
    expect(lines[3]).toMatch(/ MISMATCH$/);
    expect(lines[3]).toContain('  40  ');
  });
});
