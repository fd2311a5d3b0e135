import type { FastifyInstance } from 'fastify';
import { isMeterstreamError, toMeterstreamError } from '@meterstream/errors';
import { errorPage } from '../views/error.js';
import { isApi, sendHtml, type RouteContext } from './context.js';

/** What a user is told about a failure: the reason for a 4xx, reassurance without details for a 5xx. */
export function publicMessage(status: number, retriable: boolean, message: string): string {
  if (status < 500) return message;
  return retriable
    ? 'A dependency is unavailable right now; nothing was lost. Please try again in a moment.'
    : 'Something went wrong. Please try again.';
}

/** Not-found pages and the error handler (JSON for the API, plain text otherwise). */
export function registerErrorHandlers(app: FastifyInstance, ctx: RouteContext): void {
  app.setNotFoundHandler((req, reply) => {
    const s = ctx.sessionOf(req);
    if (isApi(req) || !s) return reply.status(404).type('text/plain').send('not found\n');
    return sendHtml(
      reply,
      errorPage(ctx.pageContext(req, reply, s.user), 404, 'This page does not exist.'),
      404,
    );
  });

  app.setErrorHandler((err, req, reply) => {
    const e = isMeterstreamError(err) ? err : toMeterstreamError(err);
    const status = (err as { statusCode?: number }).statusCode ?? e.httpStatus;
    if (status >= 500) {
      ctx.log.error({ err, url: req.url }, 'request failed');
      if (req.url.includes('/submissions')) ctx.metrics.submissions.inc({ outcome: 'failed' });
    }
    const message = publicMessage(status, e.retriable, e.message);
    if (isApi(req))
      return reply.status(status).send({ error: message, code: e.code, retriable: e.retriable });
    return reply.status(status).type('text/plain').send(`${message}\n`);
  });
}
