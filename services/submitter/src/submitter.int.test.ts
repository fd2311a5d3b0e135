import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshName, testLogger } from '@meterstream/testing';
import { batchMeterUsage, meteringClient } from './aws.js';
import { startSubmitter, type SubmitterHandle } from './start.js';
import {
  BAD,
  CONTRACT,
  CONTRACT_ARN,
  M,
  SUB,
  billedMap,
  freezeHours,
  hoursAgo,
  insertWindows,
  iso,
  startHarness,
  subscribe,
  type Harness,
} from './testing/harness.js';

let h: Harness;
let sub: SubmitterHandle;
let slack: Server;
const slackBodies: { blocks?: unknown[]; text?: string }[] = [];
let slackFailuresLeft = 1;
const mailbox = `${freshName('seller')}@test.example`.toLowerCase();

beforeAll(async () => {
  slack = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      // The first delivery fails: the notifier must retry, and metering must not care.
      if (slackFailuresLeft-- > 0) {
        res.writeHead(500).end('boom');
        return;
      }
      slackBodies.push(JSON.parse(body) as { blocks?: unknown[]; text?: string });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => slack.listen(0, '127.0.0.1', () => r()));
  const slackUrl = `http://127.0.0.1:${(slack.address() as AddressInfo).port}/hook`;
  h = await startHarness({ slackUrl, emails: [mailbox] });
  // The aggregator freezes every hour in turn; so do we, for the last 23 hours.
  await freezeHours(
    h.db.ch,
    h.db.name,
    Array.from({ length: 23 }, (_, i) => hoursAgo(i + 1)),
  );
  sub = await startSubmitter(h.config(), { logger: testLogger('submitter') });
});

afterAll(async () => {
  await sub?.close();
  await h?.close();
  await new Promise<void>((r) => slack.close(() => r()));
});

const key = (
  product: string,
  customer: string,
  dimension: string,
  hour: number,
  account = false,
): string => `${product}|${account ? 'acct' : 'id'}:${customer}|${dimension}|${iso(hour)}`;

