import type { Event, LookupEventsCommandInput } from '@aws-sdk/client-cloudtrail';
import { MeterstreamError } from '@meterstream/errors';
import type { RateLimiter } from './limiter.js';
import { sleep } from './limiter.js';
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

const THROTTLE_NAMES = new Set([
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
]);

function classify(err: unknown): 'throttled' | 'transient' | 'fatal' {
  const e = err as {
    name?: unknown;
    $metadata?: { httpStatusCode?: number };
    $retryable?: unknown;
    code?: unknown;
  };
  if (typeof e?.name === 'string' && THROTTLE_NAMES.has(e.name)) return 'throttled';
  const status = e?.$metadata?.httpStatusCode;
  if (status === 429) return 'throttled';
  if ((status !== undefined && status >= 500) || e?.$retryable) return 'transient';
  if (typeof e?.code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE)$/.test(e.code))
    return 'transient';
  if (
    typeof e?.name === 'string' &&
    /^(TimeoutError|InternalServerError|ServiceUnavailable)/.test(e.name)
  )
    return 'transient';
  return 'fatal';
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
    let attempt = 0;
    let page: { Events?: Event[]; NextToken?: string };
    for (;;) {
      if (o.signal?.aborted) throw new MeterstreamError('SHUTTING_DOWN', 'CloudTrail read aborted');
      await o.limiter.acquire();
      result.requests += 1;
      try {
        page = await o.api.lookupEvents({
          ...base,
          ...(nextToken ? { NextToken: nextToken } : {}),
        });
        o.onRequest?.('ok');
        break;
      } catch (err) {
        const kind = classify(err);
        o.onRequest?.(kind === 'throttled' ? 'throttled' : 'error');
        if (kind === 'throttled') result.throttled += 1;
        if (kind === 'fatal' || attempt >= o.maxRetries) {
          throw new MeterstreamError(
            kind === 'throttled'
              ? 'AWS_THROTTLED'
              : kind === 'transient'
                ? 'AWS_TRANSIENT'
                : 'AWS_REJECTED',
            `CloudTrail LookupEvents failed after ${attempt + 1} attempt(s)`,
            { cause: err, details: { name: (err as { name?: unknown }).name } },
          );
        }
        const backoff = Math.min(20_000, (o.backoffMs ?? 500) * 2 ** attempt);
        attempt += 1;
        await sleep(backoff / 2 + Math.random() * (backoff / 2), o.signal);
      }
    }
    const events = page.Events ?? [];
    result.pages += 1;
    result.events += events.length;
    await o.onPage(events);
    nextToken = page.NextToken;
  } while (nextToken);
  return result;
}
