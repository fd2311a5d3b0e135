import { sleep } from './time.js';

/** How a delay grows between attempts. */
export interface BackoffOptions {
  /** Delay before the second attempt (ms). */
  baseMs: number;
  /** No delay is longer than this (ms). */
  maxMs: number;
  /** Fraction of each delay drawn at random (0: none, 1: "full jitter"); default 0.5. */
  jitter?: number;
  /** For tests: a source of numbers in [0, 1). */
  random?: () => number;
}

/**
 * The delay after failed attempt `attempt` (0-based): `baseMs · 2^attempt` capped at `maxMs`, the
 * last `jitter` share of it random, so many clients that failed together do not retry together.
 */
export function backoffDelay(attempt: number, o: BackoffOptions): number {
  const capped = Math.min(o.maxMs, o.baseMs * 2 ** Math.max(0, attempt));
  const jitter = Math.min(1, Math.max(0, o.jitter ?? 0.5));
  const random = o.random ?? Math.random;
  return Math.round(capped * (1 - jitter) + capped * jitter * random());
}

/** Whether an error says it may succeed when tried again (`MeterstreamError.retriable`). */
export function isRetriable(err: unknown): boolean {
  return (
    typeof err === 'object' && err !== null && (err as { retriable?: unknown }).retriable === true
  );
}

/** Options for {@link retry}. */
export interface RetryOptions extends BackoffOptions {
  /** Attempts in all, the first included (≥ 1). */
  attempts: number;
  /** Which errors to try again; default {@link isRetriable}. */
  retriable?: (err: unknown) => boolean;
  /** Stops waiting and retrying; the last error is thrown. */
  signal?: AbortSignal;
  /** Called before each wait, e.g. to log or count the retry. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** For tests: how to wait. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * Runs `op` until it succeeds, throws an error that is not retriable, or has used its attempts;
 * waits {@link backoffDelay} between attempts. `op` receives the 0-based attempt number.
 */
export async function retry<T>(op: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  const attempts = Math.max(1, Math.floor(o.attempts));
  const canRetry = o.retriable ?? isRetriable;
  const wait = o.sleep ?? sleep;
  for (let attempt = 0; ; attempt++) {
    try {
      return await op(attempt);
    } catch (err) {
      if (attempt + 1 >= attempts || !canRetry(err) || o.signal?.aborted) throw err;
      const delay = backoffDelay(attempt, o);
      o.onRetry?.(err, attempt, delay);
      await wait(delay, o.signal);
      if (o.signal?.aborted) throw err;
    }
  }
}
