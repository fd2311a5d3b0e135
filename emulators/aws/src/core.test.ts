import { beforeEach, describe, expect, it } from 'vitest';
import { AwsError } from './aws-error.js';
import { EmulatorCore, type CallContext } from './core.js';
import { emptyState } from './state.js';

const H = 3_600_000;
const ctx: CallContext = {
  accessKeyId: 'AKIDEXAMPLE',
  region: 'us-east-1',
  sourceIp: '127.0.0.1',
  userAgent: 'test',
  requestId: 'req-1',
};
const LICENSE = 'arn:aws:license-manager::123456789012:license:l-0123456789abcdef';
type Json = Record<string, unknown>;

let now: number;
let core: EmulatorCore;
let changes: number;

const sec = (ms: number): number => ms / 1000;
const rec = (over: Json = {}): Json => ({
  Timestamp: sec(Date.parse('2026-11-26T10:00:00Z')),
  Dimension: 'api_calls',
  Quantity: 5,
  CustomerIdentifier: 'cust-1',
  ...over,
});
const batch = (records: Json[], productCode = 'prod-a'): Json => ({
  ProductCode: productCode,
  UsageRecords: records,
});
const results = (input: Json): Json[] => core.batchMeterUsage(input, ctx).output.Results as Json[];
const awsError = (fn: () => unknown): AwsError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof AwsError) return err;
    throw err;
  }
  throw new Error('expected an AwsError');
};

beforeEach(() => {
  now = Date.parse('2026-11-26T12:30:00Z');
  changes = 0;
  core = new EmulatorCore(
    emptyState(1),
    { now: () => now },
    { accountId: '111122223333', cloudTrailDelayMs: 1000, seed: 1 },
    () => {
      changes += 1;
    },
  );
  core.putProduct({
    productCode: 'prod-a',
    dimensions: ['api_calls', 'storage'],
    licenseArn: false,
  });
  core.addSubscription({ productCode: 'prod-a', customerIdentifier: 'cust-1' });
  core.addSubscription({
    productCode: 'prod-a',
    customerAwsAccountId: '123456789012',
    licenseArn: LICENSE,
  });
});

describe('BatchMeterUsage dedup', () => {
  it('bills the first quantity per product/customer/dimension/hour; same record again is Success with the same id', () => {
    const [first] = results(batch([rec({ Timestamp: sec(Date.parse('2026-11-26T10:15:00Z')) })]));
    expect(first?.Status).toBe('Success');
    expect(first?.MeteringRecordId).toEqual(expect.any(String));
    // 10:45 is the same hour as 10:15: same quantity → same record; another quantity → DuplicateRecord.
    const [again, other] = results(
      batch([rec({ Timestamp: sec(Date.parse('2026-11-26T10:45:00Z')) }), rec({ Quantity: 6 })]),
    );
    expect(again).toMatchObject({ Status: 'Success', MeteringRecordId: first?.MeteringRecordId });
    expect(other?.Status).toBe('DuplicateRecord');
    expect(other?.MeteringRecordId).toBeUndefined();
    expect(core.state.billing).toHaveLength(1);
    expect(core.state.billing[0]).toMatchObject({
      quantity: '5',
      hour: '2026-11-26T10:00:00.000Z',
      dimension: 'api_calls',
    });
    expect(changes).toBeGreaterThan(0);
  });

  it('keeps separate keys for another hour, dimension, customer or product', () => {
    core.putProduct({ productCode: 'prod-b', dimensions: ['api_calls'], licenseArn: false });
    core.addSubscription({ productCode: 'prod-b', customerIdentifier: 'cust-1' });
    results(
      batch([
        rec(),
        rec({ Dimension: 'storage' }),
        rec({ Timestamp: sec(Date.parse('2026-11-26T11:00:00Z')) }),
      ]),
    );
    results(batch([rec()], 'prod-b'));
    results(
      batch([
        rec({
          CustomerIdentifier: undefined,
          CustomerAWSAccountId: '123456789012',
          LicenseArn: LICENSE,
        }),
      ]),
    );
    expect(core.state.billing.map((b) => b.meteringRecordId).length).toBe(5);
    expect(new Set(core.state.billing.map((b) => b.meteringRecordId)).size).toBe(5);
  });

  it('answers CustomerNotSubscribed and bills nothing for unknown customers', () => {
    const [r] = results(batch([rec({ CustomerIdentifier: 'stranger' })]));
    expect(r?.Status).toBe('CustomerNotSubscribed');
    expect(core.state.billing).toHaveLength(0);
  });

  it('treats QuantityAsDecimal equal to Quantity as the same record', () => {
    const [a] = results(batch([rec({ Quantity: undefined, QuantityAsDecimal: '5.000' })]));
    const [b] = results(batch([rec()]));
    expect(b?.MeteringRecordId).toBe(a?.MeteringRecordId);
    expect(awsError(() => results(batch([rec({ QuantityAsDecimal: '4' })]))).type).toBe(
      'ValidationException',
    );
  });

  it('defaults a missing Quantity to 0', () => {
    results(batch([rec({ Quantity: undefined })]));
    expect(core.state.billing[0]?.quantity).toBe('0');
  });
});

