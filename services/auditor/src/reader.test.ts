import type { Event, LookupEventsCommandInput } from '@aws-sdk/client-cloudtrail';
import { describe, expect, it } from 'vitest';
import { RateLimiter } from './limiter.js';
import { readCloudTrail, type LookupEventsApi } from './reader.js';

function fakeTrail(
  total: number,
  failures: (call: number) => Error | undefined,
): LookupEventsApi & { calls: LookupEventsCommandInput[] } {
  const events: Event[] = Array.from({ length: total }, (_, i) => ({
    EventId: `e${i}`,
    CloudTrailEvent: '{}',
  }));
  const calls: LookupEventsCommandInput[] = [];
  return {
    calls,
    lookupEvents(input) {
      calls.push(input);
      const err = failures(calls.length);
      if (err) return Promise.reject(err);
      const offset = input.NextToken ? Number(input.NextToken) : 0;
      const size = input.MaxResults ?? 50;
      const page = events.slice(offset, offset + size);
      return Promise.resolve({
        Events: page,
        ...(offset + size < total ? { NextToken: String(offset + size) } : {}),
      });
    },
  };
}

const throttle = (): Error =>
  Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
const fast = new RateLimiter(1000);

describe('readCloudTrail', () => {
  it('follows NextToken across pages with one lookup attribute', async () => {
    const api = fakeTrail(23, () => undefined);
    const seen: string[] = [];
    const r = await readCloudTrail({
      api,
      limiter: fast,
      startMs: 0,
      endMs: 1000,
      pageSize: 10,
      lookupBy: 'EventSource',
      maxRetries: 3,
      onPage: async (es) => void seen.push(...es.map((e) => e.EventId ?? '')),
    });
    expect(seen).toEqual(Array.from({ length: 23 }, (_, i) => `e${i}`));
    expect(r).toMatchObject({ pages: 3, events: 23, requests: 3, throttled: 0 });
    expect(api.calls[0]?.LookupAttributes).toEqual([
      { AttributeKey: 'EventSource', AttributeValue: 'metering-marketplace.amazonaws.com' },
    ]);
    expect(api.calls[1]?.NextToken).toBe('10');
  });

  it('retries throttled requests and loses nothing', async () => {
    const api = fakeTrail(30, (n) => (n % 2 === 1 ? throttle() : undefined));
    const seen: string[] = [];
    const outcomes: string[] = [];
    const r = await readCloudTrail({
      api,
      limiter: fast,
      startMs: 0,
      endMs: 1000,
      pageSize: 10,
      lookupBy: 'EventName',
      maxRetries: 3,
      backoffMs: 1,
      onPage: async (es) => void seen.push(...es.map((e) => e.EventId ?? '')),
      onRequest: (o) => outcomes.push(o),
    });
    expect(new Set(seen).size).toBe(30);
    expect(r.throttled).toBe(3);
    expect(outcomes.filter((o) => o === 'throttled')).toHaveLength(3);
  });

  it('gives up with a typed error after the retries, and at once on a fatal error', async () => {
    const base = {
      limiter: fast,
      startMs: 0,
      endMs: 1,
      pageSize: 10,
      lookupBy: 'EventSource' as const,
      backoffMs: 1,
      onPage: async () => {},
    };
    await expect(
      readCloudTrail({ ...base, api: fakeTrail(5, () => throttle()), maxRetries: 2 }),
    ).rejects.toMatchObject({
      code: 'AWS_THROTTLED',
      retriable: true,
    });
    const denied = Object.assign(new Error('no'), {
      name: 'AccessDeniedException',
      $metadata: { httpStatusCode: 400 },
    });
    const api = fakeTrail(5, () => denied);
    await expect(readCloudTrail({ ...base, api, maxRetries: 5 })).rejects.toMatchObject({
      code: 'AWS_REJECTED',
    });
    expect(api.calls).toHaveLength(1);
  });
});
