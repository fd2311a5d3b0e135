import { MeterstreamError } from '@meterstream/errors';

/** kafkajs error classes that mean "the broker cannot be reached now". */
const KAFKAJS_UNAVAILABLE = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSLockTimeout',
]);

/** @platformatic/kafka error codes that mean the same. */
const PLATFORMATIC_UNAVAILABLE = new Set(['PLT_KFK_NETWORK', 'PLT_KFK_TIMEOUT']);

/** Node socket errors, which @platformatic/kafka passes on inside its own. */
const SOCKET_UNAVAILABLE = /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND)$/;

/**
 * The error and everything it wraps: @platformatic/kafka nests the real cause in `errors`
 * (AggregateError: one per attempt or per broker) and `cause`, several levels deep.
 */
export function nestedErrors(err: unknown, depth = 6): unknown[] {
  const out: unknown[] = [err];
  if (depth === 0 || typeof err !== 'object' || err === null) return out;
  const { errors, cause } = err as { errors?: unknown; cause?: unknown };
  if (Array.isArray(errors)) for (const e of errors) out.push(...nestedErrors(e, depth - 1));
  if (cause !== undefined) out.push(...nestedErrors(cause, depth - 1));
  return out;
}

/** Whether one error (not its causes) says the broker is unreachable or asked for a retry. */
function unavailableItself(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { name, code, retriable, canRetry } = err as Record<string, unknown>;
  if (typeof name === 'string' && KAFKAJS_UNAVAILABLE.has(name)) return true;
  if (
    typeof code === 'string' &&
    (PLATFORMATIC_UNAVAILABLE.has(code) || SOCKET_UNAVAILABLE.test(code))
  )
    return true;
  // kafkajs marks retriable protocol errors `retriable`, @platformatic/kafka `canRetry`.
  return retriable === true || canRetry === true;
}

/** The Kafka protocol error name (e.g. TOPIC_ALREADY_EXISTS) anywhere in the error, if any. */
export function kafkaErrorType(err: unknown): string | undefined {
  for (const e of nestedErrors(err)) {
    if (typeof e !== 'object' || e === null) continue;
    // kafkajs: `type`; @platformatic/kafka: `apiId`.
    const { type, apiId } = e as { type?: unknown; apiId?: unknown };
    if (typeof type === 'string') return type;
    if (typeof apiId === 'string') return apiId;
  }
  return undefined;
}

/**
 * Converts a kafkajs or @platformatic/kafka error into ours: broker unreachable, timed out or a
 * retriable protocol answer → retriable KAFKA_UNAVAILABLE; anything else → KAFKA_ERROR.
 */
export function toKafkaError(err: unknown, op: string): MeterstreamError {
  if (err instanceof MeterstreamError) return err;
  const message = err instanceof Error ? err.message : String(err);
  // kafkajs errors are judged by themselves (as always); @platformatic/kafka's by what they wrap.
  const kafkajs = /^KafkaJS/.test(String((err as { name?: unknown } | null)?.name));
  if ((kafkajs ? [err] : nestedErrors(err)).some(unavailableItself)) {
    return new MeterstreamError('KAFKA_UNAVAILABLE', `Kafka unavailable during ${op}: ${message}`, {
      cause: err,
    });
  }
  return new MeterstreamError('KAFKA_ERROR', `Kafka ${op} failed: ${message}`, { cause: err });
}

/** Runs a client call; whatever it throws leaves as ours ({@link toKafkaError}). */
export async function kafkaCall<T>(op: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    throw toKafkaError(err, op);
  }
}