describe('submitter against the AWS emulator', () => {
  it('freezes windows and zero records, sends them once, and a second run sends nothing', async () => {
    const H = hoursAgo(20);
    await subscribe(h, SUB, 'cust-a');
    await subscribe(h, SUB, 'cust-b');
    await insertWindows(h.db.ch, h.db.name, [
      { productCode: SUB, customer: 'cust-a', dimension: 'api', hour: H, micros: 5n * M },
    ]);
    const run = await sub.runNow();
    expect(run.status).toBe('done');
    const ledger = (await h.store.ledgerAll(H)).filter(
      (r) => r.hour === H && r.productCode === SUB,
    );
    expect(
      ledger.map((r) => `${r.customer}/${r.dimension}=${r.quantity}:${r.state}`).sort(),
    ).toEqual([
      'cust-a/api=5:accepted',
      'cust-a/storage=0:accepted',
      'cust-b/api=0:accepted',
      'cust-b/storage=0:accepted',
    ]);
    const billed = billedMap(await h.billing());
    expect(billed.get(key(SUB, 'cust-a', 'api', H))).toBe(5);
    expect(billed.get(key(SUB, 'cust-b', 'storage', H))).toBe(0);
    const calls = h.exchanges.length;
    const again = await sub.runNow();
    expect(again.frozen).toBe(0);
    expect(h.exchanges.length).toBe(calls);
    // The control API reports the run's records.
    const res = await fetch(`http://127.0.0.1:${sub.opsPort}/v1/runs/${run.id}`);
    const body = (await res.json()) as { records: { state: string; hour: string }[] };
    // Its records: H's four plus the zero records of the other frozen hours.
    expect(body.records.filter((r) => r.hour === iso(H))).toHaveLength(4);
    expect(body.records.every((r) => r.state === 'accepted')).toBe(true);
    const post = await fetch(`http://127.0.0.1:${sub.opsPort}/v1/run`, { method: 'POST' });
    expect(post.status).toBe(202);
    expect((await fetch(`http://127.0.0.1:${sub.opsPort}/metrics`)).status).toBe(200);
  });

  it('bills 0.4 per hour for 5 hours as 2 units in total (fractional carry)', async () => {
    const hours = [15, 14, 13, 12, 11].map(hoursAgo);
    await subscribe(h, SUB, 'cust-frac');
    await insertWindows(
      h.db.ch,
      h.db.name,
      hours.map((hour) => ({
        productCode: SUB,
        customer: 'cust-frac',
        dimension: 'api',
        hour,
        micros: 400_000n,
      })),
    );
    await sub.runNow();
    const billed = billedMap(await h.billing());
    const q = hours.map((hour) => billed.get(key(SUB, 'cust-frac', 'api', hour)));
    expect(q).toEqual([0, 0, 1, 0, 1]);
  });

  it('meters only contract usage beyond the entitlement, splitting the crossing hour', async () => {
    const acct = '123456789012';
    const hours = [10, 9, 8, 7].map(hoursAgo);
    await subscribe(h, CONTRACT, acct, { account: true, licenseArn: CONTRACT_ARN });
    await h.store.upsertEntitlements([
      {
        productCode: CONTRACT,
        customer: acct,
        dimension: 'seats',
        quantity: 1000n,
        periodStart: hoursAgo(23),
        periodEnd: Date.UTC(2100, 0, 1),
      },
    ]);
    await insertWindows(
      h.db.ch,
      h.db.name,
      [400n, 400n, 400n, 300n].map((u, i) => ({
        productCode: CONTRACT,
        customer: acct,
        dimension: 'seats',
        hour: hours[i] as number,
        micros: u * M,
        account: true,
      })),
    );
    await sub.runNow();
    const billed = billedMap(await h.billing());
    const q = hours.map((hour) => billed.get(key(CONTRACT, acct, 'seats', hour, true)));
    expect(q).toEqual([0, 0, 200, 300]);
    expect(q.reduce((a, b) => (a ?? 0) + (b ?? 0), 0)).toBe(500);
  });

  it('ends unsubscribed customers, holds dimensions unknown to the plan or to AWS, and notifies', async () => {
    const H = hoursAgo(6);
    await subscribe(h, BAD, 'cust-bad');
    await insertWindows(h.db.ch, h.db.name, [
      { productCode: SUB, customer: 'cust-nobody', dimension: 'api', hour: H, micros: 3n * M },
      { productCode: SUB, customer: 'cust-a', dimension: 'not_in_plan', hour: H, micros: 1n * M },
      { productCode: BAD, customer: 'cust-bad', dimension: 'api', hour: H, micros: 2n * M },
      { productCode: BAD, customer: 'cust-bad', dimension: 'ghost', hour: H, micros: 4n * M },
    ]);
    await sub.runNow();
    const at = (await h.store.ledgerAll(H)).filter((r) => r.hour === H);
    const by = (c: string, d: string) => at.find((r) => r.customer === c && r.dimension === d);
    expect(by('cust-nobody', 'api')).toMatchObject({
      state: 'not_subscribed',
      awsStatus: 'CustomerNotSubscribed',
    });
    expect(by('cust-a', 'not_in_plan')?.state).toBe('held');
    expect(by('cust-a', 'not_in_plan')?.reason).toMatch(
      /^dimension_not_in_plan: .*not in the plan/,
    );
    // AWS refuses a dimension its listing lacks: held (the seller can add it), never rejected.
    expect(by('cust-bad', 'ghost')).toMatchObject({
      state: 'held',
      awsStatus: 'InvalidUsageDimensionException',
    });
    expect(by('cust-bad', 'ghost')?.reason).toMatch(/^aws_invalid_dimension: AWS Invalid/);
    // The valid record of the rejected batch was isolated and accepted.
    expect(by('cust-bad', 'api')).toMatchObject({ state: 'accepted', quantity: 2 });
    await sub.drainNotifications();
    // Slack: first delivery failed, the retry arrived with the statuses.
    const slackText = JSON.stringify(slackBodies);
    expect(slackText).toContain('not_subscribed');
    expect(slackText).toContain('InvalidUsageDimensionException');
    expect(slackBodies.some((b) => Array.isArray(b.blocks) && b.blocks.length > 0)).toBe(true);
    expect(await sub.metrics.text()).toMatch(
      /meterstream_submitter_notifications_total\{channel="slack",outcome="retried"\} [1-9]/,
    );
    // Email: MailDev received it.
    const mails = (await (await fetch(`${h.stack.smtpWebUrl}/api/email`)).json()) as {
      to: { address: string }[];
      subject: string;
      text: string;
    }[];
    const ours = mails.filter((m) => m.to.some((t) => t.address.toLowerCase() === mailbox));
    const all = ours.map((m) => m.text).join('\n');
    expect(all).toContain('not_subscribed');
    expect(all).toContain('InvalidUsageDimensionException');
    expect(all).toMatch(/held: \d+ records/);
    // The seller adds the dimension to the listing: the same frozen record is sent and billed.
    await h.admin('PUT', `/_admin/products/${BAD}`, { dimensions: ['api', 'ghost'] });
    await sub.runNow();
    const ghost = (await h.store.ledgerAll(H)).find(
      (r) => r.hour === H && r.customer === 'cust-bad' && r.dimension === 'ghost',
    );
    expect(ghost).toMatchObject({ state: 'accepted', quantity: 4 });
    expect(billedMap(await h.billing()).get(key(BAD, 'cust-bad', 'ghost', H))).toBe(4);
  });

  it('gets everything accepted under 50 % throttling and 20 % unprocessed records', async () => {
    const H = hoursAgo(4);
    const customers = Array.from({ length: 40 }, (_, i) => `cust-t${i}`);
    for (const c of customers) await subscribe(h, SUB, c);
    await insertWindows(
      h.db.ch,
      h.db.name,
      customers.map((c, i) => ({
        productCode: SUB,
        customer: c,
        dimension: 'api',
        hour: H,
        micros: BigInt(i + 1) * M,
      })),
    );
    await h.admin('POST', '/_admin/faults', { throttlingRate: 0.5, unprocessedRate: 0.2 });
    try {
      for (let i = 0; i < 30; i++) {
        await sub.runNow();
        const open = (await h.store.ledgerAll(H)).filter(
          (r) => r.hour === H && (r.state === 'frozen' || r.state === 'sending'),
        );
        if (open.length === 0) break;
      }
    } finally {
      await h.admin('POST', '/_admin/faults', {});
    }
    const at = (await h.store.ledgerAll(H)).filter((r) => r.hour === H && r.productCode === SUB);
    const states = new Set(at.map((r) => r.state));
    expect([...states]).toEqual(['accepted']);
    const billed = billedMap(await h.billing());
    customers.forEach((c, i) => expect(billed.get(key(SUB, c, 'api', H))).toBe(i + 1));
    const throttled = h.exchanges.filter((e) => e.errorType === 'ThrottlingException').length;
    expect(throttled).toBeGreaterThan(0);
    expect(
      h.exchanges.some(
        (e) =>
          ((e.response as { UnprocessedRecords?: unknown[] })?.UnprocessedRecords ?? []).length > 0,
      ),
    ).toBe(true);
    expect(
      h.exchanges.every((e) => !JSON.stringify(e.response ?? '').includes('DuplicateRecord')),
    ).toBe(true);
  });
  it('expires records AWS no longer accepts, without looping', async () => {
    const late = hoursAgo(27);
    const H = hoursAgo(2);
    await insertWindows(h.db.ch, h.db.name, [
      { productCode: SUB, customer: 'cust-late', dimension: 'api', hour: late, micros: 2n * M },
      { productCode: SUB, customer: 'cust-skew', dimension: 'api', hour: H, micros: 3n * M },
    ]);
    // AWS's clock 25 hours ahead: it rejects H although ours says there is time.
    await h.admin('POST', '/_admin/clock', { offsetMs: 25 * 3_600_000 });
    try {
      const calls = h.exchanges.length;
      await sub.runNow();
      const all = await h.store.ledgerAll(late);
      expect(all.find((r) => r.customer === 'cust-late')).toMatchObject({ state: 'expired' });
      expect(all.find((r) => r.customer === 'cust-late')?.reason).toMatch(/past the AWS deadline/);
      expect(all.find((r) => r.customer === 'cust-skew')).toMatchObject({
        state: 'expired',
        awsStatus: 'TimestampOutOfBoundsException',
      });
      // One call for the skewed record, none for the locally expired one; a new run sends nothing.
      expect(h.exchanges.length - calls).toBe(1);
      await sub.runNow();
      expect(h.exchanges.length - calls).toBe(1);
    } finally {
      await h.admin('POST', '/_admin/clock', { offsetMs: 0 });
    }
  });
  it('flags a key AWS already billed with another quantity as a duplicate conflict, never retried', async () => {
    const H = hoursAgo(3);
    await subscribe(h, SUB, 'cust-dup', { atAws: true });
    // Someone else (another system, a lost ledger) billed 9 for this key first.
    const other = meteringClient({
      endpoint: h.emu.url,
      region: 'us-east-1',
      accessKeyId: 'AKIDOTHER',
      secretAccessKey: 'x',
      timeoutMs: 3000,
    });
    await batchMeterUsage(other, SUB, [
      { Timestamp: new Date(H), CustomerIdentifier: 'cust-dup', Dimension: 'api', Quantity: 9 },
    ]);
    other.destroy();
    await insertWindows(h.db.ch, h.db.name, [
      { productCode: SUB, customer: 'cust-dup', dimension: 'api', hour: H, micros: 4n * M },
    ]);
    await sub.runNow();
    const r = (await h.store.ledgerAll(H)).find(
      (x) => x.customer === 'cust-dup' && x.dimension === 'api' && x.hour === H,
    );
    expect(r).toMatchObject({ state: 'duplicate', awsStatus: 'DuplicateRecord', quantity: 4 });
    expect(r?.reason).toMatch(/different quantity/);
    expect(billedMap(await h.billing()).get(key(SUB, 'cust-dup', 'api', H))).toBe(9);
    const calls = h.exchanges.length;
    await sub.runNow();
    expect(h.exchanges.length).toBe(calls);
  });
});
