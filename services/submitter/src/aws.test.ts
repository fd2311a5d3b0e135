import { describe, expect, it } from 'vitest';
import { backoffMs, classifyAwsError } from './aws.js';

const named = (name: string): Error => Object.assign(new Error('x'), { name });

describe('classifyAwsError', () => {
  it('retries throttling, internal errors and the unknown; expires out-of-bounds; rejects Invalid*', () => {
    expect(classifyAwsError(named('ThrottlingException'))).toMatchObject({
      kind: 'retry',
      code: 'AWS_THROTTLED',
    });
    expect(classifyAwsError(named('InternalServiceErrorException'))).toMatchObject({
      kind: 'retry',
      code: 'AWS_TRANSIENT',
    });
    expect(classifyAwsError(named('TimeoutError'))).toMatchObject({ kind: 'retry' });
    expect(classifyAwsError(named('TimestampOutOfBoundsException'))).toMatchObject({
      kind: 'expired',
    });
    for (const n of ['InvalidCustomerIdentifierException', 'InvalidTagException']) {
      expect(classifyAwsError(named(n))).toMatchObject({ kind: 'rejected', awsError: n });
    }
  });

  it('holds what the seller can fix: account-level errors, for the whole call', () => {
    expect(classifyAwsError(named('DisabledApiException'))).toMatchObject({
      kind: 'held',
      scope: 'account',
      reason: 'aws_api_disabled',
    });
    expect(classifyAwsError(named('InvalidEndpointRegionException'))).toMatchObject({
      kind: 'held',
      scope: 'account',
      reason: 'aws_wrong_region',
    });
    expect(classifyAwsError(named('InvalidProductCodeException'))).toMatchObject({
      kind: 'held',
      scope: 'account',
      reason: 'aws_invalid_product',
    });
    // A dimension the listing lacks: one record's cause, found by bisecting, then held.
    expect(classifyAwsError(named('InvalidUsageDimensionException'))).toMatchObject({
      kind: 'held',
      scope: 'record',
      reason: 'aws_invalid_dimension',
    });
    expect(classifyAwsError(named('InvalidLicenseException'))).toMatchObject({
      kind: 'held',
      scope: 'record',
      reason: 'aws_invalid_license',
    });
    expect(classifyAwsError(named('InvalidCustomerIdentifierException'))).toMatchObject({
      kind: 'rejected',
    });
  });
});

describe('backoffMs', () => {
  it('is full jitter under an exponential cap', () => {
    expect(backoffMs(3, 100, 10_000, () => 0.999)).toBe(799);
    expect(backoffMs(30, 100, 10_000, () => 0.5)).toBe(5000);
    expect(backoffMs(1, 100, 10_000, () => 0)).toBe(0);
  });
});
