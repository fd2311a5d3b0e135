import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testLogger, waitFor } from '@meterstream/testing';
import { heldReasonOf, type LedgerRecord } from './ledger.js';
import { OPEN_END_MS, monthStartOf } from './entitlements.js';
import { startSubmitter, type SubmitterHandle } from './start.js';
import {
  CONTRACT,
  CONTRACT_ARN,
  M,
  billedMap,
  clock,
  freezeHours,
  hoursAgo,
  insertWindows,
  iso,
  startHarness,
  subscribe,
  type Harness,
} from './testing/harness.js';

// Contract terms and missing entitlements (issue 13, item 5; ADR 0006): usage of a contract hour
// with no entitlement term is held, never billed as overage; the submitter syncs the product's
// entitlements itself and bills the hour once the term is known; a renewal is a new term.

let h: Harness;
let s: SubmitterHandle | undefined;

const record = async (customer: string, hour: number): Promise<LedgerRecord | undefined> =>
  (await h.store.ledgerAll(hour)).find(
    (r) => r.productCode === CONTRACT && r.customer === customer && r.hour === hour,
  );
const billedKey = (customer: string, hour: number): string =>
  `${CONTRACT}|acct:${customer}|seats|${iso(hour)}`;
const getEntitlementsCalls = (): number =>
  h.exchanges.filter((e) => e.operation === 'GetEntitlements').length;
const entitle = (customer: string, quantity: number, expiration: number): Promise<unknown> =>
  h.admin('POST', '/_admin/entitlements', {
    productCode: CONTRACT,
    dimension: 'seats',
    customerAwsAccountId: customer,
    licenseArn: CONTRACT_ARN,
    value: { integerValue: quantity },
    expirationDate: iso(expiration),
  });

beforeAll(async () => {
  h = await startHarness();
  await freezeHours(
    h.db.ch,
    h.db.name,
    Array.from({ length: 23 }, (_, i) => hoursAgo(i + 1)),
  );
  s = await startSubmitter(h.config({ MS_SUBMITTER_ENTITLEMENT_SYNC_MIN_INTERVAL_MS: '0' }), {
    logger: testLogger('submitter-entitlements'),
  });
});

afterAll(async () => {
  await s?.close();
  await h?.close();
});

