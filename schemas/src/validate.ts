import { LIMITS, PATTERNS, type Allocation, type UsageEvent } from './model.js';
import {
  MAX_QUANTITY_MICROS,
  canonicalQuantity,
  formatMicros,
  parseQuantity,
  quantityProblem,
} from './quantity.js';

/** Why one field of one event was rejected. `field` is a JSON path such as `allocations[2].tags`. */
export interface Reason {
  field: string;
  message: string;
}

/** The result of validating one event: the normalized event, or every reason it is rejected. */
export type Validated =
  | {
      ok: true;
      event: UsageEvent;
      /** True when `id` was absent and `newId()` assigned it. */ idAssigned: boolean;
    }
  | { ok: false; reasons: Reason[] };

/** Options of {@link validateUsageEvent}. */
export interface ValidateOptions {
  /** Now, in epoch milliseconds (a parameter so tests and batches use one clock reading). */
  now: number;
  /** Oldest accepted event: `timestamp >= now - maxPastMs`. */
  maxPastMs: number;
  /** Newest accepted event: `timestamp <= now + maxFutureMs` (clock skew allowance). */
  maxFutureMs: number;
  /** Makes an id for an event that has none (ingest: UUIDv7). */
  newId: () => string;
  /** `source` of an event that has none. */
  defaultSource: string;
  /** `actor` of an event that has none (ingest: the API key id). */
  defaultActor?: string | null;
}

const RE = {
  id: new RegExp(PATTERNS.id),
  productCode: new RegExp(PATTERNS.productCode),
  licenseArn: new RegExp(PATTERNS.licenseArn),
  account: new RegExp(PATTERNS.customerAwsAccountId),
  tagKey: new RegExp(PATTERNS.tagKey),
  timestamp:
    /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/,
};

const KNOWN_FIELDS = new Set([
  'id',
  'productCode',
  'licenseArn',
  'customerIdentifier',
  'customerAwsAccountId',
  'dimension',
  'quantity',
  'timestamp',
  'allocations',
  'source',
  'actor',
  'attributes',
]);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Days in month `mo` (1-12) of year `y` of the proleptic Gregorian calendar. */
function daysInMonth(y: number, mo: number): number {
  if (mo === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return mo === 4 || mo === 6 || mo === 9 || mo === 11 ? 30 : 31;
}

/**
 * Parses an RFC 3339 date-time into epoch milliseconds (fractions beyond milliseconds are
 * truncated), or returns `undefined` for anything else, including impossible calendar dates
 * such as `2026-02-30` that `Date.parse` would roll over.
 */
export function parseRfc3339(s: string): number | undefined {
  const m = RE.timestamp.exec(s);
  if (!m) return undefined;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const h = Number(m[4]);
  const mi = Number(m[5]);
  const se = Number(m[6]);
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59) return undefined;
  if (d > daysInMonth(y, mo)) return undefined;
  let offsetMin = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offsetMin = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  let t = Date.UTC(y, mo - 1, d, h, mi, se, ms);
  if (y < 100) {
    // Date.UTC maps years 0-99 to 1900-1999.
    const utc = new Date(t);
    utc.setUTCFullYear(y);
    t = utc.getTime();
  }
  return t - offsetMin * 60_000;
}

function quantityInput(v: unknown, field: string, reasons: Reason[]): string | undefined {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) {
      reasons.push({ field, message: 'must be a finite number >= 0' });
      return undefined;
    }
    const s = String(v);
    // A double prints back as typed only up to 15 significant digits; beyond that, ask for a string.
    if (/e/i.test(s) || s.replace('.', '').replace(/^0+/, '').length > 15) {
      reasons.push({
        field,
        message:
          'as a JSON number must have at most 15 significant digits and no exponent; send a decimal string',
      });
      return undefined;
    }
    v = s;
  }
  const problem = quantityProblem(v);
  if (problem !== undefined) {
    reasons.push({ field, message: problem });
    return undefined;
  }
  return canonicalQuantity(v as string);
}

