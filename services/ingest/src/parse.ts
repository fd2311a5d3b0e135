import type { Reason } from '@meterstream/schemas';

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

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, message: `malformed JSON: ${(err as Error).message}` };
  }
}

/** Splits a body into event inputs according to its format. Never throws. */
export function parseBody(format: BodyFormat, body: string): Parsed {
  if (format === 'ndjson') {
    const items: Item[] = [];
    for (const line of body.split('\n')) {
      if (line.trim().length === 0) continue;
      const r = parseJson(line);
      items.push(
        r.ok
          ? { input: r.value }
          : { reasons: [{ field: '', message: r.message }], unreadable: true },
      );
    }
    if (items.length === 0) return { ok: false, message: 'empty body: no events' };
    return { ok: true, items };
  }
  const r = parseJson(body);
  if (!r.ok) return r;
  const v = r.value;
  switch (format) {
    case 'json':
      if (Array.isArray(v)) {
        if (v.length === 0) return { ok: false, message: 'empty array: no events' };
        return { ok: true, items: v.map((input: unknown) => ({ input })) };
      }
      return { ok: true, items: [{ input: v }] };
    case 'cloudevent':
      return { ok: true, items: [fromCloudEvent(v)] };
    case 'cloudevents-batch':
      if (!Array.isArray(v))
        return { ok: false, message: 'a CloudEvents batch must be a JSON array' };
      if (v.length === 0) return { ok: false, message: 'empty batch: no events' };
      return { ok: true, items: v.map(fromCloudEvent) };
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

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
