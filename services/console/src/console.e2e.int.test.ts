/**
 * End to end in headless Chromium through the real path: console → Kafka (usage events + a
 * FreezeCommand) → aggregator (early freeze) → submitter (POST /v1/run) → AWS emulator, with the
 * statuses read back from the ledger. Screenshots of each step go to docs/screenshots/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcryptjs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  testLogger,
  freshName,
  freshDatabase,
  freshTopic,
  testClock,
  testKafkaClientKind,
  testStack,
  type TestDatabase,
  type TestTopic,
  emulatorAdmin,
} from '@meterstream/testing';
import { startEmulator, type RunningEmulator } from '@meterstream/aws-emulator';
import { startAggregator, type Aggregator } from '@meterstream/aggregator';
import {
  parseSubmitterEnv,
  startSubmitter,
  Store,
  type RunningSubmitter,
} from '@meterstream/submitter';
import { parseConsoleEnv } from './env.js';
import type { User } from './model.js';
import { startConsole, type ConsoleHandle } from './start.js';

const CHROMIUM = '/usr/bin/chromium';
const PLANS = fileURLToPath(new URL('../../../plans', import.meta.url));
const SHOTS = fileURLToPath(new URL('../../../docs/screenshots/', import.meta.url));
const PASSWORD = 'correct horse battery staple';
const ARN = 'arn:aws:license-manager::111122223333:license:l-0123456789abcdef0123456789abcdef';
const ARN_HOOLI =
  'arn:aws:license-manager::111122223333:license:l-fedcba9876543210fedcba9876543210';
const PARTITIONS = 2;
const DAY = 86_400_000;
/** One clock for the emulator, the aggregator, the submitter and the console (the hour metered). */
const clock = testClock();
const mailbox = `${freshName('seller')}@console-e2e.example`.toLowerCase();

const users: User[] = [
  { username: 'olivia.operator', role: 'operator', passwordHash: bcrypt.hashSync(PASSWORD, 4) },
  { username: 'victor.viewer', role: 'viewer', passwordHash: bcrypt.hashSync(PASSWORD, 4) },
];

let topic: TestTopic;
let db: TestDatabase;
let emu: RunningEmulator;
let aggregator: Aggregator;
let submitter: RunningSubmitter;
let consoleApp: ConsoleHandle;
let browser: Browser;
let smtpWebUrl: string;

function admin(method: string, path: string, body?: unknown): Promise<unknown> {
  return emulatorAdmin(emu.url)(method, path, body);
}

interface Billed {
  productCode: string;
  customerKey: string;
  dimension: string;
  hour: string;
  quantity: string;
}

async function billing(productCode: string): Promise<Billed[]> {
  return (
    (await admin('GET', `/_admin/billing?productCode=${productCode}`)) as { records: Billed[] }
  ).records;
}

async function shot(page: Page, step: string): Promise<void> {
  await page.screenshot({ path: `${SHOTS}console-${step}.png`, fullPage: false });
}

/** What the pipeline holds, for a failure message that explains itself. */
async function diagnostics(): Promise<string> {
  const q = async (text: string): Promise<string> =>
    JSON.stringify(await db.ch.query(text).catch((e: unknown) => String(e)));
  return [
    `usage_events: ${await q(`SELECT product_code, customer, dimension, quantity, toString(event_time) AS t, toString(billing_hour) AS bh FROM ${db.name}.usage_events`)}`,
    `usage_windows: ${await q(`SELECT product_code, customer, dimension, toString(hour) AS h, quantity_micros, freeze_kind FROM ${db.name}.usage_windows`)}`,
    `window_freezes: ${await q(`SELECT kafka_partition, toString(hour) AS h FROM ${db.name}.window_freezes`)}`,
    `usage_rejects: ${await q(`SELECT * FROM ${db.name}.usage_rejects LIMIT 20`)}`,
    `ledger: ${await q(`SELECT product_code, customer, dimension, toString(hour) AS h, state, quantity, reason FROM ${db.name}.ledger`)}`,
    `now: ${new Date(clock.now()).toISOString()}`,
  ].join('\n');
}

/** The hour the page's last submission was metered in (as the server decided it at confirm). */
async function submissionHour(page: Page): Promise<string> {
  const id = await page.locator('#submission-id').innerText();
  const hour = await page.evaluate(
    async (submissionId) =>
      ((await (await fetch(`/api/submissions/${submissionId}`)).json()) as { hour: string }).hour,
    id,
  );
  return new Date(hour).toISOString();
}

