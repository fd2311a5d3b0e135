import { LookupEventsCommand, type LookupEventsCommandInput } from '@aws-sdk/client-cloudtrail';
import {
  DescribeAgreementCommand,
  GetAgreementEntitlementsCommand,
  GetAgreementTermsCommand,
  SearchAgreementsCommand,
} from '@aws-sdk/client-marketplace-agreement';
import { GetEntitlementsCommand } from '@aws-sdk/client-marketplace-entitlement-service';
import {
  BatchMeterUsageCommand,
  MeterUsageCommand,
  ResolveCustomerCommand,
  type UsageRecord,
} from '@aws-sdk/client-marketplace-metering';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testClock } from '@meterstream/testing';
import { MODELS } from './model/shapes.js';
import { validateShape, type ServiceModel, type Shape } from './model/validator.js';
import type { Exchange } from './server.js';
import { loadBotocoreModel, type BotocoreModel } from './testing/boto-venv.js';
import { startTestStack, type TestStack } from './testing/harness.js';

// The emulator is checked against the AWS API models as botocore ships them (loaded from the stack's
// venv at test time, never committed), so it cannot drift into agreeing with our own bugs.

const H = 3_600_000;
const SERVICES = {
  meteringmarketplace: '2016-01-14',
  'marketplace-entitlement': '2017-01-11',
  cloudtrail: '2013-11-01',
  'marketplace-agreement': '2020-03-01',
} as const;
type ServiceName = keyof typeof SERVICES;
const OPERATION_SERVICE: Record<string, ServiceName> = {
  BatchMeterUsage: 'meteringmarketplace',
  MeterUsage: 'meteringmarketplace',
  ResolveCustomer: 'meteringmarketplace',
  GetEntitlements: 'marketplace-entitlement',
  LookupEvents: 'cloudtrail',
  SearchAgreements: 'marketplace-agreement',
  DescribeAgreement: 'marketplace-agreement',
  GetAgreementTerms: 'marketplace-agreement',
  GetAgreementEntitlements: 'marketplace-agreement',
};
/**
 * Output members the emulator never produces: free trials are not emulated, and an agreement has
 * one license, so its entitlements never span two pages.
 */
const NOT_PRODUCED = ['DescribeAgreement.freeTrialSummary', 'GetAgreementEntitlements.nextToken'];
/** Errors every AWS JSON service may answer though no operation models them. */
const COMMON_ERRORS = [
  'ValidationException',
  'ThrottlingException',
  'SerializationException',
  'UnknownOperationException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'DryRunOperation',
];

const LICENSE = 'arn:aws:license-manager::123456789012:license:l-0123456789abcdef0';
const CONTRACT = 'arn:aws:license-manager::123456789012:license:l-0123456789abcdef1';

/** The tests' clock: the emulator and every timestamp sent take time from it, not the wall clock. */
const clock = testClock();
const botocore = {} as Record<ServiceName, BotocoreModel>;
const exchanges: Exchange[] = [];
let s: TestStack;

const CONSTRAINT_KEYS = [
  'type',
  'required',
  'min',
  'max',
  'pattern',
  'enum',
  'union',
  'error',
  'member',
  'key',
  'value',
  'exception',
  'fault',
];
function constraints(shape: Shape | undefined): Record<string, unknown> {
  if (!shape) return {};
  const out: Record<string, unknown> = {};
  for (const k of CONSTRAINT_KEYS) if (shape[k] !== undefined) out[k] = shape[k];
  if (shape.members) {
    out.members = Object.fromEntries(Object.entries(shape.members).map(([n, m]) => [n, m.shape]));
  }
  return out;
}