describe('BatchMeterUsage whole-batch errors change nothing', () => {
  const cases: [string, () => Json, string][] = [
    [
      '26 records',
      () => batch(Array.from({ length: 26 }, (_, i) => rec({ Quantity: i }))),
      'ValidationException',
    ],
    [
      'quantity above 2147483647',
      () => batch([rec({ Quantity: 2_147_483_648 })]),
      'ValidationException',
    ],
    ['negative quantity', () => batch([rec({ Quantity: -1 })]), 'ValidationException'],
    ['missing dimension', () => batch([rec({ Dimension: undefined })]), 'ValidationException'],
    ['unknown product', () => batch([rec()], 'prod-x'), 'InvalidProductCodeException'],
    ['missing product', () => ({ UsageRecords: [rec()] }), 'InvalidProductCodeException'],
    [
      'unknown dimension',
      () => batch([rec(), rec({ Dimension: 'cpu' })]),
      'InvalidUsageDimensionException',
    ],
    [
      'both customer ids',
      () => batch([rec({ CustomerAWSAccountId: '123456789012' })]),
      'InvalidCustomerIdentifierException',
    ],
    [
      'no customer id',
      () => batch([rec({ CustomerIdentifier: undefined })]),
      'InvalidCustomerIdentifierException',
    ],
    [
      'LicenseArn of another customer',
      () => batch([rec({ LicenseArn: LICENSE })]),
      'InvalidLicenseException',
    ],
    [
      'unknown LicenseArn',
      () =>
        batch([
          rec({
            CustomerIdentifier: undefined,
            CustomerAWSAccountId: '123456789012',
            LicenseArn: 'arn:aws:license-manager::123456789012:license:l-ffff',
          }),
        ]),
      'InvalidLicenseException',
    ],
    [
      'allocations not summing to quantity',
      () =>
        batch([
          rec({
            UsageAllocations: [{ AllocatedUsageQuantity: 2, Tags: [{ Key: 'team', Value: 'a' }] }],
          }),
        ]),
      'InvalidUsageAllocationsException',
    ],
    [
      'duplicate tag key',
      () =>
        batch([
          rec({
            UsageAllocations: [
              {
                AllocatedUsageQuantity: 5,
                Tags: [
                  { Key: 'team', Value: 'a' },
                  { Key: 'team', Value: 'b' },
                ],
              },
            ],
          }),
        ]),
      'InvalidTagException',
    ],
    [
      'tag value with forbidden characters',
      () =>
        batch([
          rec({
            UsageAllocations: [
              { AllocatedUsageQuantity: 5, Tags: [{ Key: 'team', Value: 'a|b' }] },
            ],
          }),
        ]),
      'InvalidTagException',
    ],
    [
      'six tags in one allocation',
      () =>
        batch([
          rec({
            UsageAllocations: [
              {
                AllocatedUsageQuantity: 5,
                Tags: Array.from({ length: 6 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })),
              },
            ],
          }),
        ]),
      'InvalidTagException',
    ],
    [
      'one record 24 hours old',
      () => batch([rec(), rec({ Timestamp: sec(now - 24 * H), Dimension: 'storage' })]),
      'TimestampOutOfBoundsException',
    ],
    [
      'a record 2 hours in the future',
      () => batch([rec({ Timestamp: sec(now + 2 * H) })]),
      'TimestampOutOfBoundsException',
    ],
  ];
  it.each(cases)('%s', (_name, input, type) => {
    const before = core.state.cloudTrail.length;
    const err = awsError(() => core.batchMeterUsage(input(), ctx));
    expect(err.type).toBe(type);
    expect(err.status).toBe(400);
    expect(core.state.billing).toHaveLength(0);
    // The failed call is still in CloudTrail, with its error code.
    expect(core.state.cloudTrail).toHaveLength(before + 1);
    expect(core.state.cloudTrail.at(-1)?.record).toMatchObject({
      errorCode: type,
      responseElements: null,
    });
  });

  it('rejects previous-month records after 06:00 UTC on the 1st, accepts them before', () => {
    const record = rec({ Timestamp: sec(Date.parse('2026-11-30T23:00:00Z')) });
    now = Date.parse('2026-12-01T06:00:00Z');
    expect(awsError(() => core.batchMeterUsage(batch([record]), ctx)).type).toBe(
      'TimestampOutOfBoundsException',
    );
    now = Date.parse('2026-12-01T05:59:00Z');
    expect(results(batch([record]))[0]?.Status).toBe('Success');
  });

  it('accepts valid allocations and an empty record list', () => {
    const allocations = [
      { AllocatedUsageQuantity: 2, Tags: [{ Key: 'team', Value: 'a' }] },
      { AllocatedUsageQuantity: 3, Tags: [{ Key: 'team', Value: 'b' }] },
    ];
    expect(results(batch([rec({ UsageAllocations: allocations })]))[0]?.Status).toBe('Success');
    expect(results(batch([]))).toEqual([]);
  });

  it('requires LicenseArn on every record of a license product', () => {
    core.putProduct({ productCode: 'prod-a', dimensions: ['api_calls'], licenseArn: true });
    const acct = { CustomerIdentifier: undefined, CustomerAWSAccountId: '123456789012' };
    expect(awsError(() => results(batch([rec(acct)]))).type).toBe('InvalidLicenseException');
    expect(results(batch([rec({ ...acct, LicenseArn: LICENSE })]))[0]?.Status).toBe('Success');
  });
});

