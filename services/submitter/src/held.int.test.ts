import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPlans } from '@meterstream/plans';
import { freshName, testLogger } from '@meterstream/testing';
import { VersionClock, heldReasonOf } from './ledger.js';
import { freeze } from './planner.js';
import { Store } from './store.js';
import { startSubmitter, type SubmitterHandle } from './start.js';
import {
  HOUR,
  M,
  SUB,
  USAGE_PARTITIONS,
  billedMap,
  clock,
  freezeHours,
  hoursAgo,
  insertWindows,
  iso,
  startHarness,
  subscribe,
  type Harness,
  ledgerRecord,
} from './testing/harness.js';

// Held records (ADR 0006, DESIGN invariant 7): what the seller can fix is held, re-evaluated every
// run, sent once fixed, and expired only at its AWS deadline; one key never stops another.

/** A product whose plan lacks a dimension AWS knows (the seller fixes the plan). */
const HELD = 'ms-held';
/** A CustomerAWSAccountId product whose licenses come from the subscriptions registry. */
const ACCT = 'ms-acct';
const ACCT_ARN = 'arn:aws:license-manager::123456789012:license:l-acct1';
/** A product in our plans that AWS does not know (yet): InvalidProductCodeException. */
const UNLISTED = 'ms-unlisted';

let h: Harness;
const running: SubmitterHandle[] = [];
const mailbox = `${freshName('held')}@test.example`.toLowerCase();
/** Notices of the HELD product go to this test file's own mailbox. */
const NOTIFY = `notify:\n  emails: [${mailbox}]\n  slackWebhooks: []\n`;

const planYaml = (code: string, dims: string[], extra = ''): string =>
  `productCode: ${code}\nname: ${code}\npricingModel: subscription\n${extra}versions:\n  - effectiveFrom: 2025-01-01T00:00:00Z\n    dimensions:\n` +
  dims.map((d) => `      - { name: ${d}, unit: u, pricePerUnit: "1" }\n`).join('');

async function start(now?: () => number): Promise<SubmitterHandle> {
  const s = await startSubmitter(h.config(), {
    logger: testLogger('submitter-held'),
    ...(now ? { now } : {}),
  });
  running.push(s);
  return s;
}

async function stop(s: SubmitterHandle): Promise<void> {
  await s.close();
  running.splice(running.indexOf(s), 1);
}

const record = (productCode: string, customer: string, dimension: string, hour: number) =>
  ledgerRecord(h, productCode, customer, dimension, hour);

const billedKey = (
  product: string,
  customer: string,
  dimension: string,
  hour: number,
  account = false,
): string => `${product}|${account ? 'acct' : 'id'}:${customer}|${dimension}|${iso(hour)}`;

beforeAll(async () => {
  h = await startHarness();
  await writeFile(join(h.plansDir, 'held.yaml'), planYaml(HELD, ['api'], NOTIFY));
  await writeFile(
    join(h.plansDir, 'acct.yaml'),
    planYaml(ACCT, ['api'], 'customerIdStyle: customerAwsAccountId\n'),
  );
  await writeFile(join(h.plansDir, 'unlisted.yaml'), planYaml(UNLISTED, ['api']));
  await h.admin('PUT', `/_admin/products/${HELD}`, { dimensions: ['api', 'beta'] });
  await h.admin('PUT', `/_admin/products/${ACCT}`, { dimensions: ['api'], licenseArn: true });
  await freezeHours(
    h.db.ch,
    h.db.name,
    Array.from({ length: 23 }, (_, i) => hoursAgo(i + 1)),
  );
});

afterAll(async () => {
  for (const s of [...running]) await s.close();
  await h?.close();
});

