import type { Reason } from '@meterstream/schemas';
import {
  JsonSyntaxError,
  LossyNumber,
  StrictJsonReader,
  decodeUtf8,
  type DecodedBody,
} from './strict-json.js';

/** Media types `POST /v1/events` accepts, by how the body is split into events. */
export const MEDIA_TYPES = {
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
  'application/cloudevents+json': 'cloudevent',
  'application/cloudevents-batch+json': 'cloudevents-batch',
} as const;

export type BodyFormat = (typeof MEDIA_TYPES)[keyof typeof MEDIA_TYPES];

/** CloudEvents `type` of a usage event. */
export const CLOUDEVENT_TYPE = 'io.meterstream.usage';

/** One event of a request: its HTTP-form input, or why it could not even be read. */
export type Item =
  | { input: unknown }
  | { reasons: Reason[]; /** Not even JSON (400, not 422). */ unreadable?: boolean };

/** A request body split into events, or a reason the whole body is unreadable (400). */
export type Parsed = { ok: true; items: Item[] } | { ok: false; message: string };

/** The body format of a Content-Type header, or `undefined` (415). Only UTF-8 is accepted. */
export function bodyFormat(contentType: string | undefined): BodyFormat | undefined {
  if (!contentType) return undefined;
  const [type, ...params] = contentType.split(';').map((s) => s.trim().toLowerCase());
  for (const p of params) {
    const [k, v] = p.split('=').map((s) => s.trim().replace(/^"|"$/g, ''));
    if (k === 'charset' && v !== 'utf-8' && v !== 'utf8') return undefined;
  }
  return (MEDIA_TYPES as Record<string, BodyFormat>)[type ?? ''];
}

/** What {@link lossyQuantities} says, as `validateUsageEvent` says it for a parsed number. */
const LOSSY_QUANTITY =
  'as a JSON number must have at most 15 significant digits and no exponent; send a decimal string';

/**
 * Splits a body into event inputs according to its format, reading it as strict UTF-8 and
 * strict JSON (see {@link StrictJsonReader}): a syntax error makes the body (or NDJSON line)
 * unreadable; invalid UTF-8, an unpaired surrogate escape or a duplicate key rejects the event
 * that holds it, with the reason. Never throws for bad input.
 *
 * @param body the raw body; a string is taken as already decoded (tests).
 */
export function parseBody(format: BodyFormat, body: Uint8Array | string): Parsed {
  const decoded: DecodedBody =
    typeof body === 'string' ? { text: body, invalid: [] } : decodeUtf8(body);
  const r = new StrictJsonReader(decoded.text);
  const syntax = (err: unknown): string => {
    if (!(err instanceof JsonSyntaxError)) throw err;
    const bad = decoded.invalid.find((x) => x.at === err.position);
    return bad
      ? `malformed JSON: invalid UTF-8 at byte ${bad.byte}`
      : `malformed JSON: ${err.message}`;
  };
  // Reads one event-level value at the reader's position into an item.
  const element = (toItem: (v: unknown) => Item): Item => {
    r.begin();
    r.ws();
    const start = r.pos;
    const v = r.value();
    const reasons = invalidIn(decoded, start, r.pos) ?? r.problems;
    if (reasons) {
      if (r.problems && reasons !== r.problems) reasons.push(...r.problems);
      return { reasons };
    }
    return toItem(v);
  };
  const asInput = (input: unknown): Item => ({ input });

  if (format === 'ndjson') {
    const items: Item[] = [];
    const text = decoded.text;
    for (let from = 0; from < text.length;) {
      let eol = text.indexOf('\n', from);
      if (eol < 0) eol = text.length;
      r.pos = from;
      r.end = eol;
      from = eol + 1;
      r.ws();
      if (r.pos === r.end) continue;
      try {
        const item = element(asInput);
        r.ws();
        if (r.pos !== r.end) r.fail('the end of the line (one event per line)');
        items.push(item);
      } catch (err) {
        items.push({ reasons: [{ field: '', message: syntax(err) }], unreadable: true });
      }
    }
    if (items.length === 0) return { ok: false, message: 'empty body: no events' };
    return { ok: true, items };
  }

  const map = format === 'json' ? asInput : fromCloudEvent;
  try {
    r.ws();
    if (format !== 'cloudevent' && r.peek() === 0x5b /* [ */) {
      const items: Item[] = [];
      r.pos++;
      r.ws();
      if (r.peek() === 0x5d /* ] */) {
        r.pos++;
      } else {
        for (;;) {
          items.push(element(map));
          r.ws();
          const c = r.peek();
          if (c === 0x2c /* , */) r.pos++;
          else if (c === 0x5d /* ] */) break;
          else r.fail('"," or "]"');
        }
        r.pos++;
      }
      r.ws();
      if (r.pos !== r.end) r.fail('the end of the body');
      if (items.length === 0)
        return {
          ok: false,
          message: format === 'json' ? 'empty array: no events' : 'empty batch: no events',
        };
      return { ok: true, items };
    }
    const item = element(map);
    r.ws();
    if (r.pos !== r.end) r.fail('the end of the body');
    if (format === 'cloudevents-batch')
      return { ok: false, message: 'a CloudEvents batch must be a JSON array' };
    return { ok: true, items: [item] };
  } catch (err) {
    return { ok: false, message: syntax(err) };
  }
}

