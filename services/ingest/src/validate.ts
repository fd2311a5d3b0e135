import {
  KIND_HEADER,
  MESSAGE_KINDS,
  usageEventKey,
  validateUsageEvent,
  type Reason,
  type UsageEvent,
} from '@meterstream/schemas';
import type { Principal } from './keys.js';
import { lossyQuantities, type Item } from './parse.js';
import type { PlanLookup } from './plans.js';
import type { OutRecord } from './sink.js';

/** One rejected event of a request. */
export interface EventError {
  index: number;
  reasons: Reason[];
}

/** Why an event was rejected, as counted in `events_rejected_total` and mapped to a status. */
type RejectKind = 'malformed' | 'invalid' | 'unknown_product' | 'unknown_dimension' | 'forbidden';

/** What checking a request's events needs besides the events. */
export interface CheckOptions {
  principal: Principal;
  plans: PlanLookup;
  /** Epoch ms the request is checked at. */
  now: number;
  maxEventAgeMs: number;
  maxEventSkewMs: number;
  maxEventBytes: number;
  newId: () => string;
  /** Encodes one event into the Confluent wire format (magic byte, schema id, Avro). */
  encode: (event: UsageEvent) => Buffer;
}

/** The events of a request, normalized and encoded, and those rejected with their reasons. */
export interface Checked {
  events: UsageEvent[];
  records: OutRecord[];
  errors: EventError[];
  /** Rejected events by kind. */
  rejected: Map<RejectKind, number>;
}

type Verdict =
  | { ok: true; event: UsageEvent; value: Buffer }
  | { ok: false; kind: RejectKind; reasons: Reason[] };

/** The headers of every usage record (one object for all: the clients only read them). */
const USAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  [KIND_HEADER]: MESSAGE_KINDS.usage,
});

const no = (kind: RejectKind, field: string, message: string): Verdict => ({
  ok: false,
  kind,
  reasons: [{ field, message }],
});

/**
 * Checks every event of a request: the schema (with quantities as typed), the plan of its product
 * and dimension, the key's scope, the customer id style, ids unique in the request, and the encoded
 * size. Accepted events get the plan's product code and license.
 */
export function checkEvents(items: readonly Item[], o: CheckOptions): Checked {
  const out: Checked = { events: [], records: [], errors: [], rejected: new Map() };
  const seen = new Map<string, number>();
  items.forEach((item, index) => {
    const v = checkEvent(item, o, seen, index);
    if (!v.ok) {
      out.errors.push({ index, reasons: v.reasons });
      out.rejected.set(v.kind, (out.rejected.get(v.kind) ?? 0) + 1);
      return;
    }
    out.events.push(v.event);
    out.records.push({ key: usageEventKey(v.event), value: v.value, headers: USAGE_HEADERS });
  });
  return out;
}

function checkEvent(
  item: Item,
  o: CheckOptions,
  seen: Map<string, number>,
  index: number,
): Verdict {
  if ('reasons' in item)
    return { ok: false, kind: item.unreadable ? 'malformed' : 'invalid', reasons: item.reasons };
  const lossy = lossyQuantities(item.input);
  const v = validateUsageEvent(item.input, {
    now: o.now,
    maxPastMs: o.maxEventAgeMs,
    maxFutureMs: o.maxEventSkewMs,
    newId: o.newId,
    defaultSource: `ingest/${o.principal.tenant}`,
    defaultActor: `key:${o.principal.keyId}`,
  });
  if (lossy) {
    // The number was kept as typed; say why once, not also "must be a decimal string".
    const fields = new Set(lossy.map((r) => r.field));
    const others = v.ok ? [] : v.reasons.filter((r) => !fields.has(r.field));
    return { ok: false, kind: 'invalid', reasons: [...lossy, ...others] };
  }
  if (!v.ok) return { ok: false, kind: 'invalid', reasons: v.reasons };
  const planned = checkPlan(v.event, o);
  if (!planned.ok) return planned;
  const ev = planned.event;
  const prev = seen.get(ev.id);
  if (prev !== undefined)
    return no('invalid', 'id', `duplicates the id of event ${prev} of this request`);
  seen.set(ev.id, index);
  const value = o.encode(ev);
  if (value.length > o.maxEventBytes)
    return no('invalid', '', `encodes to ${value.length} bytes; at most ${o.maxEventBytes}`);
  return { ok: true, event: ev, value };
}

/** The event under its plan (product code and license filled in), or why it has none. */
function checkPlan(ev: UsageEvent, o: CheckOptions): Verdict | { ok: true; event: UsageEvent } {
  const plan = o.plans.resolveProduct(ev.productCode ?? ev.licenseArn!);
  if (!plan)
    return no(
      'unknown_product',
      ev.productCode ? 'productCode' : 'licenseArn',
      'is not a product of any metering plan',
    );
  if (
    ev.productCode !== null &&
    ev.licenseArn !== null &&
    o.plans.resolveProduct(ev.licenseArn)?.productCode !== plan.productCode
  )
    return no('unknown_product', 'licenseArn', 'names another product than productCode');
  const scope = o.principal.products;
  if (scope !== 'all' && !scope.has(plan.productCode))
    return no('forbidden', 'productCode', 'this API key may not send usage for this product');
  const style = plan.customerIdStyle;
  if (
    style === 'customerAwsAccountId'
      ? ev.customerAwsAccountId === null
      : ev.customerIdentifier === null
  )
    return no('invalid', style, `is required: the product identifies customers by ${style}`);
  if (!o.plans.hasDimension(plan.productCode, ev.dimension, new Date(ev.timestamp)))
    return no(
      'unknown_dimension',
      'dimension',
      'is not a dimension of the product plan in force at the event timestamp',
    );
  return {
    ok: true,
    event: {
      ...ev,
      productCode: plan.productCode,
      licenseArn: ev.licenseArn ?? plan.licenseArn ?? null,
    },
  };
}
