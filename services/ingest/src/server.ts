import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { v7 as uuidv7 } from 'uuid';
import type { Logger } from '@meterstream/observability';
import { authenticate, handleEvents, type EventsConfig, type EventsDeps } from './events.js';
import { clientErrorHandler, errorHandler } from './http-errors.js';
import { ingestMetrics } from './metrics.js';
import { MEDIA_TYPES } from './parse.js';

export type { EventError } from './validate.js';

/** Limits and policies of the HTTP API. */
export interface ServerConfig extends EventsConfig {
  bodyLimitBytes: number;
  /**
   * Longest time to receive a whole request (headers and body); a slower client gets 408 and its
   * connection is closed, so trickling clients cannot hold connections and memory. Default 10 s.
   */
  requestTimeoutMs?: number;
}

/** Default of {@link ServerConfig.requestTimeoutMs}. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** Everything {@link buildServer} needs; tests pass in-process fakes only for plans and keys. */
export interface ServerDeps extends Omit<EventsDeps, 'config' | 'now' | 'newId'> {
  logger: Logger;
  config: ServerConfig;
  /** Kafka and the schema registry answer (for /readyz). */
  ready: () => Promise<boolean> | boolean;
  /** Epoch ms; a parameter for tests. */
  now?: () => number;
  newId?: () => string;
}

/** The Fastify instance with its limits, timeouts and error answers, and no routes yet. */
function createApp(deps: ServerDeps): FastifyInstance {
  const { config, logger } = deps;
  const m = ingestMetrics(deps.metrics);
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
    clientErrorHandler: clientErrorHandler(m, requestTimeoutMs),
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
  app.setErrorHandler(errorHandler(m, config.bodyLimitBytes));
  return app;
}

/**
 * The ingest HTTP API as a Fastify instance (not listening): `POST /v1/events`, `/metrics`,
 * `/healthz`, `/readyz`. `start.ts` wires it to Kafka; tests use it in-process.
 */
export function buildServer(deps: ServerDeps): FastifyInstance {
  const app = createApp(deps);
  const m = ingestMetrics(deps.metrics);
  app.get('/healthz', async () => 'ok\n');
  app.get('/readyz', async (_req, reply) =>
    (await deps.ready()) ? 'ready\n' : reply.code(503).send('not ready\n'),
  );
  app.get('/metrics', async (_req, reply) => {
    m.inFlight.set(deps.sink.inFlight);
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.text());
  });
  const events = {
    ...deps,
    now: deps.now ?? Date.now,
    newId: deps.newId ?? (() => uuidv7()),
  };
  app.post('/v1/events', { onRequest: authenticate(events) }, handleEvents(events));
  return app;
}
