import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LookupEventsCommand, type CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { GetEntitlementsCommand } from '@aws-sdk/client-marketplace-entitlement-service';
import {
  BatchMeterUsageCommand,
  MarketplaceMeteringClient,
  type UsageRecord,
} from '@aws-sdk/client-marketplace-metering';
import { afterEach, describe, expect, it } from 'vitest';
import { testClock } from '@meterstream/testing';
import { clientConfig, startTestStack, type TestStack } from './testing/harness.js';

const H = 3_600_000;
const stacks: TestStack[] = [];
afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.close()));
});
/** The tests' clock: the emulator and every timestamp a test sends take time from it. */
const clock = testClock();
async function stack(
  options: Parameters<typeof startTestStack>[0] = {},
  dir?: string,
): Promise<TestStack> {
  const s = await startTestStack({ clock, ...options }, dir);
  stacks.push(s);
  await s.admin('PUT', '/_admin/products/prod-a', { dimensions: ['api_calls', 'storage'] });
  await s.admin('POST', '/_admin/subscriptions', {
    productCode: 'prod-a',
    customerAwsAccountId: '123456789012',
  });
  return s;
}
const thisHour = (): Date => new Date(Math.floor(clock.now() / H) * H);
const rec = (over: Partial<UsageRecord> = {}): UsageRecord => ({
  Timestamp: thisHour(),
  Dimension: 'api_calls',
  Quantity: 5,
  CustomerAWSAccountId: '123456789012',
  ...over,
});
const meter = (s: TestStack, records: UsageRecord[]) =>
  s.metering.send(new BatchMeterUsageCommand({ ProductCode: 'prod-a', UsageRecords: records }));
const errorOf = async (
  p: Promise<unknown>,
): Promise<{ name: string; status: number | undefined; fault: string }> => {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; $metadata?: { httpStatusCode?: number }; $fault: string };
    return { name: e.name, status: e.$metadata?.httpStatusCode, fault: e.$fault };
  }
  throw new Error('expected the call to fail');
};
async function lookupAll(ct: CloudTrailClient, maxResults = 50) {
  const events = [];
  let token: string | undefined;
  do {
    const page = await ct.send(
      new LookupEventsCommand({
        LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'BatchMeterUsage' }],
        MaxResults: maxResults,
        NextToken: token,
      }),
    );
    events.push(...(page.Events ?? []));
    token = page.NextToken;
    await new Promise((r) => setTimeout(r, 510)); // 2 LookupEvents a second
  } while (token);
  return events;
}

