import { MICROS } from '@meterstream/runtime';
/**
 * Integration-test harness: a fresh ClickHouse database with the aggregator's tables (its own
 * migrations), an in-process AWS emulator on a free port, plan files, and helpers that write what
 * the aggregator would write. Not part of the build (see tsconfig exclude).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, type ClickHouse } from '@meterstream/clickhouse';
import {
  freshDatabase,
  freshTopic,
  testClock,
  testKafkaClientKind,
  testStack,
  type StackEndpoints,
  type TestClock,
  type TestDatabase,
  type TestTopic,
  emulatorAdmin,
  freshName,
} from '@meterstream/testing';
import { startEmulator, type Exchange, type RunningEmulator } from '@meterstream/aws-emulator';
import { MIGRATIONS as AGGREGATOR_MIGRATIONS } from '@meterstream/aggregator';
import { parseSubmitterEnv, type SubmitterEnv } from '../env.js';
import { SUBMITTER_MIGRATIONS, TABLES } from '../migrations.js';
import type { LedgerRecord } from '../ledger.js';
import { Store } from '../store.js';

export const HOUR = 3_600_000;
/**
 * The test file's clock (12:00 UTC on the 15th of this month, running): the submitter, the
 * emulator and every hour a test writes take time from it, never from the wall clock.
 */
export const clock: TestClock = testClock();
/** `k` hours before the clock's current hour (inside AWS's 24-hour window for k ≤ 20). */
export const hoursAgo = (k: number): number => clock.hoursAgo(k);
export const USAGE_PARTITIONS = 2;
export const M = MICROS;

export interface Harness {
  stack: StackEndpoints;
  db: TestDatabase;
  /** A usage topic with USAGE_PARTITIONS partitions (the submitter checks the count at start). */
  topic: TestTopic;
  emu: RunningEmulator;
  exchanges: Exchange[];
  plansDir: string;
  store: Store;
  config(over?: Record<string, string>): SubmitterEnv;
  env(over?: Record<string, string>): Record<string, string>;
  admin(method: string, path: string, body?: unknown): Promise<unknown>;
  billing(): Promise<
    {
      productCode: string;
      customerKey: string;
      dimension: string;
      hour: string;
      quantity: string;
    }[]
  >;
  close(): Promise<void>;
}

/** A subscription product, one whose plan has a dimension AWS does not know, and a contract product. */
export const SUB = 'ms-sub';
export const BAD = 'ms-bad';
export const CONTRACT = 'ms-contract';
export const CONTRACT_ARN = 'arn:aws:license-manager::123456789012:license:l-contract1';

export async function plansDir(
  slackUrl = 'http://127.0.0.1:9/hook',
  emails = ['seller@test.example'],
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ms-plans-'));
  const notify = `notify:\n  emails: [${emails.join(', ')}]\n  slackWebhooks: [${slackUrl}]\n`;
  await writeFile(
    join(dir, 'sub.yaml'),
    `productCode: ${SUB}\nname: Sub\npricingModel: subscription\n${notify}versions:\n  - effectiveFrom: 2025-01-01T00:00:00Z\n    dimensions:\n` +
      ['api', 'storage']
        .map((d) => `      - { name: ${d}, unit: u, pricePerUnit: "0.5" }\n`)
        .join(''),
  );
  await writeFile(
    join(dir, 'bad.yaml'),
    `productCode: ${BAD}\nname: Bad\npricingModel: subscription\n${notify}versions:\n  - effectiveFrom: 2025-01-01T00:00:00Z\n    dimensions:\n      - { name: api, unit: u, pricePerUnit: "1" }\n      - { name: ghost, unit: u, pricePerUnit: "1" }\n`,
  );
  await writeFile(
    join(dir, 'contract.yaml'),
    `productCode: ${CONTRACT}\nname: Contract\npricingModel: contract\ncustomerIdStyle: customerAwsAccountId\n${notify}versions:\n  - effectiveFrom: 2025-01-01T00:00:00Z\n    dimensions:\n      - { name: seats, unit: u, pricePerUnit: "12" }\n`,
  );
  return dir;
}