describe('contract entitlements', () => {
  it('holds 80 used of 100 while the entitlement is missing, syncs it itself, then bills 0', async () => {
    const sub = s as SubmitterHandle;
    const acct = '210000000001';
    const H = hoursAgo(10);
    await subscribe(h, CONTRACT, acct, { account: true, licenseArn: CONTRACT_ARN });
    await insertWindows(h.db.ch, h.db.name, [
      {
        productCode: CONTRACT,
        customer: acct,
        dimension: 'seats',
        hour: H,
        micros: 80n * M,
        account: true,
      },
    ]);
    const callsBefore = getEntitlementsCalls();
    const first = await sub.runNow();
    expect(first.status, first.error).toBe('done');
    const held = await record(acct, H);
    // Today's main: no entitlement row = entitlement 0, so all 80 units went out as overage.
    expect(held).toMatchObject({ state: 'held', quantity: 0, attempts: 0 });
    expect(heldReasonOf(held?.reason ?? '')).toBe('missing_entitlement');
    expect(billedMap(await h.billing()).has(billedKey(acct, H))).toBe(false);
    // The submitter asked AWS for the product's entitlements by itself (there were none yet).
    expect(getEntitlementsCalls()).toBeGreaterThan(callsBefore);
    const text = await sub.metrics.text();
    // The customer is subscribed, so every frozen hour has a (zero) record: the 9 after H wait
    // behind it, because H's fractional carry is not known until its term is (ADR 0006).
    expect(text).toMatch(/meterstream_submitter_held_records\{reason="missing_entitlement"\} 10\b/);
    expect((await record(acct, hoursAgo(9)))?.reason).toMatch(
      /^missing_entitlement: an earlier hour/,
    );
    // Hours before H have no usage: nothing to hold, their zero records went out.
    expect((await record(acct, hoursAgo(11)))?.state).toBe('accepted');
    expect(text).toMatch(/meterstream_submitter_entitlement_syncs_total\{outcome="ok"\} [1-9]/);

    // The contract appears at AWS (100 included); no CLI sync: the submitter's own sync finds it.
    await entitle(acct, 100, OPEN_END_MS - 24 * 3_600_000);
    const sent = await waitFor(
      'the held hour planned and sent',
      async () => {
        const run = await sub.runNow();
        expect(run.status, run.error).toBe('done');
        const r = await record(acct, H);
        return r?.state === 'accepted' ? r : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(sent).toMatchObject({ quantity: 0, usageMicros: 80n * M, billableMicros: 0n });
    const billed = billedMap(await h.billing());
    expect(billed.get(billedKey(acct, H))).toBe(0);
    for (let k = 1; k <= 9; k++) expect(billed.get(billedKey(acct, hoursAgo(k)))).toBe(0);
    // The term the sync derived: the registry knew no subscription start, so the month start.
    const terms = (await h.store.entitlements()).filter((t) => t.customer === acct);
    expect(terms).toMatchObject([{ quantity: 100n, periodStart: monthStartOf(clock.now()) }]);
    expect(await sub.metrics.text()).toMatch(
      /meterstream_submitter_held_records\{reason="missing_entitlement"\} 0\b/,
    );
  });

  it('counts usage against the term its hour falls in: old-term usage does not eat a renewal', async () => {
    const sub = s as SubmitterHandle;
    const acct = '210000000002';
    const start = hoursAgo(20);
    const renewedAt = hoursAgo(12);
    // The first term as an earlier sync left it, while it was current (GetEntitlements no longer
    // returns a term once it has expired): 100 units, [start, renewedAt).
    await subscribe(h, CONTRACT, acct, {
      account: true,
      licenseArn: CONTRACT_ARN,
      periodStart: start,
      periodEnd: renewedAt,
    });
    await h.store.upsertEntitlements([
      {
        productCode: CONTRACT,
        customer: acct,
        dimension: 'seats',
        quantity: 100n,
        periodStart: start,
        periodEnd: renewedAt,
      },
    ]);
    // AWS now has the renewed contract: 100 units again, expiring later.
    await entitle(acct, 100, clock.now() + 30 * 24 * 3_600_000);
    const old = [hoursAgo(15), hoursAgo(14)];
    const renewed = hoursAgo(11);
    await insertWindows(h.db.ch, h.db.name, [
      ...old.map((hour) => ({
        productCode: CONTRACT,
        customer: acct,
        dimension: 'seats',
        hour,
        micros: 45n * M,
        account: true,
      })),
      {
        productCode: CONTRACT,
        customer: acct,
        dimension: 'seats',
        hour: renewed,
        micros: 80n * M,
        account: true,
      },
    ]);
    const done = await waitFor(
      'every hour of the renewed contract sent',
      async () => {
        const run = await sub.runNow();
        expect(run.status, run.error).toBe('done');
        const rs = await Promise.all([...old, renewed].map((hour) => record(acct, hour)));
        return rs.every((r) => r?.state === 'accepted') ? rs : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    // 90 of the first term's 100, then 80 of the renewal's 100: nothing is overage. (Today's main
    // keeps one term per key; with the renewal's start lost, 90 + 80 > 100 bills overage.)
    expect(done.map((r) => r?.quantity)).toEqual([0, 0, 0]);
    const billed = billedMap(await h.billing());
    expect([...old, renewed].map((hour) => billed.get(billedKey(acct, hour)))).toEqual([0, 0, 0]);
    const terms = (await h.store.entitlements())
      .filter((t) => t.customer === acct)
      .sort((a, b) => a.periodStart - b.periodStart);
    expect(terms.map((t) => [iso(t.periodStart), t.quantity])).toEqual([
      [iso(start), 100n],
      [iso(renewedAt), 100n],
    ]);
  });
});