async function signIn(page: Page, username: string): Promise<void> {
  await page.goto(`${consoleApp.url}/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/listings$/);
}

beforeAll(async () => {
  // Fail loudly: a browser test that silently skips cannot catch anything.
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  mkdirSync(SHOTS, { recursive: true });
  const stack = await testStack();
  smtpWebUrl = stack.smtpWebUrl;
  const logger = testLogger('console-e2e');
  topic = await freshTopic('console', PARTITIONS);
  db = await freshDatabase('console');

  emu = await startEmulator({ port: 0, seed: 3, clock });
  await admin('PUT', '/_admin/products/demo-analytics', {
    dimensions: ['api_calls', 'storage_gb_hours', 'exports'],
  });
  await admin('PUT', '/_admin/products/demo-platform', {
    dimensions: ['seats', 'compute_hours'],
    licenseArn: true,
  });
  for (const c of ['cust-acme', 'cust-globex', 'cust-initech']) {
    await admin('POST', '/_admin/subscriptions', {
      productCode: 'demo-analytics',
      customerIdentifier: c,
    });
  }
  await admin('POST', '/_admin/subscriptions', {
    productCode: 'demo-platform',
    customerAwsAccountId: '444455556666',
    licenseArn: ARN,
  });

  aggregator = await startAggregator(
    {
      kafkaClient: testKafkaClientKind(),
      brokers: stack.kafkaBrokers,
      clientId: 'console-e2e-aggregator',
      topic: topic.topic,
      topicPartitions: PARTITIONS,
      topicReplication: 1,
      groupId: topic.groupId,
      registryUrl: stack.schemaRegistryUrl,
      clickhouse: {
        url: stack.clickhouseUrl,
        database: db.name,
        topology: { kind: 'single' },
        requestTimeoutMs: 10_000,
      },
      graceMs: 60_000,
      idleMs: 60_000,
      tickMs: 300,
      dedupHorizonHours: 168,
      fenceMs: 300,
      sessionTimeoutMs: 6000,
    },
    { logger, now: clock.now },
  );

  submitter = await startSubmitter(
    parseSubmitterEnv({
      MS_CLICKHOUSE_URL: stack.clickhouseUrl,
      MS_CLICKHOUSE_DATABASE: db.name,
      MS_KAFKA_BROKERS: stack.kafkaBrokers.join(','),
      MS_KAFKA_CLIENT: testKafkaClientKind(),
      MS_USAGE_TOPIC: topic.topic,
      MS_USAGE_TOPIC_PARTITIONS: String(PARTITIONS),
      MS_AWS_ENDPOINT: emu.url,
      MS_AWS_ACCESS_KEY_ID: 'AKIDCONSOLEE2E',
      MS_AWS_SECRET_ACCESS_KEY: 'secret',
      MS_AWS_TIMEOUT_MS: '3000',
      MS_PLANS_DIR: PLANS,
      // No ticks: only the console's POST /v1/run sends anything.
      MS_SUBMITTER_TICK_MS: '0',
      MS_SUBMITTER_CLOCK_OFFSET_MS: String(clock.offsetMs),
      MS_SUBMITTER_OWNERSHIP: 'static',
      MS_SUBMITTER_OPS_PORT: '0',
      MS_SMTP_HOST: stack.smtpHost,
      MS_SMTP_PORT: String(stack.smtpPort),
      MS_NOTIFY_TIMEOUT_MS: '2000',
      MS_NOTIFY_EXTRA_EMAILS: mailbox,
      MS_LOG_LEVEL: 'warn',
    }),
    { logger },
  );
  const store = new Store(db.ch, db.name);
  // Contract terms around the test clock's instant, so they are in force whatever the date.
  const start = clock.ref - 180 * DAY;
  const end = clock.ref + 180 * DAY;
  await store.upsertSubscriptions([
    ...[
      ['cust-acme', 'Acme Corporation', 'agmt-7f3a21'],
      ['cust-globex', 'Globex Inc.', 'agmt-91bc04'],
      ['cust-initech', 'Initech LLC', 'agmt-2d8e55'],
    ].map(([customer, buyerName, agreementId]) => ({
      productCode: 'demo-analytics',
      customer: customer as string,
      customerKind: 'identifier' as const,
      licenseArn: '',
      buyerName: buyerName as string,
      agreementId: agreementId as string,
      status: 'active' as const,
      periodStart: start,
      periodEnd: Date.UTC(2100, 0, 1),
      source: 'cli',
    })),
    {
      productCode: 'demo-platform',
      customer: '444455556666',
      customerKind: 'account',
      licenseArn: ARN,
      buyerName: 'Umbrella Health',
      agreementId: 'agmt-c0ffee',
      status: 'active',
      periodStart: start,
      periodEnd: end,
      source: 'entitlements',
    },
    // Known to us, but AWS does not know its license: its records are held, with the reason.
    {
      productCode: 'demo-platform',
      customer: '777788889999',
      customerKind: 'account',
      licenseArn: ARN_HOOLI,
      buyerName: 'Hooli Labs',
      agreementId: 'agmt-b00b1e',
      status: 'active',
      periodStart: start,
      periodEnd: end,
      source: 'cli',
    },
  ]);
  await store.upsertEntitlements([
    {
      productCode: 'demo-platform',
      customer: '444455556666',
      dimension: 'seats',
      quantity: 10n,
      periodStart: start,
      periodEnd: end,
    },
    // Hooli's contract is known (seats); compute_hours it includes nothing of, so all is billable.
    {
      productCode: 'demo-platform',
      customer: '777788889999',
      dimension: 'seats',
      quantity: 5n,
      periodStart: start,
      periodEnd: end,
    },
  ]);

  consoleApp = await startConsole(
    parseConsoleEnv({
      MS_CLICKHOUSE_URL: stack.clickhouseUrl,
      MS_CLICKHOUSE_DATABASE: db.name,
      MS_KAFKA_BROKERS: stack.kafkaBrokers.join(','),
      MS_KAFKA_CLIENT: testKafkaClientKind(),
      MS_SCHEMA_REGISTRY_URL: stack.schemaRegistryUrl,
      MS_USAGE_TOPIC: topic.topic,
      MS_USAGE_TOPIC_PARTITIONS: String(PARTITIONS),
      MS_SUBMITTER_URL: `http://127.0.0.1:${submitter.opsPort}`,
      MS_CONSOLE_PORT: '0',
      MS_CONSOLE_PLANS_DIR: PLANS,
      MS_CONSOLE_SESSION_SECRET: 'e2e-session-secret-with-at-least-32-chars',
      MS_CONSOLE_SECURE_COOKIES: 'false',
    }),
    { logger, users, now: () => new Date(clock.now()) },
  );
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await consoleApp?.close();
  await submitter?.close();
  await aggregator?.close();
  await emu?.close();
  await topic?.drop().catch(() => undefined);
  await db?.drop().catch(() => undefined);
});

