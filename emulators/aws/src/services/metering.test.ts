import { beforeEach, describe, expect, it } from 'vitest';
import { AwsError } from '../aws-error.js';
import { EmulatorCore, type CallContext } from '../core.js';
import { emptyState } from '../state.js';

// The 2026 metering rules: Concurrent Agreements (licenses), QuantityAsDecimal, new integrations.

type Json = Record<string, unknown>;
const H = 3_600_000;
const ctx: CallContext = {
  accessKeyId: 'AKIDEXAMPLE',
  region: 'us-east-1',
  sourceIp: '127.0.0.1',
  userAgent: 'test',
  requestId: 'r',
};
const ACCT = '123456789012';
const L1 = 'arn:aws:license-manager::123456789012:license:l-1';
const L2 = 'arn:aws:license-manager::123456789012:license:l-2';
const OTHER = 'arn:aws:license-manager::210987654321:license:l-3';
const T = (hhmm: string): number => Date.parse(`2026-11-26T${hhmm}:00Z`);

let now: number;
let core: EmulatorCore;
const rec = (over: Json = {}): Json => ({
  Timestamp: T('10:00') / 1000,
  Dimension: 'api',
  Quantity: 5,
  CustomerAWSAccountId: ACCT,
  LicenseArn: L1,
  ...over,
});
const call = (input: Json): Json[] => core.batchMeterUsage(input, ctx).output.Results as Json[];
const statuses = (input: Json): unknown[] => call(input).map((r) => r.Status);
const error = (input: Json): string => {
  try {
    call(input);
  } catch (err) {
    if (err instanceof AwsError) return err.type;
    throw err;
  }
  return 'none';
};

beforeEach(() => {
  now = T('10:30');
  core = new EmulatorCore(
    emptyState(1),
    { now: () => now },
    { accountId: '111122223333', cloudTrailDelayMs: 0, seed: 1 },
    () => {},
  );
  core.putProduct({ productCode: 'prod-a', dimensions: ['api'], licenseArn: false });
  core.putProduct({ productCode: 'prod-b', dimensions: ['api'], licenseArn: false });
  core.addSubscription({ productCode: 'prod-a', customerAwsAccountId: ACCT, licenseArn: L1 });
  core.addSubscription({ productCode: 'prod-a', customerAwsAccountId: ACCT, licenseArn: L2 });
  core.addSubscription({
    productCode: 'prod-b',
    customerAwsAccountId: '210987654321',
    licenseArn: OTHER,
  });
});

describe('Concurrent Agreements', () => {
  it('bills two licenses of one account separately; dedups per account + license + dimension + hour', () => {
    const batch = { UsageRecords: [rec(), rec({ LicenseArn: L2, Quantity: 7 })] };
    expect(statuses(batch)).toEqual(['Success', 'Success']);
    expect(core.state.billing.map((b) => [b.licenseArn, b.quantity])).toEqual([
      [L1, '5'],
      [L2, '7'],
    ]);
    // The same license again: the first quantity stays, the same one is the same record.
    const again = call({
      UsageRecords: [rec({ Timestamp: T('10:45') / 1000 }), rec({ Quantity: 6 })],
    });
    expect(again.map((r) => r.Status)).toEqual(['Success', 'DuplicateRecord']);
    expect(again[0]?.MeteringRecordId).toBe(core.state.billing[0]?.meteringRecordId);
    expect(core.state.billing).toHaveLength(2);
  });

  it('takes LicenseArn-only batches without ProductCode, and with it', () => {
    expect(statuses({ UsageRecords: [rec()] })).toEqual(['Success']);
    expect(statuses({ ProductCode: 'prod-a', UsageRecords: [rec()] })).toEqual(['Success']);
    expect(core.state.billing[0]?.productCode).toBe('prod-a');
  });

  it('rejects the whole batch: unknown license, another customer’s, another product’s, outside activation', () => {
    const cases: [Json, string][] = [
      [{ UsageRecords: [rec(), rec({ LicenseArn: `${L1}x` })] }, 'InvalidLicenseException'],
      [
        { UsageRecords: [rec({ CustomerAWSAccountId: '999999999999' })] },
        'InvalidLicenseException',
      ],
      [{ ProductCode: 'prod-b', UsageRecords: [rec()] }, 'InvalidLicenseException'],
      [
        { UsageRecords: [rec(), rec({ LicenseArn: OTHER, CustomerAWSAccountId: '210987654321' })] },
        'InvalidLicenseException',
      ],
      [{ UsageRecords: [rec({ LicenseArn: undefined })] }, 'InvalidProductCodeException'],
    ];
    for (const [input, type] of cases) expect([input, error(input)]).toEqual([input, type]);
    core.amendLicense(L1, { endTime: new Date(T('09:00')).toISOString() });
    expect(error({ UsageRecords: [rec({ LicenseArn: L2 }), rec()] })).toBe(
      'InvalidLicenseException',
    );
    expect(core.state.billing).toEqual([]);
  });

  it('after deprovisioning at 10:20: the 10:00 hour until 11:20, never the 11:00 hour', () => {
    core.deprovisionLicense(L1, new Date(T('10:20')).toISOString());
    now = T('11:10');
    expect(error({ UsageRecords: [rec({ Timestamp: T('11:00') / 1000 })] })).toBe(
      'InvalidLicenseException',
    );
    expect(statuses({ UsageRecords: [rec()] })).toEqual(['Success']);
    now = T('11:20');
    // Its final hour is over: the license no longer meters (nothing is billed).
    expect(statuses({ UsageRecords: [rec({ Quantity: 1 })] })).toEqual(['CustomerNotSubscribed']);
    // The account's other license still meters.
    expect(statuses({ UsageRecords: [rec({ LicenseArn: L2 })] })).toEqual(['Success']);
  });

  it('a new-integration product refuses CustomerIdentifier and requires LicenseArn', () => {
    core.putProduct({
      productCode: 'prod-a',
      dimensions: ['api'],
      licenseArn: false,
      newIntegration: true,
    });
    core.addSubscription({ productCode: 'prod-a', customerIdentifier: 'legacy-1' });
    const legacy = {
      ProductCode: 'prod-a',
      UsageRecords: [
        {
          ...rec({ LicenseArn: undefined, CustomerAWSAccountId: undefined }),
          CustomerIdentifier: 'legacy-1',
        },
      ],
    };
    expect(error(legacy)).toBe('InvalidCustomerIdentifierException');
    expect(error({ ProductCode: 'prod-a', UsageRecords: [rec({ LicenseArn: undefined })] })).toBe(
      'InvalidLicenseException',
    );
    core.putProduct({ productCode: 'prod-a', dimensions: ['api'], licenseArn: false });
    expect(statuses(legacy)).toEqual(['Success']);
  });
});