describe('AWS SDK v3 clients against the emulator', () => {
  it('dedups per hour: same record → same MeteringRecordId, other quantity → DuplicateRecord', async () => {
    const s = await stack();
    const first = await meter(s, [rec()]);
    expect(first.Results?.[0]?.Status).toBe('Success');
    const again = await meter(s, [
      rec({ Timestamp: new Date(thisHour().getTime() + 30 * 60_000) }),
      rec({ Quantity: 9 }),
    ]);
    expect(again.Results?.[0]?.MeteringRecordId).toBe(first.Results?.[0]?.MeteringRecordId);
    expect(again.Results?.[1]?.Status).toBe('DuplicateRecord');
    const unknown = await meter(s, [rec({ CustomerAWSAccountId: '000000000000' })]);
    expect(unknown.Results?.[0]?.Status).toBe('CustomerNotSubscribed');
    const billing = (await s.admin('GET', '/_admin/billing')).body as {
      records: { quantity: string }[];
    };
    expect(billing.records).toEqual([
      expect.objectContaining({
        productCode: 'prod-a',
        customerAwsAccountId: '123456789012',
        dimension: 'api_calls',
        hour: thisHour().toISOString(),
        quantity: '5',
        meteringRecordId: first.Results?.[0]?.MeteringRecordId,
      }),
    ]);
  });

  it('surfaces modeled errors with the SDK exception classes and HTTP statuses', async () => {
    const s = await stack();
    expect(
      await errorOf(
        meter(
          s,
          Array.from({ length: 26 }, () => rec()),
        ),
      ),
    ).toMatchObject({
      name: 'ValidationException',
      status: 400,
    });
    expect(
      await errorOf(meter(s, [rec({ Timestamp: new Date(clock.now() - 25 * H) })])),
    ).toMatchObject({
      name: 'TimestampOutOfBoundsException',
      status: 400,
      fault: 'client',
    });
    expect(await errorOf(meter(s, [rec({ Dimension: 'gpu' })]))).toMatchObject({
      name: 'InvalidUsageDimensionException',
    });
    expect(
      await errorOf(
        s.metering.send(new BatchMeterUsageCommand({ ProductCode: 'nope', UsageRecords: [rec()] })),
      ),
    ).toMatchObject({ name: 'InvalidProductCodeException' });
    expect(await errorOf(meter(s, [rec({ CustomerIdentifier: 'x' })]))).toMatchObject({
      name: 'InvalidCustomerIdentifierException',
    });
    await s.admin('POST', '/_admin/faults', { internalErrorRate: 1 });
    expect(await errorOf(meter(s, [rec()]))).toMatchObject({
      name: 'InternalServiceErrorException',
      status: 500,
      fault: 'server',
    });
    await s.admin('POST', '/_admin/faults', { throttlingRate: 1 });
    expect(await errorOf(meter(s, [rec()]))).toMatchObject({
      name: 'ThrottlingException',
      status: 400,
    });
    expect(
      ((await s.admin('GET', '/_admin/billing')).body as { records: unknown[] }).records,
    ).toHaveLength(0);
  });

  it('checks the SigV4 credential scope and the target header', async () => {
    const s = await stack();
    const sign = (service: string): string =>
      `AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=00`;
    const post = (target: string, auth?: string) =>
      fetch(s.emulator.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': target,
          ...(auth ? { authorization: auth } : {}),
        },
        body: '{}',
      });
    const wrong = await post('AWSMPMeteringService.BatchMeterUsage', sign('cloudtrail'));
    expect(wrong.status).toBe(403);
    expect(wrong.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');
    expect(((await wrong.json()) as { __type: string }).__type).toBe('InvalidSignatureException');
    expect((await post('CloudTrail_20131101.LookupEvents', sign('aws-marketplace'))).status).toBe(
      403,
    );
    expect((await post('AWSMPMeteringService.BatchMeterUsage')).status).toBe(403);
    const unknownOp = await post('AWSMPMeteringService.RegisterUsage', sign('aws-marketplace'));
    expect([unknownOp.status, unknownOp.headers.get('x-amzn-errortype')]).toEqual([
      400,
      'UnknownOperationException',
    ]);
    const ok = await post(
      'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents',
      sign('cloudtrail'),
    );
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ Events: [] });
  });

  it('SDK retries throttling and dropped responses; the retry is deduplicated to the same record', async () => {
    const s = await stack({ seed: 5 });
    await s.admin('POST', '/_admin/faults', {
      seed: 5,
      dropResponseRate: 0.4,
      throttlingRate: 0.2,
    });
    const retrying = new MarketplaceMeteringClient(clientConfig(s.emulator.url, 10));
    try {
      const ids = new Set<string>();
      const faultCount = async (kind: string): Promise<number> => {
        const text = await (await fetch(`${s.emulator.url}/metrics`)).text();
        return Number(
          new RegExp(`aws_emulator_faults_total\\{kind="${kind}"\\} (\\d+)`).exec(text)?.[1] ?? 0,
        );
      };
      // Meter hour after hour until both faults have struck at least once (bounded).
      for (let i = 0; i < 20; i++) {
        if (
          i >= 3 &&
          (await faultCount('dropResponse')) > 0 &&
          (await faultCount('ThrottlingException')) > 0
        )
          break;
        const out = await retrying.send(
          new BatchMeterUsageCommand({
            ProductCode: 'prod-a',
            UsageRecords: [rec({ Timestamp: new Date(thisHour().getTime() - i * H), Quantity: i })],
          }),
        );
        expect(out.Results?.[0]?.Status).toBe('Success');
        ids.add(out.Results?.[0]?.MeteringRecordId ?? '');
      }
      const billing = (await s.admin('GET', '/_admin/billing')).body as {
        records: { meteringRecordId: string }[];
      };
      expect(billing.records.map((r) => r.meteringRecordId).sort()).toEqual([...ids].sort());
      const metrics = await (await fetch(`${s.emulator.url}/metrics`)).text();
      expect(metrics).toMatch(/aws_emulator_faults_total\{kind="dropResponse"\} [1-9]/);
      expect(metrics).toMatch(/aws_emulator_faults_total\{kind="ThrottlingException"\} [1-9]/);
    } finally {
      retrying.destroy();
    }
  });

  it('LookupEvents: delivery delay, newest first, paging with NextToken, throttling over 2 req/s', async () => {
    const s = await stack({ cloudTrailDelayMs: 400 });
    for (let i = 0; i < 5; i++) {
      await meter(s, [rec({ Timestamp: new Date(thisHour().getTime() - i * H), Quantity: i })]);
    }
    const early = await s.cloudTrail.send(new LookupEventsCommand({}));
    expect(early.Events).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 600));
    const events = await lookupAll(s.cloudTrail, 2);
    expect(events).toHaveLength(5);
    type Trail = {
      requestParameters: { usageRecords: { quantity: number }[] };
      responseElements: { results: unknown[] };
    };
    const parsed = events.map((e) => JSON.parse(e.CloudTrailEvent ?? '{}') as Trail);
    expect(parsed.map((p) => p.requestParameters.usageRecords[0]?.quantity)).toEqual([
      4, 3, 2, 1, 0,
    ]);
    expect(events[0]).toMatchObject({
      EventName: 'BatchMeterUsage',
      EventSource: 'metering-marketplace.amazonaws.com',
    });
    expect(events[0]?.EventTime).toBeInstanceOf(Date);
    expect(parsed[0]?.responseElements.results[0]).toMatchObject({
      status: 'Success',
      meteringRecordId: expect.any(String),
    });
    const calls = [1, 2, 3].map(() =>
      errorOf(s.cloudTrail.send(new LookupEventsCommand({ MaxResults: 1 }))).catch(() => undefined),
    );
    const outcomes = await Promise.all(calls);
    expect(outcomes.filter((o) => o?.name === 'ThrottlingException').length).toBeGreaterThanOrEqual(
      1,
    );
  });

  it('GetEntitlements pages and filters values from the admin API', async () => {
    const s = await stack();
    for (let i = 0; i < 27; i++) {
      const r = await s.admin('POST', '/_admin/entitlements', {
        productCode: 'prod-a',
        dimension: 'api_calls',
        customerIdentifier: `c-${i}`,
        value: { integerValue: 100 + i },
      });
      expect(r.status).toBe(201);
    }
    const p1 = await s.entitlement.send(new GetEntitlementsCommand({ ProductCode: 'prod-a' }));
    expect(p1.Entitlements).toHaveLength(25);
    const p2 = await s.entitlement.send(
      new GetEntitlementsCommand({ ProductCode: 'prod-a', NextToken: p1.NextToken }),
    );
    expect(p2.Entitlements).toHaveLength(2);
    const one = await s.entitlement.send(
      new GetEntitlementsCommand({
        ProductCode: 'prod-a',
        Filter: { CUSTOMER_IDENTIFIER: ['c-7'] },
      }),
    );
    expect(one.Entitlements).toEqual([
      {
        ProductCode: 'prod-a',
        Dimension: 'api_calls',
        CustomerIdentifier: 'c-7',
        Value: { IntegerValue: 107 },
      },
    ]);
  });

  it('admin API validates bodies with clear 400s, and the clock offset moves "now"', async () => {
    const s = await stack();
    const bad = await s.admin('PUT', '/_admin/products/prod-b', { dimensions: [] });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('dimensions');
    expect((await s.admin('POST', '/_admin/subscriptions', { productCode: 'prod-a' })).status).toBe(
      400,
    );
    expect(
      (
        await s.admin('POST', '/_admin/subscriptions', {
          productCode: 'nope',
          customerIdentifier: 'x',
        })
      ).status,
    ).toBe(404);
    expect((await s.admin('POST', '/_admin/faults', { throttlingRate: 2 })).status).toBe(400);
    expect((await s.admin('POST', '/_admin/faults', { bogus: 1 })).status).toBe(400);
    expect((await s.admin('GET', '/_admin/health')).status).toBe(200);

    // A record 2 days old is out of bounds now, but in bounds once the emulator's clock is 2 days back.
    const old = rec({ Timestamp: new Date(thisHour().getTime() - 48 * H) });
    expect(await errorOf(meter(s, [old]))).toMatchObject({ name: 'TimestampOutOfBoundsException' });
    expect((await s.admin('POST', '/_admin/clock', { offsetMs: -47 * H })).status).toBe(200);
    expect((await meter(s, [old])).Results?.[0]?.Status).toBe('Success');
    await s.admin('POST', '/_admin/reset');
    expect(
      ((await s.admin('GET', '/_admin/billing')).body as { records: unknown[] }).records,
    ).toHaveLength(0);
    expect(((await s.admin('GET', '/_admin/clock')).body as { offsetMs: number }).offsetMs).toBe(0);
  });

  it('persists the ledger and CloudTrail to the state file and reloads them after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aws-emu-restart-'));
    try {
      const a = await startTestStack({ clock }, dir);
      await a.admin('PUT', '/_admin/products/prod-a', { dimensions: ['api_calls'] });
      await a.admin('POST', '/_admin/subscriptions', {
        productCode: 'prod-a',
        customerAwsAccountId: '123456789012',
      });
      const first = await meter(a, [rec()]);
      await a.close();
      const saved = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as {
        billing: unknown[];
      };
      expect(saved.billing).toHaveLength(1);
      const b = await startTestStack({ clock }, dir);
      stacks.push(b);
      const again = await meter(b, [rec()]);
      expect(again.Results?.[0]?.MeteringRecordId).toBe(first.Results?.[0]?.MeteringRecordId);
      expect((await meter(b, [rec({ Quantity: 6 })])).Results?.[0]?.Status).toBe('DuplicateRecord');
      const trail = (await b.admin('GET', '/_admin/cloudtrail')).body as { events: unknown[] };
      expect(trail.events).toHaveLength(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('dist/main.js reads its env, serves health, and flushes state on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aws-emu-main-'));
    const main = resolve(fileURLToPath(new URL('.', import.meta.url)), '../dist/main.js');
    const port = 40_000 + Math.floor(Math.random() * 20_000);
    const child = spawn(process.execPath, [main], {
      env: {
        ...process.env,
        MS_AWS_PORT: String(port),
        MS_AWS_STATE_FILE: join(dir, 's.json'),
        MS_LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    });
    try {
      const url = `http://127.0.0.1:${port}`;
      let up = false;
      for (let i = 0; i < 50 && !up; i++) {
        up = await fetch(`${url}/_admin/health`).then(
          (r) => r.ok,
          () => false,
        );
        if (!up) await new Promise((r) => setTimeout(r, 100));
      }
      expect(up).toBe(true);
      await fetch(`${url}/_admin/products/p1`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ dimensions: ['d'] }),
      });
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      const saved = JSON.parse(readFileSync(join(dir, 's.json'), 'utf8')) as {
        products: Record<string, unknown>;
      };
      expect(Object.keys(saved.products)).toEqual(['p1']);

      const bad = spawn(process.execPath, [main], {
        env: { ...process.env, MS_AWS_PORT: 'x' },
        stdio: 'ignore',
      });
      expect(await new Promise((r) => bad.once('exit', (code) => r(code)))).toBe(78);
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
