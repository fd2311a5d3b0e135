import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DescribeAgreementCommand,
  GetAgreementEntitlementsCommand,
  GetAgreementTermsCommand,
  SearchAgreementsCommand,
} from '@aws-sdk/client-marketplace-agreement';
import {
  BatchMeterUsageCommand,
  InvalidLicenseException,
  MarketplaceMeteringClient,
  ResolveCustomerCommand,
  type UsageRecord,
} from '@aws-sdk/client-marketplace-metering';
import { afterEach, describe, expect, it } from 'vitest';
import { testClock } from '@meterstream/testing';
import type { MarketplaceEvent } from './services/events.js';
import { clientConfig, startTestStack, type TestStack } from './testing/harness.js';

// The 2026 AWS Marketplace through the real AWS SDK v3 clients: Concurrent Agreements, the
// fulfillment flow (ResolveCustomer), the Agreement API, the request quota and lifecycle events.

const H = 3_600_000;
const ACCT = '123456789012';
const L1 = 'arn:aws:license-manager::123456789012:license:l-0001';
const L2 = 'arn:aws:license-manager::123456789012:license:l-0002';
const clock = testClock();
const stacks: TestStack[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done))));
});
const thisHour = (): Date => new Date(Math.floor(clock.now() / H) * H);
const rec = (over: Partial<UsageRecord> = {}): UsageRecord => ({
  Timestamp: thisHour(),
  Dimension: 'api',
  Quantity: 5,
  CustomerAWSAccountId: ACCT,
  LicenseArn: L1,
  ...over,
});

/** An emulator with one new-integration product whose buyer holds two licenses. */
async function stack(options: Parameters<typeof startTestStack>[0] = {}): Promise<TestStack> {
  const s = await startTestStack({ clock, ...options });
  stacks.push(s);
  await s.admin('PUT', '/_admin/products/prod-n', {
    dimensions: ['api', 'seats'],
    licenseArn: true,
    newIntegration: true,
  });
  for (const licenseArn of [L1, L2])
    await s.admin('POST', '/_admin/subscriptions', {
      productCode: 'prod-n',
      customerAwsAccountId: ACCT,
      licenseArn,
      ...(licenseArn === L2 ? { terms: [{ dimension: 'seats', quantity: 25 }] } : {}),
    });
  return s;
}

/** One event the receiver got, with its API key header. */
interface Received {
  key: unknown;
  body: MarketplaceEvent;
}

/** A local HTTP receiver standing in for the seller's EventBridge API destination. */
async function receiver(): Promise<{ url: string; got: Received[] }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => {
      got.push({
        key: req.headers['x-meterstream-key'],
        body: JSON.parse(text) as MarketplaceEvent,
      });
      res.end();
    });
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, got };
}