describe('faults', () => {
  it('returns a seeded fraction of records as UnprocessedRecords, unbilled, reproducibly', () => {
    const run = (): string[] => {
      core.reset();
      core.putProduct({ productCode: 'prod-a', dimensions: ['api_calls'], licenseArn: false });
      core.addSubscription({ productCode: 'prod-a', customerIdentifier: 'cust-1' });
      core.setFaults({ seed: 99, unprocessedRate: 0.5 });
      const records = Array.from({ length: 20 }, (_, i) =>
        rec({ Timestamp: sec(now - i * 60 * 60_000 - 60_000) }),
      );
      const out = core.batchMeterUsage(batch(records), ctx).output;
      expect((out.Results as Json[]).length + (out.UnprocessedRecords as Json[]).length).toBe(20);
      expect(core.state.billing).toHaveLength((out.Results as Json[]).length);
      return (out.UnprocessedRecords as Json[]).map((r) => String(r.Timestamp));
    };
    const a = run();
    expect(a.length).toBeGreaterThan(2);
    expect(a.length).toBeLessThan(18);
    expect(run()).toEqual(a);
  });

  it('throttles and fails before applying anything', () => {
    core.setFaults({ throttlingRate: 1 });
    expect(awsError(() => core.preCallFaults('metering')).type).toBe('ThrottlingException');
    core.setFaults({ internalErrorRate: 1 });
    const err = awsError(() => core.preCallFaults('metering'));
    expect([err.type, err.status]).toEqual(['InternalServiceErrorException', 500]);
    core.setFaults({ lookupThrottlingRate: 1 });
    expect(() => core.preCallFaults('metering')).not.toThrow();
    expect(awsError(() => core.preCallFaults('lookup')).type).toBe('ThrottlingException');
  });

  it('marks applied calls whose response is to be dropped', () => {
    core.setFaults({ dropResponseRate: 1 });
    const res = core.batchMeterUsage(batch([rec()]), ctx);
    expect(res.dropResponse).toBe(true);
    expect(core.state.billing).toHaveLength(1);
    expect(core.state.cloudTrail).toHaveLength(1);
  });

  it('tampers with CloudTrail: drop, alter quantity, duplicate with another quantity, inject foreign', () => {
    core.setFaults({ cloudTrail: { dropRate: 1 } });
    results(batch([rec()]));
    expect(core.state.billing).toHaveLength(1);
    expect(core.state.cloudTrail).toHaveLength(0);

    const quantityOf = (e: { record: Json } | undefined): unknown =>
      (((e?.record.responseElements as Json).results as Json[])[0]?.usageRecord as Json).quantity;
    core.setFaults({ cloudTrail: { alterQuantityRate: 1 } });
    results(batch([rec({ Dimension: 'storage' })]));
    expect(core.state.cloudTrail).toHaveLength(1);
    expect(quantityOf(core.state.cloudTrail[0])).toBe(6);

    core.setFaults({ cloudTrail: { duplicateOtherQuantityRate: 1, injectForeignRate: 1 } });
    results(batch([rec({ Timestamp: sec(Date.parse('2026-11-26T11:00:00Z')) })]));
    const tampered = core.state.cloudTrail.map((e) => e.tampered);
    expect(tampered).toEqual([
      'alterQuantity',
      undefined,
      'duplicateOtherQuantity',
      'injectForeign',
    ]);
    expect(quantityOf(core.state.cloudTrail[2])).toBe(12);
    expect(quantityOf(core.state.cloudTrail[3])).toBe(42);
  });
});

