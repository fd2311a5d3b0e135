import type { Event, LookupEventsCommandInput } from '@aws-sdk/client-cloudtrail';
import { MeterstreamError } from '@meterstream/errors';
import { classifyAwsError, retry, sleep } from '@meterstream/runtime';
import type { RateLimiter } from './limiter.js';
import { METERING_EVENT_SOURCE } from './parse.js';

/** The one LookupEvents call the auditor makes; the real client or a fake in unit tests. */
export interface LookupEventsApi {
  lookupEvents(input: LookupEventsCommandInput): Promise<{ Events?: Event[]; NextToken?: string }>;
}

/** Which single lookup attribute selects metering events (LookupEvents allows one). */
export type LookupBy = 'EventSource' | 'EventName';

/** Options of {@link readCloudTrail}. */
export interface ReadOptions {
  api: LookupEventsApi;
  limiter: RateLimiter;
  startMs: number;
  endMs: number;
  pageSize: number;
  lookupBy: LookupBy;
  /** Retries of one request on throttling or a transient error before the pass gives up. */
  maxRetries: number;
  /** First backoff after a throttle; doubles up to 20 s, with jitter. */
  backoffMs?: number;
  signal?: AbortSignal;
  /** Called with each page, in order; the pass waits for it (so pages are stored as they come). */
  onPage: (events: Event[]) => Promise<void>;
  onRequest?: (outcome: 'ok' | 'throttled' | 'error') => void;
}

/** What one pass read. */
export interface ReadResult {
  pages: number;
  events: number;
  requests: number;
  throttled: number;
}

/**
 * One LookupEvents request, paced by the limiter. A failure is thrown as our error, classified by
 * the shared rule (throttled and transient ones retriable), after `attempt + 1` attempts.
 */
async function lookupOnce(
  o: ReadOptions,
  input: LookupEventsCommandInput,
  attempt: number,
  result: ReadResult,
): Promise<{ Events?: Event[]; NextToken?: string }> {
  if (o.signal?.aborted) throw new MeterstreamError('SHUTTING_DOWN', 'CloudTrail read aborted');
  await o.limiter.acquire();
  result.requests += 1;
  try {
    const page = await o.api.lookupEvents(input);
    o.onRequest?.('ok');
    return page;
  } catch (err) {
    const c = classifyAwsError(err);
    const throttled = c.code === 'AWS_THROTTLED';
    o.onRequest?.(throttled ? 'throttled' : 'error');
    if (throttled) result.throttled += 1;
    throw new MeterstreamError(
      c.code,
      `CloudTrail LookupEvents failed after ${attempt + 1} attempt(s)`,
      { cause: err, retriable: c.retriable, details: { name: (err as { name?: unknown }).name } },
    );
  }
}

/**
 * Reads every metering event of [startMs, endMs] from CloudTrail LookupEvents, following
 * NextToken, pacing requests with the limiter and retrying throttled or transient failures with
 * backoff. Throws a typed error (nothing is checkpointed then) when retries run out.
 */
export async function readCloudTrail(o: ReadOptions): Promise<ReadResult> {
  const result: ReadResult = { pages: 0, events: 0, requests: 0, throttled: 0 };
  const base: LookupEventsCommandInput = {
    LookupAttributes: [
      o.lookupBy === 'EventSource'
        ? { AttributeKey: 'EventSource', AttributeValue: METERING_EVENT_SOURCE }
        : { AttributeKey: 'EventName', AttributeValue: 'BatchMeterUsage' },
    ],
    StartTime: new Date(o.startMs),
    EndTime: new Date(o.endMs),
    MaxResults: o.pageSize,
  };
  let nextToken: string | undefined;
  do {
    const input = { ...base, ...(nextToken ? { NextToken: nextToken } : {}) };
    const page = await retry((attempt) => lookupOnce(o, input, attempt, result), {
      attempts: o.maxRetries + 1,
      baseMs: o.backoffMs ?? 500,
      maxMs: 20_000,
      jitter: 0.5,
      // The signal is checked before each request (lookupOnce), so an abort ends the pass with
      // SHUTTING_DOWN rather than the last AWS error.
      sleep: (ms) => sleep(ms, o.signal),
    });
    const events = page.Events ?? [];
    result.pages += 1;
    result.events += events.length;
    await o.onPage(events);
    nextToken = page.NextToken;
  } while (nextToken);
  return result;
}