describe('QuantityAsDecimal', () => {
  it('bills exactly to the millionth; an identical retry is Success; 17 = "17.0"', () => {
    const [first] = call({
      UsageRecords: [rec({ Quantity: undefined, QuantityAsDecimal: '1234567890.123456' })],
    });
    expect(core.state.billing[0]?.quantity).toBe('1234567890.123456');
    expect(
      call({
        UsageRecords: [rec({ Quantity: undefined, QuantityAsDecimal: '1234567890.123456' })],
      })[0],
    ).toMatchObject({ Status: 'Success', MeteringRecordId: first?.MeteringRecordId });
    const h = (n: number): number => (T('10:00') - n * H) / 1000;
    const a = call({ UsageRecords: [rec({ Timestamp: h(1), Quantity: 17 })] })[0];
    const b = call({
      UsageRecords: [rec({ Timestamp: h(1), Quantity: undefined, QuantityAsDecimal: '17.0' })],
    })[0];
    const d = call({
      UsageRecords: [rec({ Timestamp: h(1), Quantity: undefined, QuantityAsDecimal: '17.000001' })],
    })[0];
    expect(b).toMatchObject({ Status: 'Success', MeteringRecordId: a?.MeteringRecordId });
    expect(d?.Status).toBe('DuplicateRecord');
  });

  it('rejects both members in one record, and allocations of the other kind or not summing', () => {
    expect(error({ UsageRecords: [rec({ Quantity: 2, QuantityAsDecimal: '2' })] })).toBe(
      'ValidationException',
    );
    expect(
      error({ UsageRecords: [rec({ Quantity: undefined, QuantityAsDecimal: '12345678901' })] }),
    ).toBe('ValidationException');
    const dec = (allocations: Json[]): Json => ({
      UsageRecords: [
        rec({ Quantity: undefined, QuantityAsDecimal: '2.5', UsageAllocations: allocations }),
      ],
    });
    const tag = (v: string) => [{ Key: 'team', Value: v }];
    expect(error(dec([{ AllocatedUsageQuantity: 2, Tags: tag('a') }]))).toBe(
      'InvalidUsageAllocationsException',
    );
    expect(error(dec([{ AllocatedUsageQuantityAsDecimal: '2.4', Tags: tag('a') }]))).toBe(
      'InvalidUsageAllocationsException',
    );
    expect(error(dec([{ Tags: tag('a') }]))).toBe('InvalidUsageAllocationsException');
    expect(
      statuses(
        dec([
          { AllocatedUsageQuantityAsDecimal: '2.25', Tags: tag('a') },
          { AllocatedUsageQuantityAsDecimal: '0.25', Tags: tag('b') },
        ]),
      ),
    ).toEqual(['Success']);
  });

  it('MeterUsage: never both members; decimal allocations; compared by value', () => {
    core.addSubscription({ productCode: 'prod-a', customerAwsAccountId: '111122223333' });
    const mu = (over: Json) =>
      core.meterUsage(
        { ProductCode: 'prod-a', Timestamp: T('10:00') / 1000, UsageDimension: 'api', ...over },
        ctx,
      ).output;
    expect(() => mu({ UsageQuantity: 1, UsageQuantityAsDecimal: '1' })).toThrow(
      expect.objectContaining({ type: 'ValidationException' }),
    );
    const first = mu({
      UsageQuantityAsDecimal: '3.5',
      UsageAllocations: [{ AllocatedUsageQuantityAsDecimal: '3.5' }],
    });
    expect(mu({ UsageQuantityAsDecimal: '3.50' })).toEqual(first);
  });
});