describe('2026 AWS Marketplace through the SDK clients', () => {
  it('bills two concurrent agreements of one account apart, from LicenseArn-only batches', async () => {
    const s = await stack();
    const out = await s.metering.send(
      new BatchMeterUsageCommand({ UsageRecords: [rec(), rec({ LicenseArn: L2, Quantity: 9 })] }),
    );
    expect(out.Results?.map((r) => r.Status)).toEqual(['Success', 'Success']);
    const again = await s.metering.send(
      new BatchMeterUsageCommand({ UsageRecords: [rec(), rec({ LicenseArn: L2, Quantity: 8 })] }),
    );
    expect(again.Results?.map((r) => r.Status)).toEqual(['Success', 'DuplicateRecord']);
    const billing = (await s.admin('GET', '/_admin/billing')).body as {
      records: { licenseArn: string; quantity: string }[];
    };
    expect(billing.records.map((b) => [b.licenseArn, b.quantity])).toEqual([
      [L1, '5'],
      [L2, '9'],
    ]);
    const err = await s.metering
      .send(
        new BatchMeterUsageCommand({
          UsageRecords: [rec({ CustomerAWSAccountId: '999999999999' })],
        }),
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidLicenseException);
  });

  it('resolves a fulfillment token and answers the Agreement API for the license', async () => {
    const s = await stack();
    const minted = (await s.admin('POST', '/_admin/registration-tokens', { licenseArn: L2 }))
      .body as { token: string };
    const who = await s.metering.send(
      new ResolveCustomerCommand({ RegistrationToken: minted.token }),
    );
    expect(who).toMatchObject({
      ProductCode: 'prod-n',
      CustomerAWSAccountId: ACCT,
      LicenseArn: L2,
    });
    expect(who.CustomerIdentifier).toBeUndefined();
    const bad = await s.metering
      .send(new ResolveCustomerCommand({ RegistrationToken: 'nope' }))
      .catch((e: { name: string }) => e.name);
    expect(bad).toBe('InvalidTokenException');

    const found = await s.agreement.send(
      new SearchAgreementsCommand({
        catalog: 'AWSMarketplace',
        filters: [
          { name: 'AgreementType', values: ['PurchaseAgreement'] },
          { name: 'LicenseArn', values: [L2] },
        ],
      }),
    );
    const summary = found.agreementViewSummaries?.[0];
    expect(summary?.acceptor?.accountId).toBe(ACCT);
    expect(summary?.status).toBe('ACTIVE');
    expect(summary?.startTime).toBeInstanceOf(Date);
    const agreementId = summary?.agreementId ?? '';
    const described = await s.agreement.send(new DescribeAgreementCommand({ agreementId }));
    expect(described.proposalSummary?.resources).toEqual([{ id: 'prod-n', type: 'SaaSProduct' }]);
    const terms = await s.agreement.send(new GetAgreementTermsCommand({ agreementId }));
    expect(
      terms.acceptedTerms?.find((t) => t.configurableUpfrontPricingTerm)
        ?.configurableUpfrontPricingTerm?.configuration?.dimensions,
    ).toEqual([{ dimensionKey: 'seats', dimensionValue: 25 }]);
    const ents = await s.agreement.send(new GetAgreementEntitlementsCommand({ agreementId }));
    expect(ents.agreementEntitlements?.[0]).toMatchObject({
      status: 'PROVISIONED',
      licenseArn: L2,
      registrationToken: minted.token,
    });
    const missing = await s.agreement
      .send(new DescribeAgreementCommand({ agreementId: 'agmt-nope' }))
      .catch((e: { name: string; $metadata: { httpStatusCode?: number } }) => [
        e.name,
        e.$metadata.httpStatusCode,
      ]);
    expect(missing).toEqual(['ResourceNotFoundException', 404]);
  });

  it('throttles over the quota; the SDK retries, and the per-second counts never exceed it', async () => {
    const s = await stack();
    expect((await s.admin('POST', '/_admin/quota', { ratePerSecond: 3 })).status).toBe(200);
    const retrying = new MarketplaceMeteringClient(clientConfig(s.emulator.url, 30));
    try {
      const calls = Array.from({ length: 10 }, (_, i) =>
        retrying.send(
          new BatchMeterUsageCommand({
            UsageRecords: [rec({ Timestamp: new Date(thisHour().getTime() - i * H), Quantity: i })],
          }),
        ),
      );
      const out = await Promise.all(calls);
      expect(out.map((o) => o.Results?.[0]?.Status)).toEqual(Array(10).fill('Success'));
    } finally {
      retrying.destroy();
    }
    const quota = (await s.admin('GET', `/_admin/quota?account=111122223333`)).body as {
      ratePerSecond: number;
      seconds: { accepted: number; throttled: number; operation: string }[];
    };
    expect(quota.ratePerSecond).toBe(3);
    const bmu = quota.seconds.filter((c) => c.operation === 'BatchMeterUsage');
    expect(bmu.reduce((n, c) => n + c.accepted, 0)).toBe(10);
    expect(Math.max(...bmu.map((c) => c.accepted))).toBeLessThanOrEqual(3);
    expect(bmu.reduce((n, c) => n + c.throttled, 0)).toBeGreaterThan(0);
    const metrics = await (await fetch(`${s.emulator.url}/metrics`)).text();
    expect(metrics).toMatch(
      /aws_emulator_quota_throttled_total\{operation="BatchMeterUsage"\} [1-9]/,
    );
  });

  it('posts lifecycle events with the shared secret; a deprovisioned license meters one more hour', async () => {
    const r = await receiver();
    const s = await stack({
      events: { url: r.url, headerName: 'x-meterstream-key', secret: 'k1' },
    });
    await s.admin('POST', '/_admin/licenses/amend', {
      licenseArn: L1,
      terms: [{ dimension: 'seats', quantity: 5 }],
    });
    const at = new Date(clock.now() - 10 * 60_000).toISOString();
    expect(
      (await s.admin('POST', '/_admin/licenses/deprovision', { licenseArn: L1, at })).status,
    ).toBe(200);
    await s.emulator.core.events.idle();
    expect(r.got.map((g) => g.body['detail-type'])).toEqual([
      'Purchase Agreement Created - Proposer',
      'Purchase Agreement Created - Manufacturer',
      'License Updated - Manufacturer',
      'Purchase Agreement Created - Proposer',
      'Purchase Agreement Created - Manufacturer',
      'License Updated - Manufacturer',
      'Purchase Agreement Amended - Proposer',
      'Purchase Agreement Amended - Manufacturer',
      'License Updated - Manufacturer',
      'License Deprovisioned - Manufacturer',
    ]);
    expect(new Set(r.got.map((g) => g.key))).toEqual(new Set(['k1']));
    expect(r.got.at(-1)?.body).toMatchObject({
      source: 'aws.agreement-marketplace',
      detail: { license: { arn: L1 }, acceptor: { accountId: ACCT }, product: { code: 'prod-n' } },
    });
    const deliveries = (await s.admin('GET', '/_admin/events')).body as {
      deliveries: { status: string }[];
    };
    expect(deliveries.deliveries.map((d) => d.status)).toEqual(Array(10).fill('delivered'));
    // The hour it was deprovisioned in is still accepted within the following hour.
    const before = new Date(Math.floor((Date.parse(at) - 1) / H) * H);
    const ok = await s.metering.send(
      new BatchMeterUsageCommand({ UsageRecords: [rec({ Timestamp: before })] }),
    );
    expect(ok.Results?.[0]?.Status).toBe('Success');
  });
});