describe('held records', () => {
  it('holds an hour above the AWS maximum on its own and bills every other key', async () => {
    const H = hoursAgo(20);
    await subscribe(h, SUB, 'cust-huge');
    await subscribe(h, SUB, 'cust-small');
    await insertWindows(h.db.ch, h.db.name, [
      // 2,147,483,648 units: one more than a usage record can carry.
      { productCode: SUB, customer: 'cust-huge', dimension: 'api', hour: H, micros: 2n ** 31n * M },
      { productCode: SUB, customer: 'cust-small', dimension: 'api', hour: H, micros: 7n * M },
    ]);
    const s = await start();
    const run = await s.runNow();
    expect(run.status, run.error).toBe('done');
    const huge = await record(SUB, 'cust-huge', 'api', H);
    expect(huge).toMatchObject({ state: 'held', quantity: 0, attempts: 0 });
    expect(heldReasonOf(huge?.reason ?? '')).toBe('quantity_above_max');
    expect(huge?.reason).toContain('2147483648 units');
    expect(await record(SUB, 'cust-small', 'api', H)).toMatchObject({
      state: 'accepted',
      quantity: 7,
    });
    const billed = billedMap(await h.billing());
    expect(billed.get(billedKey(SUB, 'cust-small', 'api', H))).toBe(7);
    // Nothing was ever sent for the oversized key: a zero or a part would be billed for good.
    expect(billed.has(billedKey(SUB, 'cust-huge', 'api', H))).toBe(false);
    expect(await s.metrics.text()).toMatch(
      /meterstream_submitter_held_records\{reason="quantity_above_max"\} 1\b/,
    );
    // Re-evaluated every run, it stays held without writing a version per run.
    const again = await s.runNow();
    expect(again.status).toBe('done');
    expect((await record(SUB, 'cust-huge', 'api', H))?.version).toBe(huge?.version);
    await stop(s);
  });

  it('holds a dimension that is not in the plan and bills it once the plan has it', async () => {
    const H = hoursAgo(8);
    await subscribe(h, HELD, 'cust-plan');
    await insertWindows(h.db.ch, h.db.name, [
      { productCode: HELD, customer: 'cust-plan', dimension: 'beta', hour: H, micros: 3n * M },
    ]);
    const s = await start();
    await s.runNow();
    const held = await record(HELD, 'cust-plan', 'beta', H);
    expect(held?.state).toBe('held');
    expect(heldReasonOf(held?.reason ?? '')).toBe('dimension_not_in_plan');
    const text = await s.metrics.text();
    expect(text).toMatch(
      /meterstream_submitter_held_records\{reason="dimension_not_in_plan"\} [1-9]/,
    );
    expect(text).toMatch(/meterstream_submitter_records_total\{state="held"\} [1-9]/);
    // The seller is told once, with the reason.
    await s.drainNotifications();
    const mails = (await (await fetch(`${h.stack.smtpWebUrl}/api/email`)).json()) as {
      to: { address: string }[];
      text: string;
    }[];
    const ours = mails.filter((m) => m.to.some((t) => t.address.toLowerCase() === mailbox));
    expect(ours.map((m) => m.text).join('\n')).toMatch(
      /held: 1 records[\s\S]*dimension_not_in_plan/,
    );
    await s.runNow();
    await s.drainNotifications();
    const after = (await (await fetch(`${h.stack.smtpWebUrl}/api/email`)).json()) as {
      to: { address: string }[];
    }[];
    expect(after.filter((m) => m.to.some((t) => t.address.toLowerCase() === mailbox))).toHaveLength(
      ours.length,
    );
    await stop(s);
    // The seller adds the dimension; the next submitter run sends the frozen record.
    await writeFile(join(h.plansDir, 'held.yaml'), planYaml(HELD, ['api', 'beta'], NOTIFY));
    const fixed = await start();
    await fixed.runNow();
    expect(await record(HELD, 'cust-plan', 'beta', H)).toMatchObject({
      state: 'accepted',
      quantity: 3,
    });
    expect(billedMap(await h.billing()).get(billedKey(HELD, 'cust-plan', 'beta', H))).toBe(3);
    await stop(fixed);
  });

  it('holds an account customer missing from subscriptions and bills it with its license once registered', async () => {
    const H = hoursAgo(7);
    const acct = '210987654321';
    // Subscribed at AWS, not yet in our registry (the entitlement sync has not run).
    await h.admin('POST', '/_admin/subscriptions', {
      productCode: ACCT,
      customerAwsAccountId: acct,
      licenseArn: ACCT_ARN,
    });
    await insertWindows(h.db.ch, h.db.name, [
      {
        productCode: ACCT,
        customer: acct,
        dimension: 'api',
        hour: H,
        micros: 4n * M,
        account: true,
      },
    ]);
    const s = await start();
    const calls = h.exchanges.length;
    await s.runNow();
    const held = await record(ACCT, acct, 'api', H);
    expect(held).toMatchObject({ state: 'held', attempts: 0, licenseArn: '' });
    expect(heldReasonOf(held?.reason ?? '')).toBe('unknown_subscription');
    // Held before sending: no call that AWS could only refuse.
    expect(h.exchanges.slice(calls).some((e) => JSON.stringify(e).includes(acct))).toBe(false);
    await subscribe(h, ACCT, acct, { account: true, licenseArn: ACCT_ARN, atAws: false });
    await s.runNow();
    expect(await record(ACCT, acct, 'api', H)).toMatchObject({
      state: 'accepted',
      quantity: 4,
      licenseArn: ACCT_ARN,
    });
    expect(billedMap(await h.billing()).get(billedKey(ACCT, acct, 'api', H, true))).toBe(4);
    await stop(s);
  });

  it('holds every record of a product AWS does not know and bills them once it is listed', async () => {
    const H = hoursAgo(6);
    await subscribe(h, UNLISTED, 'cust-u1', { atAws: false });
    await subscribe(h, UNLISTED, 'cust-u2', { atAws: false });
    await insertWindows(h.db.ch, h.db.name, [
      { productCode: UNLISTED, customer: 'cust-u1', dimension: 'api', hour: H, micros: 2n * M },
      { productCode: UNLISTED, customer: 'cust-u2', dimension: 'api', hour: H, micros: 5n * M },
    ]);
    const s = await start();
    await s.runNow();
    for (const c of ['cust-u1', 'cust-u2']) {
      const r = await record(UNLISTED, c, 'api', H);
      expect(r).toMatchObject({ state: 'held', awsStatus: 'InvalidProductCodeException' });
      expect(heldReasonOf(r?.reason ?? '')).toBe('aws_invalid_product');
    }
    // The seller finishes the listing; the same frozen records go again and are billed.
    await h.admin('PUT', `/_admin/products/${UNLISTED}`, { dimensions: ['api'] });
    for (const c of ['cust-u1', 'cust-u2']) {
      await h.admin('POST', '/_admin/subscriptions', {
        productCode: UNLISTED,
        customerIdentifier: c,
      });
    }
    await s.runNow();
    expect(await record(UNLISTED, 'cust-u1', 'api', H)).toMatchObject({
      state: 'accepted',
      quantity: 2,
    });
    const billed = billedMap(await h.billing());
    expect(billed.get(billedKey(UNLISTED, 'cust-u1', 'api', H))).toBe(2);
    expect(billed.get(billedKey(UNLISTED, 'cust-u2', 'api', H))).toBe(5);
    await stop(s);
  });

  it('never zero-fills a key whose window the aggregator wrote between the planner reads', async () => {
    const H = hoursAgo(30);
    const plans = await loadPlans(h.plansDir);
    await subscribe(h, SUB, 'cust-race');
    // The aggregator, as it works: the hour's windows first, then the hour marked frozen.
    let aggregator: (() => Promise<void>) | undefined = async () => {
      await insertWindows(h.db.ch, h.db.name, [
        { productCode: SUB, customer: 'cust-race', dimension: 'api', hour: H, micros: 9n * M },
      ]);
      await freezeHours(h.db.ch, h.db.name, [H]);
    };
    let windowsRead: Promise<void> | undefined;
    // Lets the aggregator write right after the windows were read, and holds the frozen-hours
    // read until then when both are in flight at once: the interleaving that lost the window.
    class RacingStore extends Store {
      override async pendingWindows(
        fromHour: number,
        partitions: number,
      ): ReturnType<Store['pendingWindows']> {
        let done!: () => void;
        windowsRead = new Promise<void>((r) => (done = r));
        const rows = await super.pendingWindows(fromHour, partitions);
        const write = aggregator;
        aggregator = undefined;
        if (write) await write();
        done();
        return rows;
      }
      override async fullyFrozenHours(
        fromHour: number,
        partitions: number,
      ): ReturnType<Store['fullyFrozenHours']> {
        // Calls made together start together: after one turn, a windows read in flight is known.
        await new Promise((r) => setImmediate(r));
        if (windowsRead) await windowsRead;
        return super.fullyFrozenHours(fromHour, partitions);
      }
    }
    const store = new RacingStore(h.db.ch, h.db.name);
    const ctx = {
      store,
      plans,
      clock: new VersionClock(clock.now),
      usagePartitions: USAGE_PARTITIONS,
      workPartitions: 12,
      owned: Array.from({ length: 12 }, (_, i) => i),
      lookbackHours: 36,
      runId: 'race',
      instanceId: 'race',
    };
    const at = clock.now();
    await freeze(ctx, at);
    windowsRead = undefined;
    await freeze(ctx, at);
    const r = await record(SUB, 'cust-race', 'api', H);
    expect(r).toMatchObject({ state: 'frozen', quantity: 9 });
    expect(r?.usageMicros).toBe(9n * M);
  });

  it('expires a held record only at its AWS deadline', async () => {
    const H = hoursAgo(2);
    await subscribe(h, UNLISTED, 'cust-late', { atAws: false });
    await insertWindows(h.db.ch, h.db.name, [
      { productCode: UNLISTED, customer: 'cust-late', dimension: 'gamma', hour: H, micros: 1n * M },
    ]);
    let shift = 0;
    const s = await start(() => clock.now() + shift);
    await s.runNow();
    const held = await record(UNLISTED, 'cust-late', 'gamma', H);
    expect(held?.state).toBe('held');
    // Just before the deadline it is still held (and unchanged).
    shift = H + 24 * HOUR - 60_000 - clock.now();
    await s.runNow();
    expect(await record(UNLISTED, 'cust-late', 'gamma', H)).toMatchObject({
      state: 'held',
      version: held?.version,
    });
    // Past the deadline (and the local grace for clock skew), it ends expired, saying why.
    shift = H + 24 * HOUR + 16 * 60_000 - clock.now();
    await s.runNow();
    const expired = await record(UNLISTED, 'cust-late', 'gamma', H);
    expect(expired?.state).toBe('expired');
    expect(expired?.reason).toMatch(/past the AWS deadline .*held: dimension_not_in_plan/);
    await stop(s);
  });
});