/** Reasons for invalid UTF-8 between `start` and `end` of the decoded text, if any. */
function invalidIn(d: DecodedBody, start: number, end: number): Reason[] | undefined {
  let out: Reason[] | undefined;
  for (const x of d.invalid) {
    if (x.at >= start && x.at < end) {
      (out ??= []).push({
        field: '',
        message: `contains invalid UTF-8 (byte ${x.byte} of the body); send UTF-8 text`,
      });
    }
  }
  return out;
}

/**
 * Reasons for quantities sent as JSON numbers that a double would not keep as typed
 * ({@link LossyNumber}: an exponent or more than 15 significant digits), by field path.
 */
export function lossyQuantities(input: unknown): Reason[] | undefined {
  if (!isObject(input)) return undefined;
  let out: Reason[] | undefined;
  if (input.quantity instanceof LossyNumber)
    (out ??= []).push({ field: 'quantity', message: LOSSY_QUANTITY });
  if (Array.isArray(input.allocations)) {
    input.allocations.forEach((a: unknown, i) => {
      if (isObject(a) && a.quantity instanceof LossyNumber)
        (out ??= []).push({ field: `allocations[${i}].quantity`, message: LOSSY_QUANTITY });
    });
  }
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof LossyNumber);

/**
 * Maps a structured-mode CloudEvent (spec 1.0) to the HTTP form of a usage event: `data` holds
 * the usage fields; the CloudEvent's `id` becomes the event id, `source` the source and `time`
 * the timestamp unless `data` has its own. Extension attributes are ignored.
 */
export function fromCloudEvent(ce: unknown): Item {
  if (!isObject(ce)) return { reasons: [{ field: '', message: 'must be a CloudEvent object' }] };
  const reasons: Reason[] = [];
  if (ce.specversion !== '1.0') reasons.push({ field: 'specversion', message: 'must be "1.0"' });
  if (ce.type !== CLOUDEVENT_TYPE)
    reasons.push({ field: 'type', message: `must be "${CLOUDEVENT_TYPE}"` });
  if (typeof ce.id !== 'string' || ce.id.length === 0)
    reasons.push({ field: 'id', message: 'is required (string)' });
  if (typeof ce.source !== 'string' || ce.source.length === 0)
    reasons.push({ field: 'source', message: 'is required (URI-reference)' });
  if (
    ce.datacontenttype !== undefined &&
    !/^application\/json\b/i.test(String(ce.datacontenttype))
  ) {
    reasons.push({ field: 'datacontenttype', message: 'must be application/json' });
  }
  if (ce.data_base64 !== undefined)
    reasons.push({ field: 'data_base64', message: 'is not supported: send data as JSON' });
  if (!isObject(ce.data))
    reasons.push({ field: 'data', message: 'must be an object with the usage fields' });
  if (ce.time !== undefined && typeof ce.time !== 'string')
    reasons.push({ field: 'time', message: 'must be an RFC 3339 string' });
  if (reasons.length > 0) return { reasons };
  const data = ce.data as Record<string, unknown>;
  if (data.id !== undefined && data.id !== ce.id) {
    return { reasons: [{ field: 'data.id', message: 'differs from the CloudEvent id; omit it' }] };
  }
  return {
    input: {
      ...data,
      id: ce.id,
      source: data.source ?? ce.source,
      ...(data.timestamp === undefined && ce.time !== undefined ? { timestamp: ce.time } : {}),
    },
  };
}
