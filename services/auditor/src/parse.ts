import { createHash } from 'node:crypto';
import { hourStart } from '@meterstream/runtime';

/** The CloudTrail event source of the AWS Marketplace Metering Service. */
export const METERING_EVENT_SOURCE = 'metering-marketplace.amazonaws.com';

/** Metering calls the auditor reconciles; other event names of the source are ignored. */
export const METERING_EVENT_NAMES = ['BatchMeterUsage', 'MeterUsage'] as const;

/** How a customer is named on a record (ADR 0001 `customer_kind`). */
export type CustomerKind = 'identifier' | 'account' | 'caller';

/**
 * What AWS answered for one record. `Unprocessed` records (UnprocessedRecords, or a call that
 * failed as a whole: `Error`) were not billed and are kept only as evidence.
 */
export type RecordStatus =
  'Success' | 'DuplicateRecord' | 'CustomerNotSubscribed' | 'Unprocessed' | 'Error';

/** One usage record as CloudTrail saw it, with AWS's answer. */
export interface CloudTrailRecord {
  eventId: string;
  /** Position of the record in its event (stable, so re-reading an event replaces its rows). */
  recordIndex: number;
  eventName: string;
  eventTimeMs: number;
  productCode: string;
  customer: string;
  customerKind: CustomerKind;
  licenseArn: string;
  dimension: string;
  /** The record's Timestamp. */
  timestampMs: number;
  /** Start of the UTC hour of {@link timestampMs}: the dedup key AWS uses. */
  hourMs: number;
  /** Quantity in AWS's answer (the billed one when `Success`), else the one requested. */
  quantity: number;
  /** Quantity in the request, when the request held this record. */
  requestQuantity: number | null;
  status: RecordStatus;
  meteringRecordId: string;
  /** `errorCode` of a failed call. */
  errorCode: string;
  allocations: Allocation[];
}

/** A usage allocation (tags) as logged. */
export interface Allocation {
  quantity: number;
  tags: Record<string, string>;
}

/** The result of parsing one CloudTrail event. */
export type ParsedEvent =
  | {
      kind: 'metering';
      eventId: string;
      eventName: string;
      eventTimeMs: number;
      records: CloudTrailRecord[];
    }
  | { kind: 'ignored'; eventId: string; eventName: string; eventTimeMs: number }
  | { kind: 'unparseable'; eventId: string; eventTimeMs: number; reason: string; raw: string };

type Json = Record<string, unknown>;

class ShapeError extends Error {}

function obj(v: unknown, what: string): Json {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new ShapeError(`${what} is not an object`);
  return v as Json;
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0)
    throw new ShapeError(`${what} is missing or not a string`);
  return v;
}

