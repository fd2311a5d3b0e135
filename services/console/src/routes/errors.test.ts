import Fastify, { type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import { afterEach, describe, expect, it } from 'vitest';
import { MeterstreamError } from '@meterstream/errors';
import { Metrics } from '@meterstream/observability';
import { loadPlans } from '@meterstream/plans';
import { testLogger } from '@meterstream/testing';
import { FakeGateway, MemoryData } from '../memory.js';
import { consoleMetrics } from '../metrics.js';
import { createRouteContext } from './context.js';
import { publicMessage, registerErrorHandlers } from './errors.js';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
});

async function appThrowing(err: Error) {
  const metrics = consoleMetrics(new Metrics('meterstream_console', { defaultMetrics: false }));
  const ctx = createRouteContext(
    {
      users: [],
      catalog: await loadPlans(new URL('../../../../plans', import.meta.url).pathname),
      data: new MemoryData(),
      gateway: new FakeGateway(),
      logger: testLogger(),
      metrics: metrics.metrics,
      sessionSecret: 'x'.repeat(40),
      secureCookies: false,
    },
    metrics,
  );
  app = Fastify();
  await app.register(cookie, { secret: 'x'.repeat(40) });
  app.get('/api/listings/p/submissions', async () => {
    throw err;
  });
  app.get('/page', async () => {
    throw err;
  });
  registerErrorHandlers(app, ctx);
  return { app, metrics };
}

describe('error handling', () => {
  it('tells the reason of a 4xx, and only reassurance for a 5xx', () => {
    expect(publicMessage(422, false, 'bad line')).toBe('bad line');
    expect(publicMessage(503, true, 'broker 10.0.0.1 down')).toMatch(/nothing was lost/);
    expect(publicMessage(500, false, 'secret detail')).toBe(
      'Something went wrong. Please try again.',
    );
  });

  it('answers the API in JSON with code and retriable, pages in text, and counts failed submissions', async () => {
    const { app, metrics } = await appThrowing(
      new MeterstreamError('CLICKHOUSE_UNAVAILABLE', 'connect ECONNREFUSED 10.1.2.3:8123'),
    );
    const api = await app.inject({ method: 'GET', url: '/api/listings/p/submissions' });
    expect(api.statusCode).toBe(503);
    expect(api.json()).toEqual({
      error: expect.stringContaining('nothing was lost') as unknown,
      code: 'CLICKHOUSE_UNAVAILABLE',
      retriable: true,
    });
    expect(api.body).not.toContain('10.1.2.3');
    const page = await app.inject({ method: 'GET', url: '/page' });
    expect(page.statusCode).toBe(503);
    expect(page.headers['content-type']).toMatch(/text\/plain/);
    expect((await metrics.submissions.get()).values).toEqual([
      expect.objectContaining({ labels: { outcome: 'failed' }, value: 1 }),
    ]);
  });

  it('answers an unknown path 404 in plain text to someone not signed in', async () => {
    const { app } = await appThrowing(new Error('unused'));
    const res = await app.inject({ method: 'GET', url: '/nowhere' });
    expect(res.statusCode).toBe(404);
    expect(res.body).toBe('not found\n');
  });
});
