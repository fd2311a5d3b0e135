import Fastify, { type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import { consoleMetrics } from './metrics.js';
import { registerAuthRoutes } from './routes/auth.js';
import { createRouteContext, type ConsoleDeps, type RouteContext } from './routes/context.js';
import { registerErrorHandlers } from './routes/errors.js';
import { registerHistoryRoutes } from './routes/history.js';
import { registerListingRoutes } from './routes/listings.js';
import { registerOpsRoutes } from './routes/ops.js';
import { registerReadOnlyPages } from './routes/pages.js';
import { registerSubmitRoutes } from './routes/submit.js';
import { SubmissionService } from './submissions.js';

export type { ConsoleDeps } from './routes/context.js';

const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/** Security headers on every answer, and the request counter. */
function addHooks(app: FastifyInstance, ctx: RouteContext): void {
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'same-origin');
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    ctx.metrics.httpRequests.inc({
      route: req.routeOptions.url ?? 'unmatched',
      method: req.method,
      status: String(reply.statusCode),
    });
  });
}

/**
 * Builds the console: sign-in, listings, contracts with the submit → confirm → status flow,
 * metering history (+CSV), plans, audit, users, and /metrics, /healthz, /readyz. It does not
 * listen; {@link startConsole} does.
 */
export async function buildConsole(deps: ConsoleDeps): Promise<FastifyInstance> {
  const metrics = consoleMetrics(deps.metrics);
  const ctx = createRouteContext(deps, metrics);
  const service = new SubmissionService({
    catalog: deps.catalog,
    data: deps.data,
    gateway: deps.gateway,
    metrics,
    log: ctx.log,
    now: ctx.now,
  });
  const app = Fastify({ logger: false, bodyLimit: 256 * 1024, trustProxy: false });
  await app.register(cookie, { secret: deps.sessionSecret });
  await app.register(formbody);
  addHooks(app, ctx);
  registerOpsRoutes(app, ctx);
  registerAuthRoutes(app, ctx);
  registerListingRoutes(app, ctx);
  registerHistoryRoutes(app, ctx);
  registerReadOnlyPages(app, ctx);
  registerSubmitRoutes(app, ctx, service);
  registerErrorHandlers(app, ctx);
  return app;
}