describe('seller console in a browser', () => {
  it('signs in, selects contracts, submits, confirms (double click sends once) and sees accepted statuses', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const confirms: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'POST' && r.url().endsWith('/submissions')) confirms.push(r.url());
    });

    await page.goto(`${consoleApp.url}/listings`);
    await page.waitForURL(/\/login/);
    await page.getByLabel('Username').fill('olivia.operator');
    await shot(page, '1-sign-in');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/listings$/);

    const row = page.locator('tr[data-product="demo-analytics"]');
    await expect.poll(() => row.locator('td').nth(3).textContent()).toBe('3');
    await shot(page, '2-listings');
    await row.getByRole('link', { name: 'View contracts and send metering information' }).click();
    await page.waitForURL(/\/listings\/demo-analytics\/contracts$/);
    expect(await page.locator('#contracts tbody tr[data-customer]').count()).toBe(3);
    await shot(page, '3-contracts');

    // Select all, then leave Initech out: only Acme and Globex are sent.
    await page.getByLabel('Select all contracts').check();
    expect(await page.locator('input.row-select:checked').count()).toBe(3);
    await page.getByLabel('Select Initech LLC').uncheck();
    expect(
      await page
        .getByLabel('Select all contracts')
        .evaluate((e) => (e as unknown as { indeterminate: boolean }).indeterminate),
    ).toBe(true);
    await page.getByLabel('api_calls (requests) for Acme Corporation').fill('1200');
    await page.getByLabel('exports (jobs) for Acme Corporation').fill('3');
    await page.getByLabel('api_calls (requests) for Globex Inc.').fill('450');
    await page.getByLabel('storage_gb_hours (GB-hours) for Initech LLC').fill('77');
    // Typing into Initech's row selected it again; leave it out once more.
    await page.getByLabel('Select Initech LLC').uncheck();
    await expect
      .poll(() => page.locator('#selection-count').textContent())
      .toBe('2 contracts selected');
    await shot(page, '4-selected');

    await page.getByRole('button', { name: 'Submit metering info' }).click();
    const dialog = page.getByRole('dialog', { name: 'Send metering information?' });
    await dialog.waitFor();
    expect(
      await page.locator('#confirm-send').evaluate((e) => e === e.ownerDocument.activeElement),
    ).toBe(true);
    const previewRows = await dialog.locator('#confirm-table tbody tr').allTextContents();
    expect(previewRows).toHaveLength(3);
    await shot(page, '5-confirm');

    await dialog.getByRole('button', { name: 'Confirm send' }).dblclick();
    const status = page.locator('#submission-status');
    await status.waitFor({ state: 'visible' });
    try {
      await expect
        .poll(
          async () =>
            page
              .locator('#status-table tbody tr')
              .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-status'))),
          { timeout: 90_000, interval: 500 },
        )
        .toEqual(['accepted', 'accepted', 'accepted']);
    } catch (err) {
      throw new Error(`${String(err)}\n${await diagnostics()}`, { cause: err });
    }
    await shot(page, '6-statuses');
    expect(confirms).toHaveLength(1);

    // The emulator billed exactly what was entered, for the selected contracts only.
    const hour = await submissionHour(page);
    const billed = (await billing('demo-analytics')).filter(
      (b) => b.hour === hour && Number(b.quantity) > 0,
    );
    expect(billed.map((b) => [b.customerKey, b.dimension, b.quantity]).sort()).toEqual([
      ['id:cust-acme', 'api_calls', '1200'],
      ['id:cust-acme', 'exports', '3'],
      ['id:cust-globex', 'api_calls', '450'],
    ]);

    // The seller is told by email how the submission went (sent by the submitter's notifier).
    await submitter.drainNotifications();
    await expect
      .poll(
        async () => {
          const mails = (await (await fetch(`${smtpWebUrl}/api/email`)).json()) as {
            to: { address: string }[];
            subject: string;
            text: string;
          }[];
          return mails
            .filter((m) => m.to.some((t) => t.address.toLowerCase() === mailbox))
            .filter((m) => m.subject.includes('demo-analytics'))
            .map((m) => m.text)
            .join('\n');
        },
        { timeout: 30_000, interval: 500 },
      )
      .toMatch(/accepted: 3 records, 1653 units/);

    // Server-side idempotency: re-posting the same submission id sends nothing new.
    const id = await page.locator('#submission-id').innerText();
    const csrf = (await page.locator('meta[name="csrf-token"]').getAttribute('content')) ?? '';
    const replay = await page.evaluate(
      async ({ submissionId, token }) => {
        const res = await fetch('/api/listings/demo-analytics/submissions', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-csrf-token': token },
          body: JSON.stringify({
            submissionId,
            lines: [{ customer: 'cust-acme', dimension: 'api_calls', quantity: '999' }],
          }),
        });
        return res.status;
      },
      { submissionId: id, token: csrf },
    );
    expect(replay).toBe(200);
    const rows = await db.ch.query<{ n: string }>(
      `SELECT count() AS n FROM ${db.name}.console_submissions WHERE submission_id = '${id}' AND actor = 'olivia.operator'`,
    );
    expect(Number(rows[0]?.n)).toBe(3);
    const events = await db.ch.query<{ n: string; a: string }>(
      `SELECT uniqExact(id) AS n, any(actor) AS a FROM ${db.name}.usage_events WHERE source = 'console'`,
    );
    expect(Number(events[0]?.n)).toBe(3);
    expect(events[0]?.a).toBe('olivia.operator');
    expect(
      (await billing('demo-analytics')).filter((b) => b.hour === hour && Number(b.quantity) > 0),
    ).toHaveLength(3);

    // Metering history shows them as manual, and exports CSV.
    await page.getByRole('link', { name: 'Metering history' }).click();
    await page.waitForURL(/\/history$/);
    expect(
      await page
        .locator('#history tbody tr')
        .filter({ hasText: 'Manual · olivia.operator' })
        .count(),
    ).toBe(3);
    await page.selectOption('#f-product', 'demo-analytics');
    await page.getByLabel('Customer').fill('cust-acme');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/customer=cust-acme/);
    expect(await page.locator('#history tbody tr').count()).toBe(2);
    await shot(page, '7-history');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Export CSV' }).click(),
    ]);
    const csvPath = await download.path();
    const { readFile } = await import('node:fs/promises');
    const csv = await readFile(csvPath, 'utf8');
    expect(csv.trim().split('\r\n')).toHaveLength(3);

    await page.getByRole('link', { name: 'Plans' }).click();
    await page.locator('text=In force').first().waitFor();
    await shot(page, '8-plans');
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.locator('h1', { hasText: 'Audit' }).waitFor();
    await shot(page, '9-audit');
    await page.close();
  });

  it('validates input, meters only contract overage, and shows a held record with its reason', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await signIn(page, 'olivia.operator');
    await page.goto(`${consoleApp.url}/listings/demo-platform/contracts`);

    // Bad input is refused by the server with the reason, next to the field; nothing is sent.
    await page.getByLabel('seats (users) for Umbrella Health').fill('-3');
    await page.getByLabel('compute_hours (hours) for Hooli Labs').fill('1.1234567');
    await page.getByRole('button', { name: 'Submit metering info' }).click();
    const errors = page.locator('#form-errors');
    await errors.waitFor({ state: 'visible' });
    expect(await errors.textContent()).toContain('must not be negative');
    expect(await errors.textContent()).toContain('at most 6 decimal places');
    expect(
      await page.getByLabel('seats (users) for Umbrella Health').getAttribute('aria-invalid'),
    ).toBe('true');
    expect(await page.getByRole('dialog').count()).toBe(0);
    await shot(page, '10-validation');

    await page.getByLabel('seats (users) for Umbrella Health').fill('14');
    await page.getByLabel('compute_hours (hours) for Hooli Labs').fill('2');
    const submit = page.getByRole('button', { name: 'Submit metering info' });
    await submit.click();
    const dialog = page.getByRole('dialog', { name: 'Send metering information?' });
    await dialog.waitFor();
    // Escape closes the dialog and gives focus back to the button that opened it.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(await submit.evaluate((e) => e === e.ownerDocument.activeElement)).toBe(true);
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    const rows = await dialog
      .locator('#confirm-table tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
      );
    expect(rows).toEqual([
      ['Hooli Labs', '777788889999', 'compute_hours', '2', '—', '0', '2'],
      ['Umbrella Health', '444455556666', 'seats', '14', '10', '0', '4'],
    ]);
    await shot(page, '11-contract-overage');
    await dialog.getByRole('button', { name: 'Confirm send' }).click();
    await expect
      .poll(
        () =>
          page
            .locator('#status-table tbody tr')
            .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-status'))),
        { timeout: 90_000, interval: 500 },
      )
      .toEqual(['held', 'accepted']);
    const reason = await page
      .locator('#status-table tbody tr[data-status="held"] td.reason')
      .textContent();
    expect(reason).toMatch(/aws_invalid_license: AWS InvalidLicenseException/);
    await shot(page, '12-contract-statuses');
    const hour = await submissionHour(page);
    const billed = (await billing('demo-platform')).filter(
      (b) => b.hour === hour && Number(b.quantity) > 0,
    );
    expect(billed.map((b) => [b.customerKey, b.dimension, b.quantity])).toEqual([
      ['acct:444455556666', 'seats', '4'],
    ]);
    await page.close();
  });

  it('does not let a viewer submit: no button, and the API answers 403', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await signIn(page, 'victor.viewer');
    await page.goto(`${consoleApp.url}/listings/demo-analytics/contracts`);
    expect(await page.getByRole('button', { name: 'Submit metering info' }).count()).toBe(0);
    await page.locator('#read-only-note').waitFor();
    await shot(page, '13-viewer');
    const viewerCsrf =
      (await page.locator('meta[name="csrf-token"]').getAttribute('content')) ?? '';
    const status = await page.evaluate(async (token) => {
      const res = await fetch('/api/listings/demo-analytics/submissions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': token },
        body: JSON.stringify({
          submissionId: '00000000-0000-4000-8000-000000000001',
          lines: [{ customer: 'cust-initech', dimension: 'api_calls', quantity: '5' }],
        }),
      });
      return res.status;
    }, viewerCsrf);
    expect(status).toBe(403);
    const billed = (await billing('demo-analytics')).filter(
      (b) => b.customerKey === 'id:cust-initech' && Number(b.quantity) > 0,
    );
    expect(billed).toHaveLength(0);
    await page.close();
  });
});
