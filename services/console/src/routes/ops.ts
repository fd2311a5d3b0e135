import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from './context.js';

const staticFile = (name: string): string =>
  readFileSync(new URL(`../../public/${name}`, import.meta.url), 'utf8');

/** /healthz, /readyz (ClickHouse and the submission path answer), /metrics and the static assets. */
export function registerOpsRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { data, gateway, metrics } = ctx.deps;
  const assets = { css: staticFile('app.css'), js: staticFile('app.js') };
  app.get('/healthz', async (_req, reply) => reply.type('text/plain').send('ok\n'));
  app.get('/readyz', async (_req, reply) => {
    const [dataOk, gwOk] = await Promise.all([
      data.ping().catch(() => false),
      gateway.ready().catch(() => false),
    ]);
    return dataOk && gwOk
      ? reply.type('text/plain').send('ready\n')
      : reply.status(503).type('text/plain').send('not ready\n');
  });
  app.get('/metrics', async (_req, reply) =>
    reply.header('content-type', metrics.registry.contentType).send(await metrics.text()),
  );
  app.get('/static/app.css', async (_req, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send(assets.css),
  );
  app.get('/static/app.js', async (_req, reply) =>
    reply
      .type('text/javascript; charset=utf-8')
      .header('cache-control', 'no-cache')
      .send(assets.js),
  );
}
