/**
 * The closed set of error codes Meterstream uses. Every error that crosses a module boundary is a
 * {@link MeterstreamError} with one of these codes, so callers decide on retry and HTTP status by
 * code, never by parsing messages.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: { retriable: false, httpStatus: 500 },
  VALIDATION_FAILED: { retriable: false, httpStatus: 422 },
  BAD_REQUEST: { retriable: false, httpStatus: 400 },
  /** The whole request did not arrive in time; the client may send it again. */
  REQUEST_TIMEOUT: { retriable: true, httpStatus: 408 },
  UNAUTHENTICATED: { retriable: false, httpStatus: 401 },
  FORBIDDEN: { retriable: false, httpStatus: 403 },
  NOT_FOUND: { retriable: false, httpStatus: 404 },
  CONFLICT: { retriable: false, httpStatus: 409 },
  PAYLOAD_TOO_LARGE: { retriable: false, httpStatus: 413 },
  UNSUPPORTED_MEDIA_TYPE: { retriable: false, httpStatus: 415 },
  OVERLOADED: { retriable: true, httpStatus: 503 },
  KAFKA_UNAVAILABLE: { retriable: true, httpStatus: 503 },
  KAFKA_ERROR: { retriable: false, httpStatus: 500 },
  SCHEMA_REGISTRY_UNAVAILABLE: { retriable: true, httpStatus: 503 },
  SCHEMA_ERROR: { retriable: false, httpStatus: 500 },
  CLICKHOUSE_UNAVAILABLE: { retriable: true, httpStatus: 503 },
  CLICKHOUSE_QUERY_FAILED: { retriable: false, httpStatus: 500 },
  AWS_THROTTLED: { retriable: true, httpStatus: 503 },
  AWS_TRANSIENT: { retriable: true, httpStatus: 503 },
  AWS_REJECTED: { retriable: false, httpStatus: 502 },
  AWS_TIMESTAMP_OUT_OF_BOUNDS: { retriable: false, httpStatus: 502 },
  NOTIFICATION_FAILED: { retriable: true, httpStatus: 502 },
  ILLEGAL_STATE_TRANSITION: { retriable: false, httpStatus: 500 },
  SHUTTING_DOWN: { retriable: true, httpStatus: 503 },
  INTERNAL: { retriable: false, httpStatus: 500 },
} as const satisfies Record<string, { retriable: boolean; httpStatus: number }>;

/** One of the closed set of error codes. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Options for {@link MeterstreamError}. */
export interface MeterstreamErrorOptions {
  /** The error this one wraps (a Kafka, ClickHouse or AWS error). Never a customer payload. */
  cause?: unknown;
  /** Overrides the code's default retriability (e.g. a 5xx from a dependency that said "retry"). */
  retriable?: boolean;
  /** Structured, non-sensitive detail for logs and API answers (ids, field names, counts). */
  details?: Record<string, unknown>;
}

/**
 * Base class of every error Meterstream raises on purpose. Messages must not contain customer
 * payloads: put identifiers in `details`, which logs may redact.
 */
export class MeterstreamError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: MeterstreamErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MeterstreamError';
    this.code = code;
    this.retriable = options.retriable ?? ERROR_CODES[code].retriable;
    this.details = options.details ?? {};
  }

  /** The HTTP status an API should answer with for this error. */
  get httpStatus(): number {
    return ERROR_CODES[this.code].httpStatus;
  }

  /** A JSON-safe view for API answers and logs (no cause chain, no stack). */
  toJSON(): {
    code: ErrorCode;
    message: string;
    retriable: boolean;
    details: Record<string, unknown>;
  } {
    return {
      code: this.code,
      message: this.message,
      retriable: this.retriable,
      details: this.details,
    };
  }
}

/** True when `err` is a {@link MeterstreamError}, optionally with the given code. */
export function isMeterstreamError(err: unknown, code?: ErrorCode): err is MeterstreamError {
  return err instanceof MeterstreamError && (code === undefined || err.code === code);
}

/** Whether an operation that failed with `err` may be retried. Unknown errors are not retriable. */
export function isRetriable(err: unknown): boolean {
  return err instanceof MeterstreamError ? err.retriable : false;
}

/** Wraps anything thrown into a {@link MeterstreamError}, keeping one that already is. */
export function toMeterstreamError(
  err: unknown,
  fallback: ErrorCode = 'INTERNAL',
): MeterstreamError {
  if (err instanceof MeterstreamError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new MeterstreamError(fallback, message, { cause: err });
}