beforeAll(async () => {
  for (const [name, version] of Object.entries(SERVICES)) {
    botocore[name as ServiceName] = loadBotocoreModel(name, version);
  }
  s = await startTestStack({ clock, onExchange: (e) => exchanges.push(e) });
  await s.admin('PUT', '/_admin/products/prod-a', { dimensions: ['api_calls', 'storage'] });
  await s.admin('POST', '/_admin/subscriptions', {
    productCode: 'prod-a',
    customerAwsAccountId: '123456789012',
  });
  await s.admin('POST', '/_admin/subscriptions', {
    productCode: 'prod-a',
    customerIdentifier: 'cust-1',
  });
  await s.admin('POST', '/_admin/subscriptions', {
    productCode: 'prod-a',
    customerAwsAccountId: '111122223333',
  });
  await s.admin('PUT', '/_admin/products/prod-n', {
    dimensions: ['api', 'seats'],
    licenseArn: true,
    newIntegration: true,
  });
  for (const [licenseArn, terms] of [
    [LICENSE, undefined],
    [CONTRACT, [{ dimension: 'seats', quantity: 10 }]],
  ] as const) {
    await s.admin('POST', '/_admin/subscriptions', {
      productCode: 'prod-n',
      customerAwsAccountId: '123456789012',
      licenseArn,
      ...(terms ? { terms, endTime: new Date(clock.now() + 365 * 24 * H).toISOString() } : {}),
    });
  }
  await s.admin('POST', '/_admin/faults', { lookupRatePerSecond: 0 });
}, 300_000);
afterAll(async () => {
  await s.close();
});

describe('the emulator’s embedded model equals botocore', () => {
  it.each(Object.keys(SERVICES) as ServiceName[])(
    '%s: target prefix, signing name, operations, shapes',
    (name) => {
      const ours: ServiceModel = MODELS[name];
      const theirs = botocore[name];
      expect(ours.targetPrefix).toBe(theirs.targetPrefix);
      expect(ours.signingName).toBe(theirs.signingName);
      for (const [op, model] of Object.entries(ours.operations))
        expect(model).toEqual(theirs.operations[op]);
      for (const [shapeName, shape] of Object.entries(ours.shapes)) {
        expect({ shapeName, ...constraints(shape) }).toEqual({
          shapeName,
          ...constraints(theirs.shapes[shapeName]),
        });
      }
    },
  );
});

