import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { Metrics, createLogger } from '@meterstream/observability';
import { EmulatorCore } from './core.js';
import { buildServer } from './server.js';
import { emptyState } from './state.js';

const NOW = Date.parse('2026-11-26T12:30:00Z');
const AUTH =
  'AWS4-HMAC-SHA256 Credential=123456789012/20261126/us-east-1/aws-marketplace/aws4_request, SignedHeaders=host, Signature=x';
const LIC = 'arn:aws:license-manager::123456789012:license:l-1';

let core: EmulatorCore;
let app: FastifyInstance;
beforeEach(async () => {
  core = new EmulatorCore(
    emptyState(1),
    { now: () => NOW },
    { accountId: '111122223333', cloudTrailDelayMs: 0, seed: 1 },
    () => undefined,
  );
  app = buildServer({
    core,
    logger: createLogger('test', { level: 'silent' }),
    metrics: new Metrics('aws_emulator', { defaultMetrics: false }),
  });
  await admin('PUT', '/_admin/products/prod-a', { dimensions: ['api'], newIntegration: true });
  await admin('POST', '/_admin/subscriptions', {
    productCode: 'prod-a',
    customerAwsAccountId: '123456789012',
    licenseArn: LIC,
    terms: [{ dimension: 'api', quantity: 3 }],
  });
});
afterEach(() => app.close());

const admin = (method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown) =>
  app.inject({
    method,
    url,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
const aws = (target: string, body: unknown, contentType = 'application/x-amz-json-1.1') =>
  app.inject({
    method: 'POST',
    url: '/',
    headers: { 'content-type': contentType, 'x-amz-target': target, authorization: AUTH },
    payload: JSON.stringify(body),
  });

describe('admin API: licenses, tokens, quota, events', () => {
  it('amends, deprovisions and ends a license; names bad fields; 404 for an unknown license', async () => {
    const amended = await admin('POST', '/_admin/licenses/amend', {
      licenseArn: LIC,
      endTime: '2027-01-01T00:00:00Z',
    });
    expect(amended.json()).toMatchObject({ licenseArn: LIC, endTime: '2027-01-01T00:00:00Z' });
    const dep = await admin('POST', '/_admin/licenses/deprovision', { licenseArn: LIC });
    expect(dep.json().deprovisionedAt).toBe(new Date(NOW).toISOString());
    const ended = await admin('POST', '/_admin/licenses/end', {
      licenseArn: LIC,
      status: 'EXPIRED',
    });
    expect(ended.json()).toMatchObject({ agreementStatus: 'EXPIRED' });
    const bad = await admin('POST', '/_admin/licenses/end', { licenseArn: 'x', status: 'GONE' });
    expect(bad.statusCode).toBe(400);
    expect(
      bad
        .json()
        .issues.map((i: { path: string }) => i.path)
        .sort(),
    ).toEqual(['licenseArn', 'status']);
    const missing = await admin('POST', '/_admin/licenses/deprovision', { licenseArn: `${LIC}9` });
    expect([missing.statusCode, missing.json()]).toEqual([
      404,
      { error: `license ${LIC}9 is not registered` },
    ]);
  });

  it('mints a registration token that ResolveCustomer resolves over the AWS endpoint', async () => {
    expect((await admin('POST', '/_admin/registration-tokens', {})).statusCode).toBe(400);
    expect(
      (await admin('POST', '/_admin/registration-tokens', { licenseArn: `${LIC}9` })).statusCode,
    ).toBe(404);
    const minted = await admin('POST', '/_admin/registration-tokens', {
      productCode: 'prod-a',
      customerAwsAccountId: '123456789012',
    });
    expect(minted.statusCode).toBe(201);
    expect(minted.json().expiresAt).toBe(new Date(NOW + 30 * 60_000).toISOString());
    const res = await aws('AWSMPMeteringService.ResolveCustomer', {
      RegistrationToken: minted.json().token,
    });
    expect(res.json()).toMatchObject({ ProductCode: 'prod-a', LicenseArn: LIC });
  });

  it('sets the quota, which throttles the calling account; shows the per-second counts', async () => {
    expect((await admin('POST', '/_admin/quota', { ratePerSecond: -1 })).statusCode).toBe(400);
    expect((await admin('POST', '/_admin/quota', { ratePerSecond: 1 })).json()).toEqual({
      ratePerSecond: 1,
      seconds: [],
    });
    const batch = { ProductCode: 'prod-a', UsageRecords: [] };
    expect((await aws('AWSMPMeteringService.BatchMeterUsage', batch)).statusCode).toBe(200);
    const throttled = await aws('AWSMPMeteringService.BatchMeterUsage', batch);
    expect([throttled.statusCode, throttled.headers['x-amzn-errortype']]).toEqual([
      400,
      'ThrottlingException',
    ]);
    expect((await admin('GET', '/_admin/quota?account=123456789012')).json().seconds).toEqual([
      {
        second: new Date(NOW).toISOString(),
        operation: 'BatchMeterUsage',
        account: '123456789012',
        region: 'us-east-1',
        accepted: 1,
        throttled: 1,
      },
    ]);
    expect((await admin('GET', '/_admin/quota?account=1')).json().seconds).toEqual([]);
  });

  it('sets the event target without echoing its secret, and lists deliveries', async () => {
    expect((await admin('GET', '/_admin/events/target')).json()).toEqual({ url: '' });
    expect((await admin('POST', '/_admin/events/target', { url: 'not a url' })).statusCode).toBe(
      400,
    );
    const set = await admin('POST', '/_admin/events/target', {
      url: 'http://127.0.0.1:1/events',
      secret: 's',
    });
    expect(set.json()).toEqual({
      url: 'http://127.0.0.1:1/events',
      headerName: 'x-api-key',
      secretSet: true,
    });
    expect((await admin('GET', '/_admin/events')).json()).toEqual({ deliveries: [] });
    await admin('POST', '/_admin/events/target', { url: '' });
    expect(core.events.enabled).toBe(false);
  });

  it('answers the Agreement API in JSON 1.0', async () => {
    const res = await aws(
      'AWSMPCommerceService_v20200301.SearchAgreements',
      { filters: [{ name: 'AgreementType', values: ['PurchaseAgreement'] }] },
      'application/x-amz-json-1.0',
    );
    expect(res.headers['content-type']).toMatch(/^application\/x-amz-json-1.0/);
    expect(res.json().agreementViewSummaries).toHaveLength(1);
    const missing = await aws(
      'AWSMPCommerceService_v20200301.DescribeAgreement',
      { agreementId: 'agmt-x' },
      'application/x-amz-json-1.0',
    );
    expect([missing.statusCode, missing.json().__type]).toEqual([404, 'ResourceNotFoundException']);
  });
});
