import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Metrics } from '@meterstream/observability';
import type { UsageEvent } from '@meterstream/schemas';
import { errorBody, unsupportedMediaType } from './http-errors.js';
import type { Principal } from './keys.js';
import { ingestMetrics, type IngestMetrics } from './metrics.js';
import { bodyFormat, parseBody, type BodyFormat } from './parse.js';
import type { PlanLookup } from './plans.js';
import type { EventSink, OutRecord } from './sink.js';
import { checkEvents, type Checked } from './validate.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** Limits and policies of `POST /v1/events`. */
export interface EventsConfig {
  maxEventsPerRequest: number;
  maxEventAgeMs: number;
  maxEventSkewMs: number;
  retryAfterSeconds: number;
  /** Largest encoded event; Kafka refuses records near its 1 MiB message limit. */
  maxEventBytes: number;
}

/** What the events route needs. */
export interface EventsDeps {
  metrics: Metrics;
  config: EventsConfig;
  keys: { authenticate(presented: string): Principal | undefined };
  plans: PlanLookup;
  sink: EventSink;
  /** Encodes one event into the Confluent wire format (magic byte, schema id, Avro). */
  encode: (event: UsageEvent) => Buffer;
  /** Epoch ms. */
  now: () => number;
  newId: () => string;
}

const EMPTY = Buffer.alloc(0);

function presentedKey(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m?.[1];
  }
  const x = req.headers['x-api-key'];
  return typeof x === 'string' ? x : undefined;
}

/**
 * Authenticates before the body is read (an unauthenticated client cannot make us parse 5 MB),
 * then checks the media type.
 */
export function authenticate(deps: EventsDeps) {
  const m = ingestMetrics(deps.metrics);
  return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const key = presentedKey(req);
    const principal = key === undefined ? undefined : deps.keys.authenticate(key);
    if (!principal) {
      m.requests.inc({ status: '401' });
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="meterstream-ingest"')
        .send(
          errorBody(
            'UNAUTHENTICATED',
            key === undefined
              ? 'missing API key (Authorization: Bearer <key>)'
              : 'invalid or revoked API key',
          ),
        );
    }
    req.principal = principal;
    if (bodyFormat(req.headers['content-type']) === undefined)
      return unsupportedMediaType(m, reply);
    return undefined;
  };
}

/**
 * `POST /v1/events`: parses the body, checks every event, and produces all of them or none. 202
 * only once Kafka has them; 4xx with the reasons per event; 503 (same ids again) when Kafka cannot
 * take them now.
 */
export function handleEvents(deps: EventsDeps) {
  const { config } = deps;
  const m = ingestMetrics(deps.metrics);
  return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const received = process.hrtime.bigint();
    const principal = req.principal!;
    const format = bodyFormat(req.headers['content-type']) as BodyFormat;
    const body = Buffer.isBuffer(req.body) ? req.body : EMPTY;
    m.requestBytes.observe(body.length);
    const answer = (status: number, payload: unknown): FastifyReply => {
      m.requests.inc({ status: String(status) });
      return reply.code(status).send(payload);
    };
    const parsed = parseBody(format, body);
    if (!parsed.ok) {
      m.rejected.inc({ reason: 'malformed' });
      return answer(400, errorBody('BAD_REQUEST', parsed.message));
    }
    const n = parsed.items.length;
    m.requestEvents.observe(n);
    if (n > config.maxEventsPerRequest) {
      m.rejected.inc({ reason: 'too_many' }, n);
      const message = `${n} events in one request; at most ${config.maxEventsPerRequest}`;
      return answer(413, errorBody('PAYLOAD_TOO_LARGE', message));
    }
    const checked = checkEvents(parsed.items, {
      principal,
      plans: deps.plans,
      now: deps.now(),
      maxEventAgeMs: config.maxEventAgeMs,
      maxEventSkewMs: config.maxEventSkewMs,
      maxEventBytes: config.maxEventBytes,
      newId: deps.newId,
      encode: deps.encode,
    });
    for (const [reason, count] of checked.rejected) m.rejected.inc({ reason }, count);
    if (checked.errors.length > 0) {
      const { status, payload } = rejection(checked, n);
      return answer(status, payload);
    }
    const status = await produce(deps, m, req, checked.records);
    const ids = checked.events.map((e) => e.id);
    if (status === 'accepted') {
      m.accepted.inc(ids.length);
      m.ackSeconds.observe(Number(process.hrtime.bigint() - received) / 1e9);
      return answer(202, { accepted: ids.length, ids });
    }
    reply.header('retry-after', String(config.retryAfterSeconds));
    return answer(
      503,
      status === 'overloaded'
        ? errorBody('OVERLOADED', 'too many events in flight; retry later with the same ids', {
            ids,
          })
        : errorBody('KAFKA_UNAVAILABLE', 'events not saved; retry later with the same ids', {
            ids,
          }),
    );
  };
}

/** Nothing of a batch with a bad event is produced: the client fixes and re-sends all of it. */
function rejection(checked: Checked, n: number): { status: number; payload: unknown } {
  const kinds = checked.rejected;
  const status = kinds.has('forbidden') ? 403 : kinds.has('malformed') ? 400 : 422;
  const code = status === 403 ? 'FORBIDDEN' : status === 400 ? 'BAD_REQUEST' : 'VALIDATION_FAILED';
  const { errors } = checked;
  return {
    status,
    payload: errorBody(code, `${errors.length} of ${n} events rejected; nothing was accepted`, {
      rejected: errors.length,
      errors,
    }),
  };
}

/** Hands the records to Kafka within the in-flight limit; resolves once acknowledged (or not). */
async function produce(
  deps: EventsDeps,
  m: IngestMetrics,
  req: FastifyRequest,
  records: OutRecord[],
): Promise<'accepted' | 'overloaded' | 'unavailable'> {
  const n = records.length;
  if (!deps.sink.reserve(n)) {
    m.rejected.inc({ reason: 'overloaded' }, n);
    return 'overloaded';
  }
  try {
    await deps.sink.send(records);
    return 'accepted';
  } catch (err) {
    m.rejected.inc({ reason: 'unavailable' }, n);
    req.log.warn({ err, events: n }, 'produce failed');
    return 'unavailable';
  } finally {
    deps.sink.release(n);
  }
}