export async function startHarness(
  options: {
    slackUrl?: string;
    stateFile?: string;
    emails?: string[];
    /** Called synchronously for every AWS call the emulator answers (or drops), in order. */
    onExchange?: (e: Exchange) => void;
  } = {},
): Promise<Harness> {
  const stack = await testStack();
  const db = await freshDatabase('submitter');
  const topic = await freshTopic('submitter-usage', USAGE_PARTITIONS);
  await migrate(db.ch, 'aggregator', AGGREGATOR_MIGRATIONS, {
    database: db.name,
    topology: { kind: 'single' },
  });
  await migrate(db.ch, 'submitter', SUBMITTER_MIGRATIONS, {
    database: db.name,
    topology: { kind: 'single' },
  });
  const exchanges: Exchange[] = [];
  const emu = await startEmulator({
    port: 0,
    seed: 7,
    clock,
    stateFile: options.stateFile,
    onExchange: (e) => {
      exchanges.push(e);
      options.onExchange?.(e);
    },
  });
  const dir = await plansDir(options.slackUrl, options.emails);
  const admin = emulatorAdmin(emu.url);
  await admin('PUT', `/_admin/products/${SUB}`, { dimensions: ['api', 'storage'] });
  await admin('PUT', `/_admin/products/${BAD}`, { dimensions: ['api'] });
  await admin('PUT', `/_admin/products/${CONTRACT}`, { dimensions: ['seats'], licenseArn: true });
  const env = (over: Record<string, string> = {}): Record<string, string> => ({
    MS_CLICKHOUSE_URL: stack.clickhouseUrl,
    MS_CLICKHOUSE_DATABASE: db.name,
    MS_KAFKA_BROKERS: stack.kafkaBrokers.join(','),
    MS_KAFKA_CLIENT: testKafkaClientKind(),
    MS_USAGE_TOPIC: topic.topic,
    MS_USAGE_TOPIC_PARTITIONS: String(USAGE_PARTITIONS),
    MS_AWS_ENDPOINT: emu.url,
    MS_AWS_ACCESS_KEY_ID: 'AKIDSUBMITTERTEST',
    MS_AWS_SECRET_ACCESS_KEY: 'secret',
    MS_AWS_TIMEOUT_MS: '3000',
    MS_PLANS_DIR: dir,
    MS_SUBMITTER_TICK_MS: '0',
    MS_SUBMITTER_CLOCK_OFFSET_MS: String(clock.offsetMs),
    MS_SUBMITTER_OWNERSHIP: 'static',
    MS_SUBMITTER_OPS_PORT: '0',
    MS_SUBMITTER_BACKOFF_BASE_MS: '20',
    MS_SUBMITTER_BACKOFF_MAX_MS: '200',
    MS_SMTP_HOST: stack.smtpHost,
    MS_SMTP_PORT: String(stack.smtpPort),
    MS_NOTIFY_TIMEOUT_MS: '2000',
    MS_LOG_LEVEL: 'warn',
    ...over,
  });
  return {
    stack,
    db,
    topic,
    emu,
    exchanges,
    plansDir: dir,
    store: new Store(db.ch, db.name),
    env,
    config: (over) => parseSubmitterEnv(env(over)),
    admin,
    billing: async () =>
      (
        (await admin('GET', '/_admin/billing')) as {
          records: Awaited<ReturnType<Harness['billing']>>;
        }
      ).records,
    close: async () => {
      await emu.close();
      await db.drop();
      await topic.drop().catch(() => undefined);
    },
  };
}

/** Subscribes a customer at the emulator and in the submitter's registry. */
export async function subscribe(
  h: Harness,
  productCode: string,
  customer: string,
  opts: {
    account?: boolean;
    licenseArn?: string;
    periodStart?: number;
    periodEnd?: number;
    atAws?: boolean;
  } = {},
): Promise<void> {
  if (opts.atAws ?? true) {
    await h.admin(
      'POST',
      '/_admin/subscriptions',
      opts.account
        ? {
            productCode,
            customerAwsAccountId: customer,
            ...(opts.licenseArn ? { licenseArn: opts.licenseArn } : {}),
          }
        : { productCode, customerIdentifier: customer },
    );
  }
  await h.store.upsertSubscriptions([
    {
      productCode,
      customer,
      customerKind: opts.account ? 'account' : 'identifier',
      licenseArn: opts.licenseArn ?? '',
      buyerName: '',
      agreementId: '',
      status: 'active',
      periodStart: opts.periodStart ?? 0,
      periodEnd: opts.periodEnd ?? Date.UTC(2100, 0, 1),
      source: 'cli',
    },
  ]);
}