function optString(
  v: unknown,
  field: string,
  max: number,
  reasons: Reason[],
  pattern?: RegExp,
): string | null {
  if (v === undefined) return null;
  if (typeof v !== 'string') {
    reasons.push({
      field,
      message:
        v === null ? 'must be a string (omit the field instead of null)' : 'must be a string',
    });
    return null;
  }
  if (v.length === 0 || v.length > max) {
    reasons.push({ field, message: `must be 1 to ${max} characters` });
    return null;
  }
  if (pattern && !pattern.test(v)) {
    reasons.push({ field, message: `must match ${pattern.source}` });
    return null;
  }
  return v;
}

function stringMap(
  v: unknown,
  field: string,
  limits: { max: number; keyMax: number; valueMax: number; min?: number; keyPattern?: RegExp },
  reasons: Reason[],
): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isPlainObject(v)) {
    reasons.push({ field, message: 'must be an object of string values' });
    return out;
  }
  const keys = Object.keys(v);
  if (keys.length > limits.max || keys.length < (limits.min ?? 0)) {
    reasons.push({ field, message: `must have ${limits.min ?? 0} to ${limits.max} entries` });
    return out;
  }
  for (const k of keys) {
    const val = v[k];
    if (k === '__proto__') {
      reasons.push({ field, message: 'key __proto__ is not allowed' });
    } else if (
      k.length === 0 ||
      k.length > limits.keyMax ||
      (limits.keyPattern && !limits.keyPattern.test(k))
    ) {
      reasons.push({
        field,
        message: `key must be 1 to ${limits.keyMax} characters${limits.keyPattern ? ` matching ${limits.keyPattern.source}` : ''}`,
      });
    } else if (typeof val !== 'string' || val.length > limits.valueMax) {
      reasons.push({
        field: `${field}.${k}`,
        message: `must be a string of at most ${limits.valueMax} characters`,
      });
    } else {
      out[k] = val;
    }
  }
  return out;
}

function allocationsInput(v: unknown, reasons: Reason[]): Allocation[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    reasons.push({ field: 'allocations', message: 'must be an array' });
    return [];
  }
  if (v.length > LIMITS.allocationsMax) {
    reasons.push({
      field: 'allocations',
      message: `must have at most ${LIMITS.allocationsMax} entries`,
    });
    return [];
  }
  const out: Allocation[] = [];
  v.forEach((a: unknown, i) => {
    const field = `allocations[${i}]`;
    if (!isPlainObject(a)) {
      reasons.push({ field, message: 'must be an object {quantity, tags}' });
      return;
    }
    for (const k of Object.keys(a)) {
      if (k !== 'quantity' && k !== 'tags')
        reasons.push({ field: `${field}.${k}`, message: 'is not a known field' });
    }
    const quantity = quantityInput(a.quantity, `${field}.quantity`, reasons);
    const tags = stringMap(
      a.tags,
      `${field}.tags`,
      {
        min: 1,
        max: LIMITS.allocationTagsMax,
        keyMax: LIMITS.tagKeyMaxLength,
        valueMax: LIMITS.tagValueMaxLength,
        keyPattern: RE.tagKey,
      },
      reasons,
    );
    if (quantity !== undefined) out.push({ quantity, tags });
  });
  return out;
}

/**
 * Checks the invariants of a usage event that do not depend on the clock or the plans: id,
 * product, exactly one customer, quantity format and range, allocation sum. The aggregator uses
 * it on events decoded from Kafka (direct Avro producers bypass ingest); ingest runs it too.
 * Returns the reasons; empty means valid.
 */