function optStr(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function int(v: unknown, what: string): number {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new ShapeError(`${what} is not a non-negative integer`);
  }
  return n;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/**
 * Parses a record timestamp as CloudTrail logs it: ISO 8601, epoch seconds (what the JSON 1.1
 * wire carries), or the Java style of AWS's documented example (`Apr 19, 2018 4:32:50 PM`, UTC).
 */
export function parseTimestamp(v: unknown, what = 'timestamp'): number {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.round(v < 1e11 ? v * 1000 : v);
  if (typeof v === 'string') {
    if (/^\d+(\.\d+)?$/.test(v)) return parseTimestamp(Number(v), what);
    const java = /^([A-Za-z]{3}) (\d{1,2}), (\d{4}) (\d{1,2}):(\d{2}):(\d{2}) (AM|PM)$/.exec(v);
    if (java) {
      const [, mon, d, y, h, mi, s, ampm] = java;
      const month = MONTHS.indexOf((mon ?? '').toLowerCase());
      if (month >= 0) {
        const hour = (Number(h) % 12) + (ampm === 'PM' ? 12 : 0);
        return Date.UTC(Number(y), month, Number(d), hour, Number(mi), Number(s));
      }
    }
    if (/^\d{4}-\d{2}-\d{2}T/.test(v)) {
      const ms = Date.parse(v);
      if (!Number.isNaN(ms)) return ms;
    }
  }
  throw new ShapeError(`${what} is not a timestamp`);
}

interface LoggedRecord {
  customer: string;
  customerKind: CustomerKind;
  licenseArn: string;
  dimension: string;
  timestampMs: number;
  quantity: number;
  allocations: Allocation[];
}

function parseUsageRecord(v: unknown, what: string): LoggedRecord {
  const r = obj(v, what);
  const ident = r.customerIdentifier;
  // CloudTrail's camel-casing of CustomerAWSAccountId is not documented; accept both spellings.
  const account = r.customerAWSAccountId ?? r.customerAwsAccountId;
  if (ident !== undefined && account !== undefined) {
    throw new ShapeError(`${what} names both customerIdentifier and customerAWSAccountId`);
  }
  let customer: string;
  let customerKind: CustomerKind;
  if (ident !== undefined) {
    customer = str(ident, `${what}.customerIdentifier`);
    customerKind = 'identifier';
  } else if (account !== undefined) {
    customer = str(account, `${what}.customerAWSAccountId`);
    customerKind = 'account';
  } else {
    throw new ShapeError(`${what} names no customer`);
  }
  const allocations: Allocation[] = [];
  if (r.usageAllocations !== undefined) {
    if (!Array.isArray(r.usageAllocations))
      throw new ShapeError(`${what}.usageAllocations is not a list`);
    r.usageAllocations.forEach((a, i) => {
      const al = obj(a, `${what}.usageAllocations[${i}]`);
      const tags: Record<string, string> = {};
      if (Array.isArray(al.tags)) {
        for (const t of al.tags) {
          const tag = obj(t, `${what}.usageAllocations[${i}].tags[]`);
          tags[str(tag.key, 'tag key')] = optStr(tag.value);
        }
      }
      allocations.push({
        quantity: int(
          al.allocatedUsageQuantity ?? 0,
          `${what}.usageAllocations[${i}].allocatedUsageQuantity`,
        ),
        tags,
      });
    });
  }
  return {
    customer,
    customerKind,
    licenseArn: optStr(r.licenseArn),
    dimension: str(r.dimension, `${what}.dimension`),
    timestampMs: parseTimestamp(r.timestamp, `${what}.timestamp`),
    // AWS defaults an omitted Quantity to 0.
    quantity: r.quantity === undefined ? 0 : int(r.quantity, `${what}.quantity`),
    allocations,
  };
}

/** Identity of a record within one call: what AWS deduplicates on, plus the quantity. */
function recordKey(r: LoggedRecord): string {
  return JSON.stringify([r.customer, r.dimension, hourStart(r.timestampMs), r.timestampMs]);
}

const RESULT_STATUSES = new Set(['Success', 'DuplicateRecord', 'CustomerNotSubscribed']);

type EventBase = Pick<CloudTrailRecord, 'eventId' | 'eventName' | 'eventTimeMs'>;

function parseBatch(e: Json, base: EventBase): CloudTrailRecord[] {
  const req = obj(e.requestParameters, 'requestParameters');
  const productCode = optStr(req.productCode);
  if (!Array.isArray(req.usageRecords))
    throw new ShapeError('requestParameters.usageRecords is not a list');
  const requested = req.usageRecords.map((r, i) => parseUsageRecord(r, `usageRecords[${i}]`));
  const errorCode = optStr(e.errorCode);
  const out: CloudTrailRecord[] = [];
  const push = (
    r: LoggedRecord,
    status: RecordStatus,
    meteringRecordId: string,
    requestQuantity: number | null,
  ): void => {
    out.push({
      ...base,
      ...r,
      productCode,
      recordIndex: out.length,
      hourMs: hourStart(r.timestampMs),
      requestQuantity,
      status,
      meteringRecordId,
      errorCode,
    });
  };
  const resp = e.responseElements;
  if (errorCode || resp === null || resp === undefined) {
    // The call failed as a whole (or its answer was not logged): nothing in it was billed.
    for (const r of requested) push(r, 'Error', '', r.quantity);
    return out;
  }
  const response = obj(resp, 'responseElements');
  const results = response.results ?? [];
  if (!Array.isArray(results)) throw new ShapeError('responseElements.results is not a list');
  // Match results to requested records by identity, so the request quantity is kept beside the
  // answered one: a difference between the two inside one event is itself evidence.
  const pending = new Map<string, number[]>();
  for (const r of requested) {
    const k = recordKey(r);
    pending.set(k, [...(pending.get(k) ?? []), r.quantity]);
  }
  results.forEach((res, i) => {
    const rr = obj(res, `results[${i}]`);
    const status = str(rr.status, `results[${i}].status`);
    if (!RESULT_STATUSES.has(status)) throw new ShapeError(`results[${i}].status is unknown`);
    const rec = parseUsageRecord(rr.usageRecord, `results[${i}].usageRecord`);
    const qs = pending.get(recordKey(rec));
    const requestQuantity = qs && qs.length > 0 ? (qs.shift() ?? null) : null;
    push(rec, status as RecordStatus, optStr(rr.meteringRecordId), requestQuantity);
  });
  const unprocessed = response.unprocessedRecords ?? [];
  if (!Array.isArray(unprocessed))
    throw new ShapeError('responseElements.unprocessedRecords is not a list');
  unprocessed.forEach((u, i) => {
    const rec = parseUsageRecord(u, `unprocessedRecords[${i}]`);
    push(rec, 'Unprocessed', '', rec.quantity);
  });
  return out;
}

function parseMeterUsage(e: Json, base: EventBase, caller: string): CloudTrailRecord[] {
  const req = obj(e.requestParameters, 'requestParameters');
  const timestampMs = parseTimestamp(req.timestamp, 'requestParameters.timestamp');
  const quantity =
    req.usageQuantity === undefined || req.usageQuantity === null
      ? 0
      : int(req.usageQuantity, 'usageQuantity');
  const errorCode = optStr(e.errorCode);
  const resp = e.responseElements;
  const meteringRecordId =
    resp && typeof resp === 'object' ? optStr((resp as Json).meteringRecordId) : '';
  return [
    {
      ...base,
      recordIndex: 0,
      productCode: str(req.productCode, 'requestParameters.productCode'),
      // MeterUsage (AMI/container products) bills the calling account, not a named customer.
      customer: caller,
      customerKind: 'caller',
      licenseArn: '',
      dimension: str(req.usageDimension, 'requestParameters.usageDimension'),
      timestampMs,
      hourMs: hourStart(timestampMs),
      quantity,
      requestQuantity: quantity,
      status: errorCode ? 'Error' : meteringRecordId ? 'Success' : 'Error',
      meteringRecordId,
      errorCode,
      allocations: [],
    },
  ];
}

/** A stable id for an event that has none (so its finding is still reported once). */
function syntheticId(raw: string): string {
  return `unknown-${createHash('sha256').update(raw).digest('hex').slice(0, 24)}`;
}

/**
 * Parses one LookupEvents `CloudTrailEvent` JSON string. Never throws: an event it cannot read
 * comes back as `unparseable` with the reason and the raw text, for a finding of its own.
 * `hint` carries what LookupEvents said beside the JSON (event id and time).
 */
export function parseCloudTrailEvent(
  raw: string,
  hint: { eventId?: string; eventTimeMs?: number } = {},
): ParsedEvent {
  const fallbackId = hint.eventId ?? syntheticId(raw);
  const fallbackTime = hint.eventTimeMs ?? 0;
  let e: Json;
  try {
    e = obj(JSON.parse(raw) as unknown, 'event');
  } catch (err) {
    const reason = err instanceof ShapeError ? err.message : 'not JSON';
    return { kind: 'unparseable', eventId: fallbackId, eventTimeMs: fallbackTime, reason, raw };
  }
  const eventId = typeof e.eventID === 'string' && e.eventID ? e.eventID : fallbackId;
  let eventTimeMs = fallbackTime;
  try {
    eventTimeMs = parseTimestamp(e.eventTime, 'eventTime');
    const eventName = str(e.eventName, 'eventName');
    if (
      e.eventSource !== METERING_EVENT_SOURCE ||
      !(METERING_EVENT_NAMES as readonly string[]).includes(eventName)
    ) {
      return { kind: 'ignored', eventId, eventName, eventTimeMs };
    }
    const base = { eventId, eventName, eventTimeMs };
    const records =
      eventName === 'BatchMeterUsage'
        ? parseBatch(e, base)
        : parseMeterUsage(
            e,
            base,
            optStr((e.userIdentity as Json | undefined)?.accountId) || optStr(e.recipientAccountId),
          );
    return { kind: 'metering', eventId, eventName, eventTimeMs, records };
  } catch (err) {
    if (!(err instanceof ShapeError)) throw err;
    return { kind: 'unparseable', eventId, eventTimeMs, reason: err.message, raw };
  }
}
