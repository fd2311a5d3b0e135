import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { Metrics, createLogger } from '@meterstream/observability';
import type { Exchange } from './api.js';
import { EmulatorCore } from './core.js';
import { buildServer } from './server.js';
import { emptyState } from './state.js';

const NOW = Date.parse('2026-11-26T12:30:00Z');
const AUTH =
  'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-east-1/aws-marketplace/aws4_request, SignedHeaders=host, Signature=x';
const AMZ = 'application/x-amz-json-1.1';

let core: EmulatorCore;
let app: FastifyInstance;
let exchanges: Exchange[];

beforeEach(() => {
  core = new EmulatorCore(
    emptyState(1),
    { now: () => NOW },
    { accountId: '111122223333', cloudTrailDelayMs: 0, seed: 1 },
    () => undefined,
  );
  exchanges = [];
  app = buildServer({
    core,
    logger: createLogger('test', { level: 'silent' }),
    metrics: new Metrics('aws_emulator', { defaultMetrics: false }),
    onExchange: (e) => exchanges.push({ ...e }),
  });
});
afterEach(() => app.close());

const aws = (target: string, body: unknown, headers: Record<string, string> = {}) =>
  app.inject({
    method: 'POST',
    url: '/',
    headers: { 'content-type': AMZ, 'x-amz-target': target, authorization: AUTH, ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('AWS endpoint', () => {
  it('answers AWS errors with status, x-amzn-ErrorType and __type, and reports the exchange', async () => {
    const res = await aws('AWSMPMeteringService.Nope', {});
    expect(res.statusCode).toBe(400);
    expect(res.headers['x-amzn-errortype']).toBe('UnknownOperationException');
    expect(res.json()).toMatchObject({ __type: 'UnknownOperationException' });
    expect(res.headers['x-amzn-requestid']).toEqual(expect.any(String));
    expect(exchanges).toEqual([
      expect.objectContaining({
        operation: 'unknown',
        status: 400,
        errorType: 'UnknownOperationException',
      }),
    ]);
  });

  it('checks the SigV4 credential scope and the body before the operation', async () => {
    expect(
      (await aws('AWSMPMeteringService.BatchMeterUsage', {}, { authorization: '' })).statusCode,
    ).toBe(403);
    const wrongService = await aws('CloudTrail_20131101.LookupEvents', {});
    expect(wrongService.json()).toMatchObject({ __type: 'InvalidSignatureException' });
    expect((await aws('AWSMPMeteringService.MeterUsage', '[1]')).json()).toMatchObject({
      __type: 'SerializationException',
    });
    expect((await aws('AWSMPMeteringService.MeterUsage', '{nope')).json()).toMatchObject({
      __type: 'SerializationException',
    });
  });

  it('meters through the core and counts records by status in /metrics', async () => {
    core.putProduct({ productCode: 'prod-a', dimensions: ['d'], licenseArn: false });
    core.addSubscription({ productCode: 'prod-a', customerIdentifier: 'c1' });
    const rec = {
      Timestamp: (NOW - 3_600_000) / 1000,
      Dimension: 'd',
      Quantity: 3,
      CustomerIdentifier: 'c1',
    };
    const res = await aws('AWSMPMeteringService.BatchMeterUsage', {
      ProductCode: 'prod-a',
      UsageRecords: [rec, { ...rec, CustomerIdentifier: 'c2' }],
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/x-amz-json-1\.1/);
    expect(res.json().Results.map((r: { Status: string }) => r.Status)).toEqual([
      'Success',
      'CustomerNotSubscribed',
    ]);
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/aws_emulator_records_total\{status="Success"\} 1/);
    expect(metrics).toMatch(
      /aws_emulator_requests_total\{operation="BatchMeterUsage",outcome="ok"\} 1/,
    );
  });
});

describe('admin API', () => {
  const admin = (method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown) =>
    app.inject({
      method,
      url,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });

  it('registers products and subscriptions, naming every invalid field', async () => {
    expect((await admin('PUT', '/_admin/products/prod-a', { dimensions: ['d'] })).json()).toEqual({
      productCode: 'prod-a',
      dimensions: ['d'],
      licenseArn: false,
    });
    const bad = await admin('POST', '/_admin/subscriptions', { productCode: 'prod-a' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().issues[0].message).toMatch(/customerIdentifier or customerAwsAccountId/);
    expect(
      (await admin('POST', '/_admin/subscriptions', { productCode: 'x', customerIdentifier: 'c' }))
        .statusCode,
    ).toBe(404);
    expect(
      (
        await admin('POST', '/_admin/subscriptions', {
          productCode: 'prod-a',
          customerIdentifier: 'c',
        })
      ).statusCode,
    ).toBe(201);
    expect((await admin('GET', '/_admin/subscriptions')).json().subscriptions).toHaveLength(1);
  });

  it('takes a JSON content type with no body, and answers 400 to malformed JSON', async () => {
    expect((await admin('POST', '/_admin/reset')).json()).toEqual({ status: 'reset' });
    const res = await app.inject({
      method: 'POST',
      url: '/_admin/clock',
      headers: { 'content-type': 'application/json' },
      payload: '{',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'request body is not valid JSON' });
  });

  it('moves the clock and sets faults', async () => {
    expect((await admin('POST', '/_admin/clock', { offsetMs: 60_000 })).json()).toEqual({
      now: new Date(NOW + 60_000).toISOString(),
      offsetMs: 60_000,
    });
    expect((await admin('GET', '/_admin/clock')).json().offsetMs).toBe(60_000);
    expect((await admin('POST', '/_admin/faults', { throttlingRate: 2 })).statusCode).toBe(400);
    expect(
      (await admin('POST', '/_admin/faults', { throttlingRate: 1 })).json().throttlingRate,
    ).toBe(1);
    expect(
      (await aws('AWSMPEntitlementService.GetEntitlements', { ProductCode: 'p' })).json(),
    ).toMatchObject({
      __type: 'ThrottlingException',
    });
  });
});
