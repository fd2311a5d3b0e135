import type { MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';
import { describe, expect, it } from 'vitest';
import { Metrics } from '@meterstream/observability';
import { PlanCatalog, validatePlan } from '@meterstream/plans';
import { testLogger, ledgerRecord } from '@meterstream/testing';
import { VersionClock, deadlineOf, heldReasonOf, type LedgerRecord } from './ledger.js';
import { submitterMetrics } from './metrics.js';
import { StaticOwnership } from './ownership.js';
import { sendOpen, type SenderContext } from './sender.js';
import type { Store } from './store.js';

const H = Date.UTC(2026, 10, 15, 8);
const NOW = H + 3 * 3_600_000;

const plans = (): PlanCatalog => {
  const { plan } = validatePlan({
    productCode: 'p',
    name: 'P',
    pricingModel: 'subscription',
    versions: [
      {
        effectiveFrom: '2025-01-01T00:00:00Z',
        dimensions: [{ name: 'api', unit: 'u', pricePerUnit: '1' }],
      },
    ],
  });
  return new PlanCatalog([plan as NonNullable<typeof plan>]);
};

const frozen = (customer: string): LedgerRecord =>
  ledgerRecord(
    { productCode: 'p', customer, dimension: 'api', hour: H },
    {
      state: 'frozen',
      quantity: 5,
      usageMicros: 5_000_000n,
      billableMicros: 5_000_000n,
      pricePerUnit: '1',
      deadline: deadlineOf(H),
    },
  );

/** A metering client that fails every call with `name`, counting the calls. */
function failingClient(name: string): { client: MarketplaceMeteringClient; calls: () => number } {
  let calls = 0;
  const client = {
    send: () => {
      calls++;
      return Promise.reject(Object.assign(new Error('account-level failure'), { name }));
    },
  } as unknown as MarketplaceMeteringClient;
  return { client, calls: () => calls };
}

function context(client: MarketplaceMeteringClient, written: LedgerRecord[]): SenderContext {
  const store = {
    writeLedger: (rs: readonly LedgerRecord[]) => {
      written.push(...rs);
      return Promise.resolve();
    },
    subscriptions: () => Promise.resolve([]),
  } as unknown as Store;
  return {
    config: {
      batchSize: 25,
      waveSize: 1000,
      concurrency: 2,
      maxAttemptsPerRun: 3,
      backoffBaseMs: 1,
      backoffMaxMs: 1,
      deadlineAlertMs: 0,
    },
    store,
    client,
    plans: plans(),
    ownership: new StaticOwnership(1),
    clock: new VersionClock(() => NOW),
    metrics: submitterMetrics(new Metrics('meterstream_submitter', { defaultMetrics: false })),
    logger: testLogger('sender'),
    runId: 'run',
    instanceId: 'i',
    sleep: () => Promise.resolve(),
  };
}

describe('sendOpen', () => {
  it('sends a record that was sent before again, identically, even when it would be held now', async () => {
    const { client, calls } = failingClient('DisabledApiException');
    const written: LedgerRecord[] = [];
    const ctx = context(client, written);
    // Killed mid-send (attempts 1): AWS may have billed it. Its account is not in the registry
    // (nor is its dimension in the plan), which would hold a record never sent.
    const sent: LedgerRecord = {
      ...frozen('123456789012'),
      customerKind: 'account',
      dimension: 'gone',
      state: 'sending',
      attempts: 1,
    };
    const [out] = await sendOpen(ctx, [sent], NOW);
    expect(calls()).toBe(1);
    expect(out).toMatchObject({ state: 'held', awsStatus: 'DisabledApiException', attempts: 2 });
    expect(heldReasonOf(out?.reason ?? '')).toBe('aws_api_disabled');
  });

  for (const [error, reason] of [
    ['DisabledApiException', 'aws_api_disabled'],
    ['InvalidEndpointRegionException', 'aws_wrong_region'],
    ['InvalidProductCodeException', 'aws_invalid_product'],
  ] as const) {
    it(`holds the whole batch on ${error}, in one call, and sends it again next run`, async () => {
      const { client, calls } = failingClient(error);
      const written: LedgerRecord[] = [];
      const ctx = context(client, written);
      const open = ['a', 'b', 'c', 'd'].map(frozen);
      const out = await sendOpen(ctx, open, NOW);
      // An account-level error says nothing about a record: no bisection into more failing calls.
      expect(calls()).toBe(1);
      expect(out.map((r) => r.state)).toEqual(['held', 'held', 'held', 'held']);
      for (const r of out) {
        expect(heldReasonOf(r.reason)).toBe(reason);
        expect(r.awsStatus).toBe(error);
      }
      expect(await ctx.metrics.heldRecords.get()).toMatchObject({
        values: expect.arrayContaining([{ labels: { reason }, value: 4 }]) as unknown,
      });
      // Held is open: the next run sends the same records again (until the deadline).
      const again = await sendOpen(ctx, out, NOW);
      expect(calls()).toBe(2);
      expect(again.every((r) => r.state === 'held' && r.attempts === 2)).toBe(true);
    });
  }

  it('holds a record whose dimension AWS refuses, sends the others, and next run sends it alone', async () => {
    const good = 'api';
    let calls = 0;
    const client = {
      send: (cmd: {
        input: {
          UsageRecords?: { Dimension?: string; CustomerIdentifier?: string; Timestamp?: Date }[];
        };
      }) => {
        calls++;
        const rs = cmd.input.UsageRecords ?? [];
        if (rs.some((r) => r.Dimension !== good)) {
          return Promise.reject(
            Object.assign(new Error('not on the listing'), {
              name: 'InvalidUsageDimensionException',
            }),
          );
        }
        return Promise.resolve({
          Results: rs.map((r) => ({ UsageRecord: r, Status: 'Success', MeteringRecordId: 'm' })),
          UnprocessedRecords: [],
        });
      },
    } as unknown as MarketplaceMeteringClient;
    const written: LedgerRecord[] = [];
    const ctx = context(client, written);
    // The plan has `legacy` at its origin; the AWS listing no longer does.
    const bad: LedgerRecord = { ...frozen('x'), dimension: 'legacy' };
    const open = [...['a', 'b', 'c'].map(frozen), bad];
    ctx.plans = new PlanCatalog([
      {
        ...(ctx.plans.resolveProduct('p') as NonNullable<
          ReturnType<PlanCatalog['resolveProduct']>
        >),
        versions: [
          {
            effectiveFrom: new Date(0),
            dimensions: ['api', 'legacy'].map((name) => ({
              name,
              unit: 'u',
              description: '',
              pricePerUnit: '1',
              rounding: 'carry' as const,
            })),
          },
        ],
      },
    ]);
    const out = await sendOpen(ctx, open, NOW);
    const byCustomer = new Map(out.map((r) => [r.customer, r]));
    expect(['a', 'b', 'c'].map((c) => byCustomer.get(c)?.state)).toEqual([
      'accepted',
      'accepted',
      'accepted',
    ]);
    expect(byCustomer.get('x')).toMatchObject({
      state: 'held',
      awsStatus: 'InvalidUsageDimensionException',
    });
    expect(heldReasonOf(byCustomer.get('x')?.reason ?? '')).toBe('aws_invalid_dimension');
    // Next run: the held record goes alone, in one call, and stays held (no bisecting again).
    const before = calls;
    const again = await sendOpen(ctx, [byCustomer.get('x') as LedgerRecord], NOW);
    expect(calls - before).toBe(1);
    expect(again[0]).toMatchObject({ state: 'held', attempts: 2 });
  });
  it('holds a record whose license AWS refuses, makes no call while the registry has the same one, and sends it with the synced one', async () => {
    const GOOD = 'arn:aws:license-manager::1:license:l-good';
    const STALE = 'arn:aws:license-manager::1:license:l-stale';
    const sent: (string | undefined)[] = [];
    const client = {
      send: (cmd: { input: { UsageRecords?: { LicenseArn?: string }[] } }) => {
        const rs = cmd.input.UsageRecords ?? [];
        sent.push(...rs.map((r) => r.LicenseArn));
        if (rs.some((r) => r.LicenseArn !== GOOD))
          return Promise.reject(
            Object.assign(new Error('license unknown'), { name: 'InvalidLicenseException' }),
          );
        return Promise.resolve({
          Results: rs.map((r) => ({ UsageRecord: r, Status: 'Success', MeteringRecordId: 'm' })),
          UnprocessedRecords: [],
        });
      },
    } as unknown as MarketplaceMeteringClient;
    const ctx = context(client, []);
    let registry = STALE;
    ctx.store = {
      ...ctx.store,
      writeLedger: () => Promise.resolve(),
      subscriptions: () =>
        Promise.resolve([
          {
            productCode: 'p',
            customer: '123456789012',
            customerKind: 'account',
            licenseArn: registry,
          },
        ]),
    } as unknown as Store;
    const rec: LedgerRecord = {
      ...frozen('123456789012'),
      customerKind: 'account',
      licenseArn: STALE,
    };
    const [held] = await sendOpen(ctx, [rec], NOW);
    expect(held).toMatchObject({ state: 'held', attempts: 1, licenseArn: STALE });
    expect(heldReasonOf(held?.reason ?? '')).toBe('aws_invalid_license');
    // Same license in the registry: no call, still held.
    expect(await sendOpen(ctx, [held as LedgerRecord], NOW)).toEqual([]);
    expect(sent).toEqual([STALE]);
    // A sync brought the right license: sent with it, accepted.
    registry = GOOD;
    const [done] = await sendOpen(ctx, [held as LedgerRecord], NOW);
    expect(done).toMatchObject({ state: 'accepted', licenseArn: GOOD });
    expect(sent).toEqual([STALE, GOOD]);
  });

  it('takes a quota token before every call — retries and bisected halves too — and sends nothing without one', async () => {
    // 3 records in one batch: the first call is throttled, the retry is refused for the batch (a
    // record-less rejection), so it is split: calls [abc] throttled, [abc], [ab], [c], [a], [b].
    let calls = 0;
    const client = {
      send: (cmd: { input: { UsageRecords?: { CustomerIdentifier?: string }[] } }) => {
        calls++;
        const rs = cmd.input.UsageRecords ?? [];
        if (calls === 1)
          return Promise.reject(
            Object.assign(new Error('slow down'), { name: 'ThrottlingException' }),
          );
        if (rs.length > 1)
          return Promise.reject(
            Object.assign(new Error('bad batch'), { name: 'ValidationException' }),
          );
        return Promise.resolve({
          Results: rs.map((r) => ({ UsageRecord: r, Status: 'Success', MeteringRecordId: 'm' })),
          UnprocessedRecords: [],
        });
      },
    } as unknown as MarketplaceMeteringClient;
    const ctx = context(client, []);
    let tokens = 0;
    ctx.limiter = {
      acquire: () => {
        tokens++;
        return Promise.resolve(true);
      },
      share: () => 10,
    };
    const out = await sendOpen(ctx, ['a', 'b', 'c'].map(frozen), NOW);
    expect(out.map((r) => r.state)).toEqual(['accepted', 'accepted', 'accepted']);
    expect(tokens).toBe(calls);
    expect(calls).toBeGreaterThan(3);

    // No token (the process stops while waiting): no call, the records stay `sending`.
    const before = calls;
    const written: LedgerRecord[] = [];
    const refused = context(client, written);
    refused.limiter = { acquire: () => Promise.resolve(false), share: () => 10 };
    expect(await sendOpen(refused, ['d', 'e'].map(frozen), NOW)).toEqual([]);
    expect(calls).toBe(before);
    expect(written.map((r) => r.state)).toEqual(['sending', 'sending']);
  });

  it("publishes the backlog forecast at the limiter's share before the first call, and the share", async () => {
    const seen: { send?: number; deadline?: number; records?: number }[] = [];
    const metrics = submitterMetrics(
      new Metrics('meterstream_submitter', { defaultMetrics: false }),
    );
    const value = async (g: typeof metrics.backlogRecords): Promise<number | undefined> =>
      (await g.get()).values.find((v) => v.labels.deadline === 'hour')?.value;
    const client = {
      send: async (cmd: { input: { UsageRecords?: unknown[] } }) => {
        seen.push({
          send: await value(metrics.backlogSendSeconds),
          deadline: await value(metrics.backlogDeadlineSeconds),
          records: await value(metrics.backlogRecords),
        });
        const rs = cmd.input.UsageRecords ?? [];
        return { Results: rs.map((r) => ({ UsageRecord: r, Status: 'Success' })) };
      },
    } as unknown as MarketplaceMeteringClient;
    const ctx = { ...context(client, []), metrics };
    ctx.limiter = { acquire: () => Promise.resolve(true), share: () => 0.5 };
    // 60 records of H (deadline H + 24 h, 21 h after NOW): 3 calls at 0.5 a second = 6 s.
    await sendOpen(
      ctx,
      Array.from({ length: 60 }, (_, i) => frozen(`c${i}`)),
      NOW,
    );
    expect(seen[0]).toEqual({ send: 6, deadline: 21 * 3600, records: 60 });
    expect((await metrics.quotaShare.get()).values[0]?.value).toBe(0.5);
    // All sent: the series is gone.
    expect(await value(metrics.backlogRecords)).toBeUndefined();
  });
});