export function checkUsageEvent(ev: UsageEvent): Reason[] {
  const reasons: Reason[] = [];
  if (ev.id.length === 0 || ev.id.length > LIMITS.idMaxLength || !RE.id.test(ev.id)) {
    reasons.push({
      field: 'id',
      message: `must be 1 to ${LIMITS.idMaxLength} printable ASCII characters without spaces`,
    });
  }
  if (ev.productCode === null && ev.licenseArn === null) {
    reasons.push({ field: 'productCode', message: 'productCode or licenseArn is required' });
  }
  if (
    ev.productCode !== null &&
    (ev.productCode.length > LIMITS.productCodeMaxLength || !RE.productCode.test(ev.productCode))
  ) {
    reasons.push({
      field: 'productCode',
      message: `must be 1 to ${LIMITS.productCodeMaxLength} characters of ${PATTERNS.productCode}`,
    });
  }
  if (
    ev.licenseArn !== null &&
    (ev.licenseArn.length > LIMITS.licenseArnMaxLength || !RE.licenseArn.test(ev.licenseArn))
  ) {
    reasons.push({ field: 'licenseArn', message: 'must be a License Manager license ARN' });
  }
  if ((ev.customerIdentifier === null) === (ev.customerAwsAccountId === null)) {
    reasons.push({
      field: 'customerIdentifier',
      message: 'exactly one of customerIdentifier and customerAwsAccountId is required',
    });
  }
  if (
    ev.customerIdentifier !== null &&
    (ev.customerIdentifier.length === 0 ||
      ev.customerIdentifier.length > LIMITS.customerIdentifierMaxLength)
  ) {
    reasons.push({
      field: 'customerIdentifier',
      message: `must be 1 to ${LIMITS.customerIdentifierMaxLength} characters`,
    });
  }
  if (ev.customerAwsAccountId !== null && !RE.account.test(ev.customerAwsAccountId)) {
    reasons.push({ field: 'customerAwsAccountId', message: 'must be a 12-digit AWS account id' });
  }
  if (ev.dimension.length === 0 || ev.dimension.length > LIMITS.dimensionMaxLength) {
    reasons.push({
      field: 'dimension',
      message: `must be 1 to ${LIMITS.dimensionMaxLength} characters`,
    });
  }
  const qp = quantityProblem(ev.quantity);
  if (qp !== undefined) reasons.push({ field: 'quantity', message: qp });
  if (!Number.isSafeInteger(ev.timestamp))
    reasons.push({ field: 'timestamp', message: 'must be epoch milliseconds' });
  if (ev.allocations.length > 0 && qp === undefined) {
    let sum = 0n;
    let valid = true;
    ev.allocations.forEach((a, i) => {
      const p = quantityProblem(a.quantity);
      if (p !== undefined) {
        valid = false;
        reasons.push({ field: `allocations[${i}].quantity`, message: p });
      } else sum += parseQuantity(a.quantity);
    });
    if (valid && sum !== parseQuantity(ev.quantity)) {
      reasons.push({
        field: 'allocations',
        message: `allocation quantities sum to ${sum > MAX_QUANTITY_MICROS * 2500n ? 'too much' : formatMicros(sum)}, not the event quantity`,
      });
    }
  }
  if (ev.source.length === 0 || ev.source.length > LIMITS.sourceMaxLength) {
    reasons.push({ field: 'source', message: `must be 1 to ${LIMITS.sourceMaxLength} characters` });
  }
  return reasons;
}

/**
 * Validates and normalizes one event in its HTTP (JSON) form — see `USAGE_EVENT_JSON_SCHEMA` —
 * into the Kafka form. Never throws, whatever `input` is. Normalization: assigns a missing id,
 * canonicalizes quantities (`"007.50"` → `"7.5"`), converts the RFC 3339 timestamp to epoch
 * milliseconds, fills `source` and `actor` defaults. Product and dimension are not checked
 * against the plans here (ingest does that, and fills `productCode` from a `licenseArn`).
 */
export function validateUsageEvent(input: unknown, options: ValidateOptions): Validated {
  try {
    return validate(input, options);
  } catch {
    // Defensive: a bug here must reject one event, never crash a request.
    return { ok: false, reasons: [{ field: '', message: 'could not be validated' }] };
  }
}

