import { MeterstreamError } from '@meterstream/errors';

/** The error codes an AWS call's failure maps to. */
export type AwsErrorCode =
  'AWS_THROTTLED' | 'AWS_TRANSIENT' | 'AWS_REJECTED' | 'AWS_TIMESTAMP_OUT_OF_BOUNDS';

/** What {@link classifyAwsError} makes of a failed AWS call. */
export interface AwsErrorClass {
  code: AwsErrorCode;
  /** Whether the same call may succeed when sent again. */
  retriable: boolean;
  /** The AWS error name (`ThrottlingException`), or the network error's code, or `Error`. */
  name: string;
  /** The HTTP status AWS answered with; undefined when no answer arrived. */
  status: number | undefined;
  /** The error's message, cut to 300 characters (AWS messages carry no customer payload). */
  message: string;
}

/** Names AWS services use for "slow down". */
const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
]);

/** Names of server-side or in-flight failures that say nothing against the request. */
const TRANSIENT =
  /^(InternalServiceError|InternalServerError|InternalFailure|ServiceUnavailable|TimeoutError|RequestTimeout|AbortError)/;

/**
 * Names of AWS client errors: AWS read the request and refused it. Known by name too, so an error
 * whose HTTP status a wrapper (or a test's fake) lost is still final.
 */
const CLIENT_ERROR =
  /^(AccessDenied|Validation|Serialization|UnrecognizedClient|InvalidSignature|IncompleteSignature|MissingAuthenticationToken|ExpiredToken|InvalidClientTokenId|NotAuthorized|Invalid\w*)(Exception)?$/;

interface AwsLikeError {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $retryable?: { throttling?: unknown };
  /** The SDK's service exceptions say whose fault they are. */
  $fault?: unknown;
}

/**
 * Maps an error of an AWS SDK call to one of our codes, by duck typing (no SDK import):
 *
 * 1. throttling names, HTTP 429 or `$retryable.throttling` → `AWS_THROTTLED`;
 * 2. `TimestampOutOfBoundsException` → `AWS_TIMESTAMP_OUT_OF_BOUNDS` (final: only a later
 *    Timestamp could pass, and ours never changes);
 * 3. known server-side or timeout names, `$retryable`, HTTP 5xx → `AWS_TRANSIENT`;
 * 4. any other HTTP 4xx → `AWS_REJECTED`: AWS read the request and refused it, so the same
 *    request would be refused again; without a status, the same for an error the SDK marks
 *    `$fault: 'client'` or whose name is a client error's (`AccessDeniedException`,
 *    `ValidationException`, `Invalid…Exception`, …);
 * 5. no HTTP answer at all (a network error such as ECONNRESET, a timeout, an abort, or an
 *    error we do not know that carries no status) → `AWS_TRANSIENT`.
 *
 * Rule 5 is the deliberate choice for the unknown: an error without an answer from AWS proves
 * nothing against the request, and every caller's calls are safe to repeat (CloudTrail reads are
 * reads; a frozen metering record is resent identically and AWS de-duplicates it), while calling
 * it final would drop work that a retry would have done. Callers bound the retries (attempts,
 * the record's AWS deadline). An unknown error that AWS did answer with a 4xx is final (rule 4);
 * a caller may still treat a final error as something to hold and try later (the submitter does
 * for errors the seller can fix).
 */
export function classifyAwsError(err: unknown): AwsErrorClass {
  const e = (typeof err === 'object' && err !== null ? err : {}) as AwsLikeError;
  const name =
    typeof e.name === 'string' && e.name !== 'Error'
      ? e.name
      : typeof e.code === 'string'
        ? e.code
        : 'Error';
  const rawStatus = e.$metadata?.httpStatusCode;
  const status = typeof rawStatus === 'number' ? rawStatus : undefined;
  const message = (typeof e.message === 'string' ? e.message : String(err)).slice(0, 300);
  const of = (code: AwsErrorCode): AwsErrorClass => ({
    code,
    retriable: code === 'AWS_THROTTLED' || code === 'AWS_TRANSIENT',
    name,
    status,
    message,
  });
  if (THROTTLING.has(name) || status === 429 || e.$retryable?.throttling === true)
    return of('AWS_THROTTLED');
  if (name === 'TimestampOutOfBoundsException') return of('AWS_TIMESTAMP_OUT_OF_BOUNDS');
  if (TRANSIENT.test(name) || e.$retryable) return of('AWS_TRANSIENT');
  if (status !== undefined && status >= 500) return of('AWS_TRANSIENT');
  if (status !== undefined && status >= 400) return of('AWS_REJECTED');
  if (status === undefined && (e.$fault === 'client' || CLIENT_ERROR.test(name)))
    return of('AWS_REJECTED');
  // No answer from AWS: ECONNRESET and the like, or an error we do not know (rule 5).
  return of('AWS_TRANSIENT');
}

/**
 * The failure of AWS operation `operation` as a {@link MeterstreamError} with the classified
 * code and retriability; the AWS error is its cause, its name and status are in `details`.
 */
export function awsError(
  operation: string,
  err: unknown,
  c: AwsErrorClass = classifyAwsError(err),
): MeterstreamError {
  return new MeterstreamError(c.code, `${operation} failed: ${c.name}`, {
    cause: err,
    retriable: c.retriable,
    details: {
      operation,
      awsError: c.name,
      ...(c.status !== undefined ? { status: c.status } : {}),
    },
  });
}