describe('CloudTrail events and LookupEvents', () => {
  it('records the call in CloudTrail JSON shape, lower camelCase', () => {
    results(
      batch([
        rec({
          UsageAllocations: [{ AllocatedUsageQuantity: 5, Tags: [{ Key: 'team', Value: 'a' }] }],
        }),
        rec({ CustomerIdentifier: 'nobody' }),
      ]),
    );
    const e = core.state.cloudTrail[0];
    expect(e?.record).toMatchObject({
      eventVersion: '1.08',
      eventSource: 'metering-marketplace.amazonaws.com',
      eventName: 'BatchMeterUsage',
      awsRegion: 'us-east-1',
      eventType: 'AwsApiCall',
      readOnly: false,
      managementEvent: true,
      recipientAccountId: '111122223333',
      eventCategory: 'Management',
      requestID: 'req-1',
      eventID: e?.eventId,
      eventTime: '2026-11-26T12:30:00Z',
      userIdentity: { accessKeyId: 'AKIDEXAMPLE', accountId: '111122223333' },
      requestParameters: {
        productCode: 'prod-a',
        usageRecords: [
          {
            timestamp: '2026-11-26T10:00:00.000Z',
            customerIdentifier: 'cust-1',
            dimension: 'api_calls',
            quantity: 5,
            usageAllocations: [{ allocatedUsageQuantity: 5, tags: [{ key: 'team', value: 'a' }] }],
          },
          { customerIdentifier: 'nobody' },
        ],
      },
      responseElements: {
        results: [
          {
            status: 'Success',
            meteringRecordId: core.state.billing[0]?.meteringRecordId,
            usageRecord: { quantity: 5 },
          },
          { status: 'CustomerNotSubscribed' },
        ],
        unprocessedRecords: [],
      },
    });
  });

  const lookup = (input: Json = {}): { Events: Json[]; NextToken?: string } => {
    now += 1000; // stay under 2 requests a second
    return core.lookupEvents(input) as { Events: Json[]; NextToken?: string };
  };

  it('delivers after the delay, newest first, in pages of MaxResults with NextToken', () => {
    const t0 = now;
    for (let i = 0; i < 7; i++) {
      results(batch([rec({ Quantity: i, Timestamp: sec(now - (i + 1) * H) })]));
      now += 10;
    }
    now = t0 + 999; // the delivery delay is 1000 ms
    expect((core.lookupEvents({}).Events as Json[]).length).toBe(0);
    now = t0 + 1030;
    expect((core.lookupEvents({}).Events as Json[]).length).toBe(4);
    now = t0 + 5000;
    const seen: Json[] = [];
    let token: string | undefined;
    do {
      const page = lookup({ MaxResults: 3, ...(token ? { NextToken: token } : {}) });
      expect(page.Events.length).toBeLessThanOrEqual(3);
      seen.push(...page.Events);
      token = page.NextToken;
    } while (token);
    expect(seen).toHaveLength(7);
    const times = seen.map((e) => e.EventTime as number);
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const quantities = seen.map(
      (e) => JSON.parse(e.CloudTrailEvent as string).requestParameters.usageRecords[0].quantity,
    );
    expect(quantities).toEqual([6, 5, 4, 3, 2, 1, 0]);
  });

  it('filters by one attribute and time range, and rejects bad arguments', () => {
    results(batch([rec()]));
    now += 5000;
    const id = core.state.cloudTrail[0]?.eventId;
    expect(
      lookup({ LookupAttributes: [{ AttributeKey: 'EventId', AttributeValue: id }] }).Events,
    ).toHaveLength(1);
    expect(
      lookup({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'MeterUsage' }] })
        .Events,
    ).toHaveLength(0);
    expect(
      lookup({
        LookupAttributes: [
          { AttributeKey: 'EventSource', AttributeValue: 'metering-marketplace.amazonaws.com' },
        ],
      }).Events,
    ).toHaveLength(1);
    expect(lookup({ StartTime: sec(now - 1000), EndTime: sec(now) }).Events).toHaveLength(0);
    const two = [
      { AttributeKey: 'EventName', AttributeValue: 'BatchMeterUsage' },
      { AttributeKey: 'EventSource', AttributeValue: 'metering-marketplace.amazonaws.com' },
    ];
    expect(awsError(() => lookup({ LookupAttributes: two })).type).toBe(
      'InvalidLookupAttributesException',
    );
    expect(awsError(() => lookup({ StartTime: sec(now), EndTime: sec(now - 1) })).type).toBe(
      'InvalidTimeRangeException',
    );
    expect(awsError(() => lookup({ MaxResults: 51 })).type).toBe('ValidationException');
    expect(awsError(() => lookup({ NextToken: 'garbage' })).type).toBe('InvalidNextTokenException');
  });

  it('throttles more than 2 LookupEvents a second', () => {
    core.lookupEvents({});
    core.lookupEvents({});
    expect(awsError(() => core.lookupEvents({})).type).toBe('ThrottlingException');
    now += 1000;
    expect(() => core.lookupEvents({})).not.toThrow();
  });

  it('hides events older than 90 days', () => {
    results(batch([rec()]));
    now += 91 * 24 * H;
    expect(lookup().Events).toHaveLength(0);
  });
});

