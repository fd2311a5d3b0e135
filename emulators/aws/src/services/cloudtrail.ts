import { DAY_MS, SECOND_MS } from '@meterstream/runtime';
import { AwsError } from '../aws-error.js';
import type { EmulatorContext } from '../context.js';
import type { FaultInjector } from '../faults.js';
import type { TrailEvent } from '../state.js';
import {
  decodeToken,
  encodeToken,
  parseTimestamp,
  queryHash,
  str,
  validate,
  type Json,
} from '../wire.js';
import { meteringTrailEvent, type MeteringCall } from './trail-event.js';

/** How far back LookupEvents reaches. */
const NINETY_DAYS_MS = 90 * DAY_MS;

/** A validated LookupEvents request. */
interface Lookup {
  attr: Json | undefined;
  maxResults: number;
  start: number;
  end: number;
  query: string;
  after: { t: number; id: string } | undefined;
}

/** Whether `e` matches the lookup attribute (metering events name no resources). */
function matchesAttribute(e: TrailEvent, attr: Json | undefined): boolean {
  if (!attr) return true;
  const v = attr.AttributeValue;
  switch (attr.AttributeKey) {
    case 'EventId':
      return e.eventId === v;
    case 'EventName':
      return e.eventName === v;
    case 'EventSource':
      return e.eventSource === v;
    case 'ReadOnly':
      return String(e.readOnly) === v;
    case 'Username':
      return e.username === v;
    case 'AccessKeyId':
      return e.accessKeyId === v;
    default:
      return false;
  }
}

/** An event as LookupEvents returns it. */
function lookupView(e: TrailEvent): Json {
  return {
    EventId: e.eventId,
    EventName: e.eventName,
    ReadOnly: String(e.readOnly),
    AccessKeyId: e.accessKeyId,
    EventTime: e.eventTime / 1000,
    EventSource: e.eventSource,
    Username: e.username,
    Resources: [],
    CloudTrailEvent: JSON.stringify(e.record),
  };
}

/**
 * CloudTrail: logs each metering call (through the fault injector's tamper faults) and answers
 * LookupEvents: one attribute, time range, newest first, pages of ≤ 50, 2 requests a second.
 */
export class CloudTrail {
  private lookupCalls: number[] = [];

  constructor(
    private readonly ctx: EmulatorContext,
    private readonly faults: FaultInjector,
  ) {}

  /** Forgets the request rate window (on reset). */
  reset(): void {
    this.lookupCalls = [];
  }

  /** Records a metering call as CloudTrail would, then applies any CloudTrail tamper fault. */
  record(call: MeteringCall): void {
    const now = this.ctx.now();
    const event = meteringTrailEvent(call, {
      now,
      eventId: this.ctx.nextId('ev'),
      accountId: this.ctx.settings.accountId,
      deliveryDelayMs: this.ctx.settings.cloudTrailDelayMs,
    });
    this.ctx.state.cloudTrail.push(...this.faults.tamper(event, (p) => this.ctx.nextId(p)));
  }

  /** LookupEvents. */
  lookupEvents(input: Json): Json {
    validate('cloudtrail', 'LookupEventsRequest', input);
    const now = this.ctx.now();
    this.rateLimit(now);
    const q = this.parseLookup(input, now);
    const visible = this.ctx.state.cloudTrail
      .filter(
        (e) =>
          input.EventCategory === undefined &&
          e.deliverAt <= now &&
          e.eventTime >= Math.max(q.start, now - NINETY_DAYS_MS) &&
          e.eventTime <= q.end &&
          matchesAttribute(e, q.attr),
      )
      .sort((a, b) => b.eventTime - a.eventTime || (a.eventId < b.eventId ? 1 : -1))
      .filter(
        ({ eventTime: t, eventId: id }) =>
          !q.after || t < q.after.t || (t === q.after.t && id < q.after.id),
      );
    const page = visible.slice(0, q.maxResults);
    const last = page[page.length - 1];
    return {
      Events: page.map(lookupView),
      ...(visible.length > q.maxResults && last
        ? { NextToken: encodeToken(last.eventTime, last.eventId, q.query) }
        : {}),
    };
  }

  /** AWS's 2 requests a second (the fault knob `lookupRatePerSecond`; 0 disables). */
  private rateLimit(now: number): void {
    const limit = this.ctx.state.faults.lookupRatePerSecond;
    if (limit <= 0) return;
    this.lookupCalls = this.lookupCalls.filter((t) => now - t < SECOND_MS);
    if (this.lookupCalls.length >= limit)
      throw new AwsError('ThrottlingException', 'Rate exceeded');
    this.lookupCalls.push(now);
  }

  private parseLookup(input: Json, now: number): Lookup {
    const attrs = (input.LookupAttributes as Json[] | undefined) ?? [];
    if (attrs.length > 1) {
      throw new AwsError(
        'InvalidLookupAttributesException',
        'You can specify only one lookup attribute',
      );
    }
    const maxResults = typeof input.MaxResults === 'number' ? input.MaxResults : 50;
    if (maxResults < 1 || maxResults > 50) {
      throw new AwsError('InvalidMaxResultsException', 'MaxResults must be between 1 and 50');
    }
    const start =
      input.StartTime !== undefined ? parseTimestamp(input.StartTime) : now - NINETY_DAYS_MS;
    const end = input.EndTime !== undefined ? parseTimestamp(input.EndTime) : now;
    if (start > end)
      throw new AwsError('InvalidTimeRangeException', 'StartTime must be before EndTime');
    if (input.EventCategory !== undefined && input.EventCategory !== 'insight') {
      throw new AwsError('InvalidEventCategoryException', 'EventCategory must be insight');
    }
    const query = queryHash([attrs, input.StartTime, input.EndTime, input.EventCategory]);
    const after =
      input.NextToken !== undefined ? decodeToken(str(input.NextToken) ?? '', query) : undefined;
    return { attr: attrs[0], maxResults, start, end, query, after };
  }
}
