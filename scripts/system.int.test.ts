// The system test: the whole pipeline with every service as its own process (the demo, run
// non-interactively), on a fresh database, topic, consumer group, customer ids, ports and a
// private AWS emulator (the demo's default), so it collides neither with a running demo nor with
// other tests.
// The emulator throttles, fails, drops answers and leaves records unprocessed (--faults).
// Asserts, per customer and dimension, Σ billed by AWS == Σ unique usage (rounded once; beyond the
// entitlement for contracts), recomputed here from the demo's own report, and zero audit findings.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ClickHouse, allowIdentifiers } from '@meterstream/clickhouse';
import { createKafka } from '@meterstream/kafka';
import { freshName, testLogger, testStack } from '@meterstream/testing';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LIMIT_MS = 5 * 60_000;

interface Row {
  product: string;
  customer: string;
  dimension: string;
  events: number;
  duplicates: number;
  late: number;
  uniqueQuantity: string;
  entitlement: string | null;
  windows: number;
  recordsSent: number;
  expectedBilled: number;
  billed: number;
  ledgerQuantity: number;
  cloudTrailQuantity: number;
  cloudTrailRecords: number;
  findings: string[];
  matched: boolean;
}
interface Report {
  database: string;
  topic: string;
  allMatched: boolean;
  openFindings: { kind: string; n: string }[];
  console: { signedIn: boolean; contractCustomersListed: number };
  rows: Row[];
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Six consecutive free ports (ingest, aggregator, submitter, auditor, console, emulator). */
async function freePortBase(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const base = 20_000 + Math.floor(Math.random() * 9_000);
    let free = true;
    for (let p = base; p < base + 6 && free; p++) free = await portFree(p);
    if (free) return base;
  }
  throw new Error('no six consecutive free ports');
}

const MICROS = 1_000_000n;
const micros = (q: string): bigint => {
  const [i = '0', f = ''] = q.split('.');
  return BigInt(i) * MICROS + BigInt(`${f}000000`.slice(0, 6));
};

describe('system: npm run demo -- --once', () => {
  const name = freshName('systest').toLowerCase();
  const work = mkdtempSync(path.join(tmpdir(), 'ms-system-'));
  const jsonFile = path.join(work, 'report.json');
  let report: Report | undefined;

  afterAll(async () => {
    const stack = await testStack();
    const db = `meterstream_${name}`;
    allowIdentifiers(db);
    const ch = new ClickHouse({ url: stack.clickhouseUrl });
    await ch.command(`DROP DATABASE IF EXISTS ${db}`);
    await ch.close();
    if (report?.topic) {
      const kafka = createKafka({
        brokers: stack.kafkaBrokers,
        clientId: 'meterstream-test',
        logger: testLogger('kafka'),
      });
      const admin = kafka.admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [report.topic] }).catch(() => undefined);
      await admin.disconnect();
    }
    rmSync(work, { recursive: true, force: true });
    rmSync(path.join(ROOT, '.stack', 'data', 'demo', name), { recursive: true, force: true });
  }, 60_000);

  it(
    'bills exactly the unique usage per customer and dimension, with zero audit findings',
    async () => {
      const stack = await testStack();
      const base = await freePortBase();
      const out: string[] = [];
      const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [
            'scripts/demo.mjs',
            '--once',
            '--name',
            name,
            '--port-base',
            String(base),
            '--faults',
            '--no-install',
            '--no-build',
            '--no-stack',
            '--timeout',
            '150',
            '--json',
            jsonFile,
          ],
          {
            cwd: ROOT,
            env: {
              ...process.env,
              MS_KAFKA_BROKERS: stack.kafkaBrokers.join(','),
              MS_SCHEMA_REGISTRY_URL: stack.schemaRegistryUrl,
              MS_CLICKHOUSE_URL: stack.clickhouseUrl,
              MS_SMTP_HOST: stack.smtpHost,
              MS_SMTP_PORT: String(stack.smtpPort),
            },
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        child.stdout.on('data', (d: Buffer) => out.push(d.toString()));
        child.stderr.on('data', (d: Buffer) => out.push(d.toString()));
        const timer = setTimeout(() => child.kill('SIGTERM'), LIMIT_MS - 20_000);
        child.on('error', reject);
        child.on('exit', (c) => {
          clearTimeout(timer);
          resolve(c);
        });
      });
      const log = out.join('');
      expect(code, log).toBe(0);
      report = JSON.parse(readFileSync(jsonFile, 'utf8')) as Report;
      expect(report.allMatched, log).toBe(true);
      expect(report.openFindings, log).toEqual([]);
      expect(report.console).toEqual({ signedIn: true, contractCustomersListed: 2 });

      const rows = report.rows;
      // Both products, several customers, and the generator did send duplicates and late events.
      expect(new Set(rows.map((r) => r.product)).size).toBe(2);
      expect(new Set(rows.map((r) => r.customer)).size).toBeGreaterThanOrEqual(4);
      expect(rows.reduce((s, r) => s + r.duplicates, 0)).toBeGreaterThan(0);
      expect(rows.reduce((s, r) => s + r.late, 0)).toBeGreaterThan(0);
      expect(rows.some((r) => r.entitlement !== null && r.billed > 0)).toBe(true);
      expect(rows.some((r) => r.entitlement !== null && r.billed === 0)).toBe(true);

      for (const r of rows) {
        const usage = micros(r.uniqueQuantity);
        const ent = r.entitlement === null ? 0n : micros(r.entitlement);
        const billable = usage > ent ? usage - ent : 0n;
        const want = Number(billable / MICROS);
        const where = `${r.product} ${r.customer} ${r.dimension}`;
        expect(r.billed, where).toBe(want);
        expect(r.ledgerQuantity, where).toBe(want);
        expect(r.cloudTrailQuantity, where).toBe(want);
        expect(r.cloudTrailRecords, where).toBe(r.recordsSent);
        expect(r.findings, where).toEqual([]);
        expect(r.windows, where).toBeGreaterThan(0);
      }
    },
    LIMIT_MS,
  );
});