describe('GetEntitlements', () => {
  beforeEach(() => {
    for (let i = 0; i < 30; i++) {
      core.addEntitlement({
        productCode: 'prod-a',
        dimension: i % 2 === 0 ? 'api_calls' : 'storage',
        customerIdentifier: `cust-${i}`,
        value: { IntegerValue: i },
      });
    }
    core.addEntitlement({
      productCode: 'prod-a',
      dimension: 'api_calls',
      customerAwsAccountId: '123456789012',
      licenseArn: LICENSE,
      value: { IntegerValue: 1000 },
      expirationDate: '2027-01-01T00:00:00Z',
    });
  });

  it('pages with MaxResults ≤ 25 and NextToken', () => {
    const first = core.getEntitlements({ ProductCode: 'prod-a' });
    expect(first.Entitlements).toHaveLength(25);
    const second = core.getEntitlements({ ProductCode: 'prod-a', NextToken: first.NextToken });
    expect(second.Entitlements).toHaveLength(6);
    expect(second.NextToken).toBeUndefined();
    expect(
      awsError(() => core.getEntitlements({ ProductCode: 'prod-a', MaxResults: 26 })).type,
    ).toBe('ValidationException');
    expect(
      awsError(() => core.getEntitlements({ ProductCode: 'prod-a', NextToken: 'x' })).type,
    ).toBe('InvalidParameterException');
  });

  it('filters by customer, account, dimension and license; drops expired entitlements', () => {
    const one = core.getEntitlements({
      ProductCode: 'prod-a',
      Filter: { CUSTOMER_IDENTIFIER: ['cust-3'] },
    });
    expect(one.Entitlements).toEqual([
      {
        ProductCode: 'prod-a',
        Dimension: 'storage',
        CustomerIdentifier: 'cust-3',
        Value: { IntegerValue: 3 },
      },
    ]);
    const dims = core.getEntitlements({
      ProductCode: 'prod-a',
      Filter: { DIMENSION: ['storage'] },
      MaxResults: 25,
    });
    expect((dims.Entitlements as Json[]).every((e) => e.Dimension === 'storage')).toBe(true);
    expect(dims.Entitlements).toHaveLength(15);
    const acct = core.getEntitlements({
      ProductCode: 'prod-a',
      Filter: { CUSTOMER_AWS_ACCOUNT_ID: ['123456789012'], LICENSE_ARN: [LICENSE] },
    });
    expect(acct.Entitlements).toEqual([
      expect.objectContaining({
        LicenseArn: LICENSE,
        ExpirationDate: Date.parse('2027-01-01T00:00:00Z') / 1000,
      }),
    ]);
    now = Date.parse('2027-01-02T00:00:00Z');
    expect(
      core.getEntitlements({
        ProductCode: 'prod-a',
        Filter: { CUSTOMER_AWS_ACCOUNT_ID: ['123456789012'] },
      }).Entitlements,
    ).toEqual([]);
    expect(core.getEntitlements({ ProductCode: 'other' }).Entitlements).toEqual([]);
  });
});

describe('MeterUsage', () => {
  beforeEach(() =>
    core.addSubscription({ productCode: 'prod-a', customerAwsAccountId: '999988887777' }),
  );
  const call = (over: Json = {}, accessKeyId = '999988887777'): Json =>
    core.meterUsage(
      {
        ProductCode: 'prod-a',
        Timestamp: sec(now - H),
        UsageDimension: 'api_calls',
        UsageQuantity: 3,
        ...over,
      },
      { ...ctx, accessKeyId },
    ).output;
  it('dedups like BatchMeterUsage and answers MeterUsage errors', () => {
    const a = call();
    expect(call().MeteringRecordId).toBe(a.MeteringRecordId);
    expect(awsError(() => call({ UsageQuantity: 4 })).type).toBe('DuplicateRequestException');
    expect(awsError(() => call({ Timestamp: sec(now - 7 * H) })).type).toBe(
      'TimestampOutOfBoundsException',
    );
    expect(awsError(() => call({}, '000011112222')).type).toBe('CustomerNotEntitledException');
    expect(awsError(() => call({ DryRun: true, Timestamp: sec(now - 2 * H) })).type).toBe(
      'DryRunOperation',
    );
    expect(core.state.billing).toHaveLength(1);
  });
});
