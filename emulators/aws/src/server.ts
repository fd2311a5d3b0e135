import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger, Metrics } from '@meterstream/observability';
import { registerAdminRoutes } from './admin.js';
import { awsHandler, type Exchange } from './api.js';
import { AwsError } from './aws-error.js';
import type { EmulatorCore } from './core.js';
import { emulatorMetrics } from './metrics.js';
import { AMZ_JSON, AMZ_JSON_10, sendAwsError } from './protocol.js';

export type { Exchange } from './api.js';

/** What {@link buildServer} routes to. */
export interface ServerDeps {
  core: EmulatorCore;
  logger: Logger;
  metrics: Metrics;
  /** Called with every AWS API exchange. */
  onExchange?: ((exchange: Exchange) => void) | undefined;
}

/** Parses a JSON body; an empty one is `empty`, a malformed one fails with `onError()`. */
function jsonParser(
  empty: unknown,
  onError: () => Error,
): (
  req: unknown,
  body: string | Buffer,
  done: (err: Error | null, body?: unknown) => void,
) => void {
  return (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    try {
      done(null, text.trim() === '' ? empty : (JSON.parse(text) as unknown));
    } catch {
      done(onError(), undefined);
    }
  };
}

/** AWS JSON 1.1 and 1.0 bodies, and the admin API's JSON bodies (often a JSON type and no body). */
function addParsers(app: FastifyInstance): void {
  for (const type of [AMZ_JSON, AMZ_JSON_10]) {
    app.addContentTypeParser(
      type,
      { parseAs: 'string' },
      jsonParser(
        {},
        () =>
          new AwsError(
            'SerializationException',
            'Start of structure or map found where not expected',
          ),
      ),
    );
  }
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    jsonParser(undefined, () =>
      Object.assign(new Error('request body is not valid JSON'), { statusCode: 400 }),
    ),
  );
}

/**
 * The emulator's HTTP server: the AWS JSON 1.1 endpoint on `POST /` (every operation, told apart
 * by `X-Amz-Target`), Prometheus metrics on `GET /metrics` and the admin API under `/_admin/`.
 */
export function buildServer(deps: ServerDeps): FastifyInstance {
  const { core, logger, metrics } = deps;
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  addParsers(app);
  app.setErrorHandler((err: unknown, req, reply) => {
    if (err instanceof AwsError) return sendAwsError(reply, err);
    const e = err as { statusCode?: number; message?: string };
    if (req.url.startsWith('/_admin/')) {
      return reply.status(e.statusCode ?? 500).send({ error: e.message ?? 'error' });
    }
    if (e.statusCode === 413)
      return sendAwsError(reply, new AwsError('ValidationException', 'Request is too large', 413));
    logger.error({ err }, 'unhandled error');
    return sendAwsError(reply, new AwsError('InternalFailure', 'internal failure', 500));
  });
  app.post('/', awsHandler(core, emulatorMetrics(metrics), deps.onExchange));
  app.get('/metrics', async (_req, reply) =>
    reply.header('content-type', metrics.registry.contentType).send(await metrics.text()),
  );
  registerAdminRoutes(app, core);
  return app;
}
