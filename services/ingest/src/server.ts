import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { v7 as uuidv7 } from 'uuid';
import { MeterstreamError } from '@meterstream/errors';
import {
  LATENCY_BUCKETS,
  SIZE_BUCKETS,
  type Logger,
  type Metrics,
} from '@meterstream/observability';
import {
  KIND_HEADER,
  MESSAGE_KINDS,
  usageEventKey,
  validateUsageEvent,
  type Reason,
  type UsageEvent,
} from '@meterstream/schemas';
import type { Principal } from './keys.js';
import type { Socket } from 'node:net';
import type { ServerResponse } from 'node:http';
import { MEDIA_TYPES, bodyFormat, lossyQuantities, parseBody, type BodyFormat } from './parse.js';
import type { PlanLookup } from './plans.js';
import type { EventSink, OutRecord } from './sink.js';

/** Limits and policies of the HTTP API. */
export interface ServerConfig {
  bodyLimitBytes: number;
  maxEventsPerRequest: number;
  maxEventAgeMs: number;
  maxEventSkewMs: number;
  retryAfterSeconds: number;
  /** Largest encoded event; Kafka refuses records near its 1 MiB message limit. */
  maxEventBytes: number;
  /**
   * Longest time to receive a whole request (headers and body); a slower client gets 408 and its
   * connection is closed, so trickling clients cannot hold connections and memory. Default 10 s.
   */
  requestTimeoutMs?: number;
}

/** Default of {@link ServerConfig.requestTimeoutMs}. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** Everything {@link buildServer} needs; tests pass in-process fakes only for plans and keys. */
export interface ServerDeps {
  logger: Logger;
  metrics: Metrics;
  config: ServerConfig;
  keys: { authenticate(presented: string): Principal | undefined };
  plans: PlanLookup;
  sink: EventSink;
  /** Encodes one event into the Confluent wire format (magic byte, schema id, Avro). */
  encode: (event: UsageEvent) => Buffer;
  /** Kafka and the schema registry answer (for /readyz). */
  ready: () => Promise<boolean> | boolean;
  /** Epoch ms; a parameter for tests. */
  now?: () => number;
  newId?: () => string;
}

/** One rejected event of a request. */
export interface EventError {
  index: number;
  reasons: Reason[];
}

type RejectKind = 'malformed' | 'invalid' | 'unknown_product' | 'unknown_dimension' | 'forbidden';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

const metricsOf = new WeakMap<Metrics, ReturnType<typeof createIngestMetrics>>();

/** The ingest metrics in `m`, created once per registry (the server and the sink share them). */
export function ingestMetrics(m: Metrics): ReturnType<typeof createIngestMetrics> {
  let v = metricsOf.get(m);
  if (!v) metricsOf.set(m, (v = createIngestMetrics(m)));
  return v;
}

function createIngestMetrics(m: Metrics) {
  return {
    accepted: m.counter('events_accepted_total', 'Events acknowledged by Kafka and answered 202'),
    rejected: m.counter('events_rejected_total', 'Events rejected, by reason', ['reason'] as const),
    requests: m.counter('requests_total', 'Requests to POST /v1/events by status', [
      'status',
    ] as const),
    requestEvents: m.histogram('request_events', 'Events per request', [], SIZE_BUCKETS),
    requestBytes: m.histogram(
      'request_bytes',
      'Body size of requests',
      [],
      [1e3, 1e4, 1e5, 2.5e5, 5e5, 1e6, 2.5e6, 5e6, 1e7],
    ),
    produceSeconds: m.histogram(
      'produce_seconds',
      'Duration of one Kafka produce call (acks=all)',
      ['outcome'] as const,
      LATENCY_BUCKETS,
    ),
    produceBatch: m.histogram(
      'produce_batch_events',
      'Events per Kafka produce call',
      [],
      SIZE_BUCKETS,
    ),
    ackSeconds: m.histogram(
      'ack_seconds',
      'From request received to Kafka acknowledged',
      [],
      LATENCY_BUCKETS,
    ),
    inFlight: m.gauge('inflight_events', 'Events waiting for a Kafka acknowledgement'),
    producerResets: m.counter('producer_resets_total', 'Producers replaced after a failed send'),
  };
}

/** Records produce-call metrics; pass to the sink's `onSend`. */
export function produceObserver(
  metrics: Metrics,
): (seconds: number, records: number, ok: boolean) => void {
  const m = ingestMetrics(metrics);
  return (seconds, records, ok) => {
    m.produceSeconds.observe({ outcome: ok ? 'ok' : 'error' }, seconds);
    m.produceBatch.observe(records);
  };
}

const EMPTY = Buffer.alloc(0);

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

function presentedKey(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m?.[1];
  }
  const x = req.headers['x-api-key'];
  return typeof x === 'string' ? x : undefined;
}

function errorBody(
  code: MeterstreamError['code'],
  message: string,
  extra: Record<string, unknown> = {},
) {
  return { error: { code, message }, ...extra };
}