/** Writes windows as the aggregator would (quantities in micro-units). */
export async function insertWindows(
  ch: ClickHouse,
  database: string,
  rows: {
    productCode: string;
    customer: string;
    dimension: string;
    hour: number;
    micros: bigint;
    account?: boolean;
    /** Usage topic partition whose window this is (default 0). */
    partition?: number;
    /**
     * Time of the window's earliest event (default: the hour's start). Before the hour for late
     * usage the aggregator carried in, whose part of the quantity is `lateMicros`.
     */
    firstEventAt?: number;
    lateMicros?: bigint;
  }[],
): Promise<void> {
  const now = Math.floor(clock.now() / 1000);
  await ch.insert(
    TABLES.usageWindows.in(database),
    rows.map((r) => ({
      product_code: r.productCode,
      customer: r.customer,
      customer_kind: r.account ? 'account' : 'identifier',
      dimension: r.dimension,
      hour: r.hour / 1000,
      quantity_micros: r.micros.toString(),
      event_count: 1,
      late_quantity_micros: (r.lateMicros ?? 0n).toString(),
      late_event_count: r.lateMicros ? 1 : 0,
      too_old_event_count: 0,
      duplicate_count: 0,
      first_event_at: Math.floor((r.firstEventAt ?? r.hour) / 1000),
      last_event_at: r.hour / 1000,
      frozen_at: now,
      freeze_kind: 'watermark',
      kafka_partition: r.partition ?? 0,
      request_id: '',
      early_all: 0,
    })),
  );
}

/** Marks hours frozen on every partition of the usage topic. */
export async function freezeHours(
  ch: ClickHouse,
  database: string,
  hours: number[],
): Promise<void> {
  const now = Math.floor(clock.now() / 1000);
  const rows = hours.flatMap((h) =>
    Array.from({ length: USAGE_PARTITIONS }, (_, p) => ({
      kafka_partition: p,
      hour: h / 1000,
      frozen_at: now,
      watermark: now,
      kafka_offset: 0,
      owner: 'test',
    })),
  );
  await ch.insert(TABLES.windowFreezes.in(database), rows);
}

/** Billed quantity per `product|customerKey|dimension|hourIso`. */
export function billedMap(records: Awaited<ReturnType<Harness['billing']>>): Map<string, number> {
  return new Map(
    records.map((r) => [
      `${r.productCode}|${r.customerKey}|${r.dimension}|${r.hour}`,
      Number(r.quantity),
    ]),
  );
}

export const iso = (ms: number): string => new Date(ms).toISOString();

/** The current version of one ledger record, if there is one. */
export async function ledgerRecord(
  h: Harness,
  productCode: string,
  customer: string,
  dimension: string,
  hour: number,
): Promise<LedgerRecord | undefined> {
  return (await h.store.ledgerAll(hour)).find(
    (r) =>
      r.productCode === productCode &&
      r.customer === customer &&
      r.dimension === dimension &&
      r.hour === hour,
  );
}

/**
 * A fresh `submitter.work` topic and group for several instances that share keys through Kafka
 * (12 buckets, a quick session and handover), and each instance's settings in it: its name is its
 * instance id, and it sends no email or Slack.
 */
export function workGroup(): { settings(name: string): Record<string, string> } {
  const topic = freshName('submitter.work').replace(/_/g, '.');
  const group = freshName('submitter');
  return {
    settings: (name) => ({
      MS_SUBMITTER_OWNERSHIP: 'kafka',
      MS_SUBMITTER_WORK_TOPIC: topic,
      MS_SUBMITTER_GROUP_ID: group,
      MS_SUBMITTER_WORK_PARTITIONS: '12',
      MS_SUBMITTER_SESSION_TIMEOUT_MS: '6000',
      MS_SUBMITTER_HANDOVER_MS: '3500',
      MS_AWS_TIMEOUT_MS: '3000',
      MS_SUBMITTER_INSTANCE_ID: name,
      MS_SUBMITTER_TICK_MS: '100',
      MS_SMTP_HOST: '',
      MS_SLACK_ENABLED: 'false',
    }),
  };
}
