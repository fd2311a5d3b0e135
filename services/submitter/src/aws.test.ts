import { describe, expect, it } from 'vitest';
import { classifyCallFailure } from './aws.js';

const named = (name: string): Error => Object.assign(new Error('x'), { name });

describe('classifyCallFailure', () => {
  it('retries throttling, internal errors and the unknown; expires out-of-bounds; rejects Invalid*', () => {
    expect(classifyCallFailure(named('ThrottlingException'))).toMatchObject({
      kind: 'retry',
      code: 'AWS_THROTTLED',
    });
    expect(classifyCallFailure(named('InternalServiceErrorException'))).toMatchObject({
      kind: 'retry',
      code: 'AWS_TRANSIENT',
    });
    expect(classifyCallFailure(named('TimeoutError'))).toMatchObject({ kind: 'retry' });
    expect(classifyCallFailure(named('TimestampOutOfBoundsException'))).toMatchObject({
      kind: 'expired',
    });
    // A 4xx of a name we do not know is a rejection by the shared rule, but it names no record:
    // the records are resent (identically) until their deadline, never ended as rejected.
    const denied = Object.assign(named('AccessDeniedException'), {
      $metadata: { httpStatusCode: 403 },
    });
    expect(classifyCallFailure(denied)).toMatchObject({ kind: 'retry', code: 'AWS_REJECTED' });
    for (const n of ['InvalidCustomerIdentifierException', 'InvalidTagException']) {
      expect(classifyCallFailure(named(n))).toMatchObject({ kind: 'rejected', awsError: n });
    }
  });

  it('holds what the seller can fix: account-level errors, for the whole call', () => {
    expect(classifyCallFailure(named('DisabledApiException'))).toMatchObject({
      kind: 'held',
      scope: 'account',
      reason: 'aws_api_disabled',
    });
    expect(classifyCallFailure(named('InvalidEndpointRegionException'))).toMatchObject({
      kind: 'held',
      scope: 'account',
      reason: 'aws_wrong_region',
    });
    expect(classifyCallFailure(named('InvalidProductCodeException'))).toMatchObject({
      kind: 'held',
      scope: 'account',
      reason: 'aws_invalid_product',
    });
    // A dimension the listing lacks: one record's cause, found by bisecting, then held.
    expect(classifyCallFailure(named('InvalidUsageDimensionException'))).toMatchObject({
      kind: 'held',
      scope: 'record',
      reason: 'aws_invalid_dimension',
    });
    expect(classifyCallFailure(named('InvalidLicenseException'))).toMatchObject({
      kind: 'held',
      scope: 'record',
      reason: 'aws_invalid_license',
    });
    expect(classifyCallFailure(named('InvalidCustomerIdentifierException'))).toMatchObject({
      kind: 'rejected',
    });
  });
});
