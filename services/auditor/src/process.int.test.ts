import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BatchMeterUsageCommand,
  MarketplaceMeteringClient,
} from '@aws-sdk/client-marketplace-metering';
import { startEmulator } from '@meterstream/aws-emulator';
import { migrate } from '@meterstream/clickhouse';
import {
  childEnv,
  freshDatabase,
  freshName,
  testLogger,
  testStack,
  waitFor,
} from '@meterstream/testing';
import { describe, expect, it } from 'vitest';
import { SUBMITTER_MIGRATIONS } from '@meterstream/submitter';
import { migrateAuditor } from './migrations.js';
import { runAuditOnce, type AuditorConfig } from './auditor.js';
import { EmailNotifier, SlackNotifier } from './notify.js';
import type { LookupEventsApi } from './reader.js';
import { AuditStore } from './store.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const mainJs = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const H = 3_600_000;

const config = (database: string): AuditorConfig => ({
  database,
  topology: { kind: 'single' },
  deliveryGraceMs: 500,
  initialLookbackMs: 2 * H,
  reconcileLookbackMs: 2 * H,
  intervalMs: 200,
  pageSize: 50,
  lookupBy: 'EventSource',
  lookupRatePerSecond: 2,
  maxRetries: 3,
  checkpointName: 'cloudtrail',
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('auditor process', () => {
  it('runs from dist/main.js: metrics, health, readiness, findings, graceful SIGTERM', async () => {
    execFileSync('npx', ['tsc', '-b', 'services/auditor'], { cwd: root, stdio: 'inherit' });
    const db = await freshDatabase('auditorproc');
    const dir = mkdtempSync(join(tmpdir(), 'auditor-proc-'));
    const emulator = await startEmulator({
      port: 0,
      stateFile: join(dir, 'state.json'),
      cloudTrailDelayMs: 100,
    });
    const metering = new MarketplaceMeteringClient({
      endpoint: emulator.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      maxAttempts: 1,
    });
    let child: ChildProcess | undefined;
    try {
      await migrate(db.ch, 'submitter', SUBMITTER_MIGRATIONS, {
        database: db.name,
        topology: { kind: 'single' },
      });
      await fetch(`${emulator.url}/_admin/products/prod-p`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ dimensions: ['d'] }),
      });
      // A record AWS billed that no ledger row explains: the running auditor must report it.
      await fetch(`${emulator.url}/_admin/subscriptions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ productCode: 'prod-p', customerIdentifier: 'who' }),
      });
      await metering.send(
        new BatchMeterUsageCommand({
          ProductCode: 'prod-p',
          UsageRecords: [
            {
              CustomerIdentifier: 'who',
              Dimension: 'd',
              Quantity: 3,
              Timestamp: new Date(Math.floor(Date.now() / H) * H),
            },
          ],
        }),
      );
      const stack = await testStack();
      const port = await freePort();
      child = spawn(process.execPath, [mainJs], {
        cwd: root,
        env: childEnv({
          MS_CLICKHOUSE_URL: stack.clickhouseUrl,
          MS_CLICKHOUSE_DATABASE: db.name,
          MS_AWS_ENDPOINT: emulator.url,
          MS_AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
          MS_AWS_SECRET_ACCESS_KEY: 'secret',
          MS_AUDITOR_PORT: String(port),
          MS_AUDITOR_INTERVAL_MS: '300',
          MS_AUDITOR_DELIVERY_GRACE_MS: '500',
          MS_LOG_LEVEL: 'error',
        }),
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      const base = `http://127.0.0.1:${port}`;
      await waitFor('healthz', async () =>
        (await fetch(`${base}/healthz`)).ok ? true : undefined,
      );
      await waitFor('readyz', async () =>
        (await fetch(`${base}/readyz`)).status === 200 ? true : undefined,
      );
      const text = await waitFor('finding metric', async () => {
        const t = await (await fetch(`${base}/metrics`)).text();
        return t.includes('meterstream_auditor_findings_open{kind="unknown_to_ledger"} 1')
          ? t
          : undefined;
      });
      expect(text).toMatch(/meterstream_auditor_last_success_timestamp_seconds \d/);
      expect(text).toMatch(/meterstream_auditor_cloudtrail_lag_seconds \d/);
      expect(text).toContain('meterstream_auditor_findings_total{kind="unknown_to_ledger"} 1');
      // The CLI as cron would run it: non-zero while the finding is unexplained.
      const cliJs = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
      const cliEnv = childEnv({
        MS_CLICKHOUSE_URL: stack.clickhouseUrl,
        MS_CLICKHOUSE_DATABASE: db.name,
      });
      const report = spawnSync(
        process.execPath,
        [cliJs, 'audit', 'report', '--from', 'now-2h', '--to', 'now'],
        {
          env: cliEnv,
          encoding: 'utf8',
        },
      );
      expect(report.stderr).toBe('');
      expect(report.status).toBe(2);
      expect(report.stdout).toContain('[unknown_to_ledger] prod-p / who / d');
      expect(report.stdout).toContain('1 unexplained finding(s).');
      const exit = new Promise<number | null>((r) => child?.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
      child = undefined;
    } finally {
      child?.kill('SIGKILL');
      metering.destroy();
      await emulator.close();
      rmSync(dir, { recursive: true, force: true });
      await db.drop();
    }
  });

  it('an unparseable event becomes one finding with the raw event, and the audit goes on', async () => {
    const db = await freshDatabase('auditorbad');
    try {
      await migrate(db.ch, 'submitter', SUBMITTER_MIGRATIONS, {
        database: db.name,
        topology: { kind: 'single' },
      });
      await migrateAuditor(db.ch, db.name, { kind: 'single' });
      const now = Date.now();
      const good = {
        eventVersion: '1.08',
        eventTime: new Date(now - 60_000).toISOString(),
        eventSource: 'metering-marketplace.amazonaws.com',
        eventName: 'BatchMeterUsage',
        eventID: 'ev-good',
        requestParameters: {
          productCode: 'p',
          usageRecords: [
            {
              timestamp: new Date(Math.floor(now / H) * H).toISOString(),
              customerIdentifier: 'c',
              dimension: 'd',
              quantity: 1,
            },
          ],
        },
        responseElements: { results: [], unprocessedRecords: [] },
      };
      const raw =
        '{"eventID":"ev-bad","eventSource":"metering-marketplace.amazonaws.com","eventName":"BatchMeterUsage","eventTime":"2026-11-26T10:00:00Z","requestParameters":{"usageRecords":"??"}}';
      const api: LookupEventsApi = {
        lookupEvents: async () => ({
          Events: [
            { EventId: 'ev-bad', EventTime: new Date(now - 30_000), CloudTrailEvent: raw },
            {
              EventId: 'ev-good',
              EventTime: new Date(now - 60_000),
              CloudTrailEvent: JSON.stringify(good),
            },
            {
              EventId: 'ev-worse',
              EventTime: new Date(now - 90_000),
              CloudTrailEvent: 'not json at all',
            },
          ],
        }),
      };
      const seen: string[] = [];
      const deps = {
        ch: db.ch,
        cloudTrail: api,
        logger: testLogger('auditor'),
        notifiers: [
          {
            name: 'capture',
            notify: async (fs: readonly { kind: string }[]) =>
              void seen.push(...fs.map((f) => f.kind)),
          },
        ],
      };
      const r = await runAuditOnce(config(db.name), deps);
      expect(r.newEvents).toBe(3);
      expect(r.unparseableEvents).toBe(2);
      await runAuditOnce(config(db.name), deps);
      const store = new AuditStore(db.ch, db.name);
      const findings = (await store.findings()).filter((f) => f.kind === 'unparseable_event');
      expect(findings.map((f) => f.eventIds[0]).sort()).toEqual(['ev-bad', 'ev-worse']);
      expect(findings.find((f) => f.eventIds[0] === 'ev-bad')?.raw).toBe(raw);
      expect(seen.filter((k) => k === 'unparseable_event')).toHaveLength(2);
      expect(await store.countEvents()).toBe(3);
    } finally {
      await db.drop();
    }
  });

  it('notifies Slack and email once each: a failed channel is retried alone', async () => {
    const bodies: string[] = [];
    let fail = true;
    const server = createServer((req: IncomingMessage, res) => {
      let b = '';
      req.on('data', (c: Buffer) => (b += c.toString()));
      req.on('end', () => {
        bodies.push(b);
        res.writeHead(fail ? 500 : 200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const stack = await testStack();
    const mailbox = `${freshName('auditor')}@test.example`.toLowerCase();
    const email = new EmailNotifier({
      host: stack.smtpHost,
      port: stack.smtpPort,
      secure: false,
      user: '',
      password: '',
      from: 'auditor@test.example',
      to: [mailbox],
    });
    const db = await freshDatabase('auditornotify');
    try {
      await migrate(db.ch, 'submitter', SUBMITTER_MIGRATIONS, {
        database: db.name,
        topology: { kind: 'single' },
      });
      await migrateAuditor(db.ch, db.name, { kind: 'single' });
      const deps = {
        ch: db.ch,
        cloudTrail: {
          lookupEvents: async () => ({ Events: [{ EventId: 'x', CloudTrailEvent: '<xml/>' }] }),
        },
        logger: testLogger('auditor'),
        notifiers: [new SlackNotifier(url), email],
      };
      await runAuditOnce(config(db.name), deps);
      expect(bodies).toHaveLength(1);
      fail = false;
      await runAuditOnce(config(db.name), deps);
      await runAuditOnce(config(db.name), deps);
      expect(bodies).toHaveLength(2);
      expect(JSON.parse(bodies[1] ?? '{}')).toMatchObject({
        text: expect.stringContaining('unparseable_event') as string,
      });
      const mails = (await (await fetch(`${stack.smtpWebUrl}/api/email`)).json()) as {
        to: { address: string }[];
        subject: string;
        text: string;
      }[];
      const ours = mails.filter((m) => m.to.some((t) => t.address.toLowerCase() === mailbox));
      expect(ours).toHaveLength(1);
      expect(ours[0]?.subject).toContain('1 new finding(s) (unparseable_event)');
      expect(ours[0]?.text).toContain('[unparseable_event] x');
      const [stored] = await new AuditStore(db.ch, db.name).findings();
      expect(stored).toMatchObject({ notified: true, notifiedChannels: ['email', 'slack'] });
    } finally {
      email.close();
      server.close();
      await db.drop();
    }
  });
});