/**
 * The ingest HTTP API as a Fastify instance (not listening): `POST /v1/events`, `/metrics`,
 * `/healthz`, `/readyz`. `main.ts` wires it to Kafka; tests use it in-process.
 */
export function buildServer(deps: ServerDeps): FastifyInstance {
  const { config, logger } = deps;
  const m = ingestMetrics(deps.metrics);
  const now = deps.now ?? Date.now;
  const newId = deps.newId ?? (() => uuidv7());
  const requestTimeoutMs = config.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;

  const app = Fastify({
    // Per-request logging at info would cost more than the request itself at 20k events/s.
    loggerInstance: logger.child(
      { module: 'http' },
      { level: logger.levelVal < 40 ? 'warn' : logger.level },
    ) as FastifyBaseLogger,
    bodyLimit: config.bodyLimitBytes,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Node answers 408 and closes the connection when a request (headers and body) takes longer
    // than requestTimeout; it checks every connectionsCheckingInterval (default 30 s, too coarse
    // for a timeout of a few seconds).
    requestTimeout: requestTimeoutMs,
    http: {
      requestTimeout: requestTimeoutMs,
      headersTimeout: Math.min(60_000, requestTimeoutMs),
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(requestTimeoutMs / 4))),
    },
    clientErrorHandler(err: Error & { code?: string }, socket: Socket) {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      const status = timeout ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      m.requests.inc({ status: String(status) });
      // Answer only when no response has started on this socket, as Node does, so that a client
      // never reads a 408 glued to the end of another answer.
      const current = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
      if (socket.writable && !current?.headersSent) {
        const body = JSON.stringify(
          timeout
            ? errorBody(
                'REQUEST_TIMEOUT',
                `request not received within ${requestTimeoutMs} ms; connection closed`,
              )
            : errorBody('BAD_REQUEST', status === 431 ? 'headers too large' : 'bad request'),
        );
        socket.write(
          `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nContent-Type: application/json\r\n` +
            `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      }
      socket.destroy();
    },
  });

  // While closing, answer in-flight requests with `Connection: close` so keep-alive clients let go
  // and close() does not wait for their idle timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    app.server.closeIdleConnections();
  });
  app.addHook('onSend', async (_req, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  app.removeAllContentTypeParsers();
  // The raw bytes: parseBody decodes them as strict UTF-8 (a string parser would replace invalid
  // bytes with U+FFFD without a word).
  app.addContentTypeParser(Object.keys(MEDIA_TYPES), { parseAs: 'buffer' }, (_req, body, done) =>
    done(null, body),
  );

  app.setErrorHandler((err: Error & { code?: string; statusCode?: number }, req, reply) => {
    const status = err.statusCode ?? 500;
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) {
      m.requests.inc({ status: '413' });
      return reply
        .code(413)
        .send(errorBody('PAYLOAD_TOO_LARGE', `body larger than ${config.bodyLimitBytes} bytes`));
    }
    if (
      err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ||
      err.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' ||
      status === 415
    ) {
      m.requests.inc({ status: '415' });
      return reply
        .code(415)
        .send(
          errorBody(
            'UNSUPPORTED_MEDIA_TYPE',
            `Content-Type must be one of ${Object.keys(MEDIA_TYPES).join(', ')} (UTF-8)`,
          ),
        );
    }
    if (status >= 400 && status < 500) {
      m.requests.inc({ status: String(status) });
      return reply.code(status).send(errorBody('BAD_REQUEST', err.message));
    }
    req.log.error({ err }, 'request failed');
    m.requests.inc({ status: '500' });
    return reply.code(500).send(errorBody('INTERNAL', 'internal error'));
  });

  app.get('/healthz', async () => 'ok\n');
  app.get('/readyz', async (_req, reply) =>
    (await deps.ready()) ? 'ready\n' : reply.code(503).send('not ready\n'),
  );
  app.get('/metrics', async (_req, reply) => {
    m.inFlight.set(deps.sink.inFlight);
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.text());
  });

  app.post(
    '/v1/events',
    {
      // Authenticate before the body is read: an unauthenticated client cannot make us parse 5 MB.
      onRequest: async (req, reply) => {
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
        if (bodyFormat(req.headers['content-type']) === undefined) {
          m.requests.inc({ status: '415' });
          return reply
            .code(415)
            .send(
              errorBody(
                'UNSUPPORTED_MEDIA_TYPE',
                `Content-Type must be one of ${Object.keys(MEDIA_TYPES).join(', ')} (UTF-8)`,
              ),
            );
        }
      },
    },
    async (req, reply) => handleEvents(req, reply),
  );

  async function handleEvents(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
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
      return answer(
        413,
        errorBody(
          'PAYLOAD_TOO_LARGE',
          `${n} events in one request; at most ${config.maxEventsPerRequest}`,
        ),
      );
    }

    const at = now();
    const events: UsageEvent[] = [];
    const records: OutRecord[] = [];
    const errors: EventError[] = [];
    const kinds = new Set<RejectKind>();
    const seen = new Map<string, number>();
    const reject = (index: number, kind: RejectKind, reasons: Reason[]): void => {
      errors.push({ index, reasons });
      kinds.add(kind);
      m.rejected.inc({ reason: kind });
    };
    parsed.items.forEach((item, index) => {
      if ('reasons' in item)
        return reject(index, item.unreadable ? 'malformed' : 'invalid', item.reasons);
      const lossy = lossyQuantities(item.input);
      const v = validateUsageEvent(item.input, {
        now: at,
        maxPastMs: config.maxEventAgeMs,
        maxFutureMs: config.maxEventSkewMs,
        newId,
        defaultSource: `ingest/${principal.tenant}`,
        defaultActor: `key:${principal.keyId}`,
      });
      if (lossy) {
        // The number was kept as typed; say why once, not also "must be a decimal string".
        const fields = new Set(lossy.map((r) => r.field));
        const others = v.ok ? [] : v.reasons.filter((r) => !fields.has(r.field));
        return reject(index, 'invalid', [...lossy, ...others]);
      }
      if (!v.ok) return reject(index, 'invalid', v.reasons);
      const ev = v.event;
      const ref = ev.productCode ?? ev.licenseArn!;
      const plan = deps.plans.resolveProduct(ref);
      if (!plan)
        return reject(index, 'unknown_product', [
          {
            field: ev.productCode ? 'productCode' : 'licenseArn',
            message: 'is not a product of any metering plan',
          },
        ]);
      if (
        ev.productCode !== null &&
        ev.licenseArn !== null &&
        deps.plans.resolveProduct(ev.licenseArn)?.productCode !== plan.productCode
      ) {
        return reject(index, 'unknown_product', [
          { field: 'licenseArn', message: 'names another product than productCode' },
        ]);
      }
      if (principal.products !== 'all' && !principal.products.has(plan.productCode)) {
        return reject(index, 'forbidden', [
          { field: 'productCode', message: 'this API key may not send usage for this product' },
        ]);
      }
      if (
        plan.customerIdStyle === 'customerAwsAccountId'
          ? ev.customerAwsAccountId === null
          : ev.customerIdentifier === null
      ) {
        return reject(index, 'invalid', [
          {
            field: plan.customerIdStyle,
            message: `is required: the product identifies customers by ${plan.customerIdStyle}`,
          },
        ]);
      }
      if (!deps.plans.hasDimension(plan.productCode, ev.dimension, new Date(ev.timestamp))) {
        return reject(index, 'unknown_dimension', [
          {
            field: 'dimension',
            message: 'is not a dimension of the product plan in force at the event timestamp',
          },
        ]);
      }
      const prev = seen.get(ev.id);
      if (prev !== undefined)
        return reject(index, 'invalid', [
          { field: 'id', message: `duplicates the id of event ${prev} of this request` },
        ]);
      seen.set(ev.id, index);
      const normalized: UsageEvent = {
        ...ev,
        productCode: plan.productCode,
        licenseArn: ev.licenseArn ?? plan.licenseArn ?? null,
      };
      const value = deps.encode(normalized);
      if (value.length > config.maxEventBytes) {
        return reject(index, 'invalid', [
          {
            field: '',
            message: `encodes to ${value.length} bytes; at most ${config.maxEventBytes}`,
          },
        ]);
      }
      events.push(normalized);
      records.push({
        key: usageEventKey(normalized),
        value,
        headers: { [KIND_HEADER]: MESSAGE_KINDS.usage },
      });
    });

    if (errors.length > 0) {
      // Nothing of a batch with a bad event is produced: the client fixes and re-sends all of it.
      const status = kinds.has('forbidden') ? 403 : kinds.has('malformed') ? 400 : 422;
      const code =
        status === 403 ? 'FORBIDDEN' : status === 400 ? 'BAD_REQUEST' : 'VALIDATION_FAILED';
      return answer(
        status,
        errorBody(code, `${errors.length} of ${n} events rejected; nothing was accepted`, {
          rejected: errors.length,
          errors,
        }),
      );
    }

    const ids = events.map((e) => e.id);
    if (!deps.sink.reserve(events.length)) {
      m.rejected.inc({ reason: 'overloaded' }, events.length);
      reply.header('retry-after', String(config.retryAfterSeconds));
      return answer(
        503,
        errorBody('OVERLOADED', 'too many events in flight; retry later with the same ids', {
          ids,
        }),
      );
    }
    try {
      await deps.sink.send(records);
    } catch (err) {
      m.rejected.inc({ reason: 'unavailable' }, events.length);
      req.log.warn({ err, events: events.length }, 'produce failed');
      reply.header('retry-after', String(config.retryAfterSeconds));
      return answer(
        503,
        errorBody('KAFKA_UNAVAILABLE', 'events not saved; retry later with the same ids', { ids }),
      );
    } finally {
      deps.sink.release(events.length);
    }
    m.accepted.inc(events.length);
    m.ackSeconds.observe(Number(process.hrtime.bigint() - received) / 1e9);
    return answer(202, { accepted: events.length, ids });
  }

  return app;
}
