import { isMeterstreamError } from '@meterstream/errors';
import { describe, expect, it } from 'vitest';
import { awsError, classifyAwsError } from './aws.js';

/** An error shaped like the AWS SDK's service exceptions. */
const sdk = (name: string, status?: number, extra: Record<string, unknown> = {}): Error =>
  Object.assign(new Error(`${name} happened`), {
    name,
    $metadata: status === undefined ? {} : { httpStatusCode: status },
    ...extra,
  });

describe('classifyAwsError', () => {
  it('throttling by name, by 429 and by $retryable.throttling', () => {
    for (const e of [
      sdk('ThrottlingException', 400),
      sdk('TooManyRequestsException', 400),
      sdk('RequestLimitExceeded', 503),
      sdk('SlowDown', 429),
      sdk('Whatever', 400, { $retryable: { throttling: true } }),
    ]) {
      expect(classifyAwsError(e), e.name).toMatchObject({ code: 'AWS_THROTTLED', retriable: true });
    }
  });

  it('a record out of its AWS time window is final, whatever the status', () => {
    expect(classifyAwsError(sdk('TimestampOutOfBoundsException', 400))).toMatchObject({
      code: 'AWS_TIMESTAMP_OUT_OF_BOUNDS',
      retriable: false,
      name: 'TimestampOutOfBoundsException',
      status: 400,
    });
  });

  it('server errors, timeouts and $retryable are transient', () => {
    for (const e of [
      sdk('InternalServiceErrorException', 500),
      sdk('InternalServerError'),
      sdk('ServiceUnavailableException', 503),
      sdk('SomethingNew', 502),
      sdk('TimeoutError'),
      sdk('Odd', 400, { $retryable: {} }),
    ]) {
      expect(classifyAwsError(e), e.name).toMatchObject({ code: 'AWS_TRANSIENT', retriable: true });
    }
  });

  it('an unknown 4xx is a rejection: AWS read the request and refused it', () => {
    for (const e of [
      sdk('AccessDeniedException', 403),
      sdk('InvalidCustomerIdentifierException', 400),
      sdk('SomethingNew', 400),
    ]) {
      expect(classifyAwsError(e), e.name).toMatchObject({ code: 'AWS_REJECTED', retriable: false });
    }
  });

  it('without a status, a client error by name or $fault is still a rejection', () => {
    for (const e of [
      sdk('AccessDeniedException'),
      sdk('ValidationException'),
      sdk('InvalidTagException'),
      sdk('SomethingNew', undefined, { $fault: 'client' }),
    ]) {
      expect(classifyAwsError(e), e.name).toMatchObject({
        code: 'AWS_REJECTED',
        status: undefined,
      });
    }
    expect(classifyAwsError(sdk('SomethingNew', undefined, { $fault: 'server' })).code).toBe(
      'AWS_TRANSIENT',
    );
  });

  it('no answer at all (network, unknown without status) is transient', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(classifyAwsError(reset)).toMatchObject({
      code: 'AWS_TRANSIENT',
      name: 'ECONNRESET',
      status: undefined,
    });
    expect(classifyAwsError(new TypeError('fetch failed'))).toMatchObject({
      code: 'AWS_TRANSIENT',
      name: 'TypeError',
    });
    expect(classifyAwsError('a string')).toMatchObject({
      code: 'AWS_TRANSIENT',
      name: 'Error',
      message: 'a string',
    });
  });

  it('cuts long messages', () => {
    expect(classifyAwsError(new Error('x'.repeat(1000))).message).toHaveLength(300);
  });
});

describe('awsError', () => {
  it('wraps the AWS error with the classified code, retriability and cause', () => {
    const cause = sdk('ThrottlingException', 400);
    const e = awsError('GetEntitlements', cause);
    expect(isMeterstreamError(e, 'AWS_THROTTLED')).toBe(true);
    expect(e.retriable).toBe(true);
    expect(e.cause).toBe(cause);
    expect(e.message).toBe('GetEntitlements failed: ThrottlingException');
    expect(e.details).toEqual({
      operation: 'GetEntitlements',
      awsError: 'ThrottlingException',
      status: 400,
    });
    expect(awsError('LookupEvents', sdk('AccessDeniedException', 403)).retriable).toBe(false);
  });
});