function validate(input: unknown, o: ValidateOptions): Validated {
  if (!isPlainObject(input))
    return { ok: false, reasons: [{ field: '', message: 'must be a JSON object' }] };
  const reasons: Reason[] = [];
  for (const k of Object.keys(input)) {
    if (!KNOWN_FIELDS.has(k)) reasons.push({ field: k, message: 'is not a known field' });
  }
  const idAssigned = input.id === undefined;
  const id = idAssigned ? o.newId() : optString(input.id, 'id', LIMITS.idMaxLength, reasons, RE.id);
  const productCode = optString(
    input.productCode,
    'productCode',
    LIMITS.productCodeMaxLength,
    reasons,
    RE.productCode,
  );
  const licenseArn = optString(
    input.licenseArn,
    'licenseArn',
    LIMITS.licenseArnMaxLength,
    reasons,
    RE.licenseArn,
  );
  const customerIdentifier = optString(
    input.customerIdentifier,
    'customerIdentifier',
    LIMITS.customerIdentifierMaxLength,
    reasons,
  );
  const customerAwsAccountId = optString(
    input.customerAwsAccountId,
    'customerAwsAccountId',
    12,
    reasons,
    RE.account,
  );
  if (input.dimension === undefined) reasons.push({ field: 'dimension', message: 'is required' });
  const dimension = optString(input.dimension, 'dimension', LIMITS.dimensionMaxLength, reasons);
  let quantity: string | undefined;
  if (input.quantity === undefined) reasons.push({ field: 'quantity', message: 'is required' });
  else quantity = quantityInput(input.quantity, 'quantity', reasons);
  let timestamp: number | undefined;
  if (typeof input.timestamp !== 'string') {
    reasons.push({
      field: 'timestamp',
      message: input.timestamp === undefined ? 'is required' : 'must be an RFC 3339 string',
    });
  } else {
    timestamp = parseRfc3339(input.timestamp);
    if (timestamp === undefined)
      reasons.push({
        field: 'timestamp',
        message: 'must be an RFC 3339 date-time, e.g. 2026-11-26T10:15:00Z',
      });
    else if (timestamp < o.now - o.maxPastMs)
      reasons.push({
        field: 'timestamp',
        message: `is more than ${o.maxPastMs / 1000} s in the past`,
      });
    else if (timestamp > o.now + o.maxFutureMs)
      reasons.push({
        field: 'timestamp',
        message: `is more than ${o.maxFutureMs / 1000} s in the future`,
      });
  }
  const allocations = allocationsInput(input.allocations, reasons);
  const source =
    input.source === undefined
      ? o.defaultSource
      : optString(input.source, 'source', LIMITS.sourceMaxLength, reasons);
  const actor =
    input.actor === undefined
      ? (o.defaultActor ?? null)
      : optString(input.actor, 'actor', LIMITS.actorMaxLength, reasons);
  const attributes =
    input.attributes === undefined
      ? {}
      : stringMap(
          input.attributes,
          'attributes',
          {
            max: LIMITS.attributesMax,
            keyMax: LIMITS.attributeKeyMaxLength,
            valueMax: LIMITS.attributeValueMaxLength,
          },
          reasons,
        );
  if (
    reasons.length > 0 ||
    id === null ||
    dimension === null ||
    quantity === undefined ||
    timestamp === undefined ||
    source === null
  ) {
    return {
      ok: false,
      reasons: reasons.length > 0 ? reasons : [{ field: '', message: 'is invalid' }],
    };
  }
  const event: UsageEvent = {
    id,
    productCode,
    licenseArn,
    customerIdentifier,
    customerAwsAccountId,
    dimension,
    quantity,
    timestamp,
    allocations,
    source,
    actor,
    attributes,
  };
  const more = checkUsageEvent(event);
  return more.length > 0 ? { ok: false, reasons: more } : { ok: true, event, idAssigned };
}