describe('every exchange matches the botocore model', () => {
  const thisHour = (): Date => new Date(Math.floor(clock.now() / H) * H);
  const rec = (over: Partial<UsageRecord> = {}): UsageRecord => ({
    Timestamp: thisHour(),
    Dimension: 'api_calls',
    Quantity: 5,
    CustomerAWSAccountId: '123456789012',
    ...over,
  });
  const swallow = async (p: Promise<unknown>): Promise<void> => {
    await p.catch(() => undefined);
  };
  const raw = async (
    target: string,
    body: unknown,
    service = 'aws-marketplace',
  ): Promise<number> => {
    const json10 = target.startsWith('AWSMPCommerceService');
    const res = await fetch(s.emulator.url, {
      method: 'POST',
      headers: {
        'content-type': `application/x-amz-json-${json10 ? '1.0' : '1.1'}`,
        'x-amz-target': target,
        authorization: `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=00`,
      },
      body: JSON.stringify(body),
    });
    await res.text();
    return res.status;
  };

  it('drives every operation through the SDKs, success and error paths', async () => {
    const bmu = (ProductCode: string, UsageRecords: UsageRecord[]) =>
      s.metering.send(new BatchMeterUsageCommand({ ProductCode, UsageRecords }));
    await bmu('prod-a', [
      rec(),
      rec({ Quantity: 6 }),
      rec({ CustomerAWSAccountId: '000000000000' }),
    ]);
    await bmu('prod-a', [
      rec({
        Dimension: 'storage',
        CustomerAWSAccountId: undefined,
        CustomerIdentifier: 'cust-1',
        UsageAllocations: [
          { AllocatedUsageQuantity: 2, Tags: [{ Key: 'team', Value: 'a' }] },
          {
            AllocatedUsageQuantity: 3,
            Tags: [
              { Key: 'team', Value: 'b' },
              { Key: 'env', Value: 'prod' },
            ],
          },
        ],
      }),
    ]);
    await bmu('prod-a', []);
    await swallow(
      bmu(
        'prod-a',
        Array.from({ length: 26 }, () => rec()),
      ),
    );
    await swallow(bmu('prod-a', [rec({ Timestamp: new Date(clock.now() - 30 * H) })]));
    await swallow(bmu('nope', [rec()]));
    await swallow(bmu('prod-a', [rec({ Dimension: 'gpu' })]));
    await swallow(bmu('prod-a', [rec({ CustomerIdentifier: 'x' })]));
    await swallow(bmu('prod-a', [rec({ LicenseArn: 'arn:aws:license-manager::1:license:l-1' })]));
    await swallow(
      bmu('prod-a', [
        rec({
          UsageAllocations: [{ AllocatedUsageQuantity: 1, Tags: [{ Key: 'k', Value: 'v' }] }],
        }),
      ]),
    );
    await swallow(
      bmu('prod-a', [
        rec({
          UsageAllocations: [{ AllocatedUsageQuantity: 5, Tags: [{ Key: 'k', Value: '|' }] }],
        }),
      ]),
    );
    await s.admin('POST', '/_admin/faults', {
      lookupRatePerSecond: 0,
      seed: 3,
      unprocessedRate: 0.5,
    });
    await bmu(
      'prod-a',
      Array.from({ length: 10 }, (_, i) =>
        rec({ Timestamp: new Date(thisHour().getTime() - (i + 1) * H) }),
      ),
    );
    await s.admin('POST', '/_admin/faults', { lookupRatePerSecond: 0, internalErrorRate: 1 });
    await swallow(bmu('prod-a', [rec()]));
    await s.admin('POST', '/_admin/faults', { lookupRatePerSecond: 0, throttlingRate: 1 });
    await swallow(bmu('prod-a', [rec()]));
    await s.admin('POST', '/_admin/faults', { lookupRatePerSecond: 0 });

    const mu = (over: Record<string, unknown> = {}) =>
      s.metering.send(
        new MeterUsageCommand({
          ProductCode: 'prod-a',
          Timestamp: thisHour(),
          UsageDimension: 'api_calls',
          UsageQuantity: 2,
          ...over,
        }),
      );
    await mu(); // the caller's key stands for the emulator's account 111122223333, subscribed above
    await swallow(mu({ UsageQuantity: 3 })); // DuplicateRequestException
    await swallow(mu({ ProductCode: 'nope' }));
    await swallow(mu({ Timestamp: new Date(clock.now() - 7 * H) }));
    await swallow(mu({ DryRun: true }));

    for (let i = 0; i < 30; i++) {
      await s.admin('POST', '/_admin/entitlements', {
        productCode: 'prod-a',
        dimension: i % 2 ? 'storage' : 'api_calls',
        ...(i % 3 ? { customerIdentifier: `c-${i}` } : { customerAwsAccountId: `1234567890${i}` }),
        ...(i % 5 === 0
          ? { licenseArn: `arn:aws:license-manager::123456789012:license:l-${i}` }
          : {}),
        value:
          i % 4 === 0
            ? { integerValue: i }
            : i % 4 === 1
              ? { doubleValue: i + 0.5 }
              : i % 4 === 2
                ? { booleanValue: true }
                : { stringValue: 'Unlimited' },
        ...(i % 7 === 0 ? { expirationDate: '2099-01-01T00:00:00Z' } : {}),
      });
    }
    const page = await s.entitlement.send(new GetEntitlementsCommand({ ProductCode: 'prod-a' }));
    await s.entitlement.send(
      new GetEntitlementsCommand({
        ProductCode: 'prod-a',
        NextToken: page.NextToken,
        MaxResults: 3,
      }),
    );
    await s.entitlement.send(
      new GetEntitlementsCommand({
        ProductCode: 'prod-a',
        Filter: { DIMENSION: ['storage'], CUSTOMER_IDENTIFIER: ['c-1'] },
      }),
    );
    await swallow(
      s.entitlement.send(new GetEntitlementsCommand({ ProductCode: 'prod-a', MaxResults: 26 })),
    );
    await swallow(
      s.entitlement.send(new GetEntitlementsCommand({ ProductCode: 'prod-a', NextToken: 'bogus' })),
    );

    const lookup = (input: LookupEventsCommandInput) =>
      s.cloudTrail.send(new LookupEventsCommand(input));
    const first = await lookup({ MaxResults: 5 });
    await lookup({ MaxResults: 5, NextToken: first.NextToken });
    await lookup({
      LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'BatchMeterUsage' }],
      StartTime: new Date(clock.now() - H),
      EndTime: new Date(clock.now()),
    });
    await swallow(lookup({ MaxResults: 51 }));
    await swallow(lookup({ StartTime: new Date(clock.now()), EndTime: new Date(clock.now() - H) }));
    await swallow(lookup({ NextToken: 'bogus' }));
    await swallow(
      lookup({
        LookupAttributes: [
          { AttributeKey: 'EventName', AttributeValue: 'BatchMeterUsage' },
          { AttributeKey: 'EventSource', AttributeValue: 'metering-marketplace.amazonaws.com' },
        ],
      }),
    );

    // Members the JS SDK of this version does not send yet, but boto3 does (QuantityAsDecimal).
    expect(
      await raw('AWSMPMeteringService.BatchMeterUsage', {
        ProductCode: 'prod-a',
        UsageRecords: [
          {
            Timestamp: clock.now() / 1000,
            Dimension: 'storage',
            QuantityAsDecimal: '1.25',
            CustomerAWSAccountId: '123456789012',
          },
        ],
      }),
    ).toBe(200);
    // Requests that break the model must be rejected.
    expect(
      await raw('AWSMPMeteringService.BatchMeterUsage', {
        ProductCode: 'prod a',
        UsageRecords: [],
      }),
    ).toBe(400);
    expect(await raw('AWSMPMeteringService.BatchMeterUsage', { ProductCode: 'prod-a' })).toBe(400);
    expect(
      await raw('AWSMPMeteringService.BatchMeterUsage', {
        ProductCode: 'prod-a',
        UsageRecords: [{ Dimension: 'api_calls', Quantity: 1, CustomerIdentifier: 'cust-1' }],
      }),
    ).toBe(400);
    expect(
      await raw('AWSMPMeteringService.BatchMeterUsage', {
        ProductCode: 'prod-a',
        UsageRecords: [rawRecord({ Quantity: 1.5 })],
      }),
    ).toBe(400);
    expect(
      await raw('AWSMPMeteringService.BatchMeterUsage', {
        ProductCode: 'prod-a',
        UsageRecords: [rawRecord({ QuantityAsDecimal: '1.1234567' })],
      }),
    ).toBe(400);
    expect(
      await raw('AWSMPMeteringService.BatchMeterUsage', {
        ProductCode: 'prod-a',
        UsageRecords: [rawRecord({ CustomerAWSAccountId: 'abc', CustomerIdentifier: undefined })],
      }),
    ).toBe(400);
    expect(
      await raw('AWSMPMeteringService.MeterUsage', {
        ProductCode: 'prod-a',
        Timestamp: clock.now() / 1000,
      }),
    ).toBe(400);
    expect(await raw('AWSMPEntitlementService.GetEntitlements', {})).toBe(400);
    expect(
      await raw('AWSMPEntitlementService.GetEntitlements', {
        ProductCode: 'prod-a',
        Filter: { NOPE: ['x'] },
      }),
    ).toBe(400);
    expect(
      await raw('AWSMPEntitlementService.GetEntitlements', {
        ProductCode: 'prod-a',
        Filter: { DIMENSION: [] },
      }),
    ).toBe(400);
    expect(
      await raw(
        'CloudTrail_20131101.LookupEvents',
        { LookupAttributes: [{ AttributeKey: 'Nope', AttributeValue: 'x' }] },
        'cloudtrail',
      ),
    ).toBe(400);
    expect(
      await raw('CloudTrail_20131101.LookupEvents', { EventCategory: 'other' }, 'cloudtrail'),
    ).toBe(400);
  });

  it('drives the 2026 members and operations: LicenseArn-only, decimals, ResolveCustomer, agreements', async () => {
    const lic = (over: Record<string, unknown> = {}) => ({
      Timestamp: clock.now() / 1000,
      Dimension: 'api',
      CustomerAWSAccountId: '123456789012',
      LicenseArn: LICENSE,
      ...over,
    });
    const bmu = (body: unknown) => raw('AWSMPMeteringService.BatchMeterUsage', body);
    // LicenseArn-only batches (no ProductCode), with decimal quantities and decimal allocations.
    expect(
      await bmu({
        UsageRecords: [
          lic({ QuantityAsDecimal: '2.5' }),
          lic({
            LicenseArn: CONTRACT,
            QuantityAsDecimal: '10.000001',
            UsageAllocations: [
              { AllocatedUsageQuantityAsDecimal: '10', Tags: [{ Key: 'team', Value: 'a' }] },
              { AllocatedUsageQuantityAsDecimal: '0.000001', Tags: [{ Key: 'team', Value: 'b' }] },
            ],
          }),
        ],
      }),
    ).toBe(200);
    expect(await bmu({ UsageRecords: [lic({ QuantityAsDecimal: '2.50' })] })).toBe(200);
    expect(await bmu({ UsageRecords: [lic({ Quantity: 2, QuantityAsDecimal: '2' })] })).toBe(400);
    expect(await bmu({ UsageRecords: [lic({ LicenseArn: `${LICENSE}9` })] })).toBe(400);
    expect(await bmu({ UsageRecords: [lic({ CustomerAWSAccountId: '999999999999' })] })).toBe(400);
    expect(await bmu({ UsageRecords: [lic({ LicenseArn: undefined, Quantity: 1 })] })).toBe(400);
    expect(
      await bmu({
        ProductCode: 'prod-n',
        UsageRecords: [
          lic({ LicenseArn: undefined, CustomerAWSAccountId: undefined, CustomerIdentifier: 'x' }),
        ],
      }),
    ).toBe(400);
    expect(
      await bmu({
        UsageRecords: [
          lic({ QuantityAsDecimal: '3', UsageAllocations: [{ AllocatedUsageQuantity: 3 }] }),
        ],
      }),
    ).toBe(400);
    expect(
      await raw('AWSMPMeteringService.MeterUsage', {
        ProductCode: 'prod-a',
        Timestamp: (clock.now() - H) / 1000,
        UsageDimension: 'storage',
        UsageQuantityAsDecimal: '0.5',
      }),
    ).toBe(200);

    // ResolveCustomer: a legacy customer (with CustomerIdentifier), a new integration (without).
    const tokenOf = async (body: unknown): Promise<string> =>
      ((await s.admin('POST', '/_admin/registration-tokens', body)).body as { token: string })
        .token;
    await s.admin('POST', '/_admin/subscriptions', {
      productCode: 'prod-a',
      customerIdentifier: 'cust-2',
      customerAwsAccountId: '210987654321',
      licenseArn: 'arn:aws:license-manager::210987654321:license:l-2',
    });
    const resolve = (RegistrationToken: string) =>
      s.metering.send(new ResolveCustomerCommand({ RegistrationToken }));
    await resolve(await tokenOf({ productCode: 'prod-a', customerIdentifier: 'cust-2' }));
    await resolve(await tokenOf({ licenseArn: LICENSE }));
    await swallow(resolve('not-a-token'));
    await swallow(resolve(await tokenOf({ licenseArn: LICENSE, ttlMs: 0 })));
    expect(await raw('AWSMPMeteringService.ResolveCustomer', {})).toBe(400);

    // The Agreement API (AWS JSON 1.0), success and error paths.
    const search = (filters: [string, string][], extra: Record<string, unknown> = {}) =>
      s.agreement.send(
        new SearchAgreementsCommand({
          catalog: 'AWSMarketplace',
          filters: filters.map(([name, v]) => ({ name, values: [v] })),
          ...extra,
        }),
      );
    const all = await search([['AgreementType', 'PurchaseAgreement']], { maxResults: 1 });
    await search([['AgreementType', 'PurchaseAgreement']], { nextToken: all.nextToken });
    const contract = await search([
      ['AgreementType', 'PurchaseAgreement'],
      ['LicenseArn', CONTRACT],
    ]);
    const agreementId = contract.agreementViewSummaries?.[0]?.agreementId ?? '';
    await s.agreement.send(new DescribeAgreementCommand({ agreementId }));
    const terms = await s.agreement.send(
      new GetAgreementTermsCommand({ agreementId, maxResults: 1 }),
    );
    await s.agreement.send(
      new GetAgreementTermsCommand({ agreementId, nextToken: terms.nextToken }),
    );
    await s.agreement.send(new GetAgreementEntitlementsCommand({ agreementId }));
    await swallow(s.agreement.send(new DescribeAgreementCommand({ agreementId: 'agmt-nope' })));
    await swallow(search([['Status', 'ACTIVE']]));
    await swallow(search([['AgreementType', 'PurchaseAgreement']], { maxResults: 51 }));
    expect(await raw('AWSMPCommerceService_v20200301.DescribeAgreement', {})).toBe(400);
    expect(
      await raw('AWSMPCommerceService_v20200301.GetAgreementTerms', {
        agreementId: 'a'.repeat(65),
      }),
    ).toBe(400);
  });

  it('accepted requests and all responses validate; errors are modeled or common AWS errors', () => {
    expect(exchanges.length).toBeGreaterThan(65);
    const problems: string[] = [];
    const seenMembers = new Set<string>();
    for (const ex of exchanges) {
      const service = OPERATION_SERVICE[ex.operation];
      if (!service) {
        problems.push(`unknown operation ${ex.target}`);
        continue;
      }
      const model = botocore[service];
      const op = model.operations[ex.operation];
      if (!op) {
        problems.push(`${ex.operation} not in botocore ${service}`);
        continue;
      }
      const requestViolations = validateShape(model.shapes, op.input, ex.request);
      if (ex.status === 200) {
        for (const v of requestViolations)
          problems.push(`${ex.operation} accepted an invalid request: ${v.path} ${v.message}`);
        for (const v of validateShape(model.shapes, op.output, ex.response, {
          strictMembers: true,
        })) {
          problems.push(`${ex.operation} response: ${v.path} ${v.message}`);
        }
        for (const k of Object.keys(ex.response as object)) seenMembers.add(`${ex.operation}.${k}`);
      } else {
        if (requestViolations.length > 0 && ex.status < 400)
          problems.push(`${ex.operation} did not reject an invalid request`);
        const type = ex.errorType ?? '';
        if (!op.errors.includes(type) && !COMMON_ERRORS.includes(type)) {
          problems.push(`${ex.operation} answered ${type}, which the model does not list`);
        }
        const shape = model.shapes[type];
        if (shape) {
          const modeled = (shape.error as { httpStatusCode?: number } | undefined)?.httpStatusCode;
          if (Boolean(shape.fault) !== ex.status >= 500 || (modeled && modeled !== ex.status))
            problems.push(`${type} answered with HTTP ${ex.status}`);
          const { __type: _t, ...body } = ex.response as Record<string, unknown>;
          for (const v of validateShape(model.shapes, type, body))
            problems.push(`${type} body: ${v.path} ${v.message}`);
        }
        if (
          requestViolations.length > 0 &&
          ![
            'ValidationException',
            'InvalidTagException',
            'InvalidUsageAllocationsException',
            'SerializationException',
          ].includes(type)
        ) {
          problems.push(`${ex.operation}: model violation answered as ${type}`);
        }
      }
    }
    expect(problems).toEqual([]);
    // Every output member of every operation was produced at least once.
    for (const [opName, service] of Object.entries(OPERATION_SERVICE)) {
      const model = botocore[service];
      const out = model.shapes[model.operations[opName]?.output ?? ''];
      for (const member of Object.keys(out?.members ?? {})) {
        if (!NOT_PRODUCED.includes(`${opName}.${member}`))
          expect(seenMembers).toContain(`${opName}.${member}`);
      }
    }
  });
});

function rawRecord(over: Record<string, unknown>): Record<string, unknown> {
  return {
    Timestamp: clock.now() / 1000,
    Dimension: 'api_calls',
    Quantity: 1,
    CustomerIdentifier: 'cust-1',
    ...over,
  };
}
