import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { MeterstreamError } from '@meterstream/errors';
import type { IngestMetrics } from './metrics.js';
import { MEDIA_TYPES } from './parse.js';

/** The JSON body of every error answer: `{ error: { code, message }, ...extra }`. */
export function errorBody(
  code: MeterstreamError['code'],
  message: string,
  extra: Record<string, unknown> = {},
) {
  return { error: { code, message }, ...extra };
}

/** Answers 415 naming the accepted media types. */
export function unsupportedMediaType(m: IngestMetrics, reply: FastifyReply): FastifyReply {
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

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

/**
 * Answers what Node rejects before Fastify sees a request: a request slower than
 * `requestTimeoutMs` (408), headers too large (431), anything unparseable (400); then closes.
 */
export function clientErrorHandler(m: IngestMetrics, requestTimeoutMs: number) {
  return (err: Error & { code?: string }, socket: Socket): void => {
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
  };
}

/** Maps what Fastify throws (body too large, bad media type, other 4xx, bugs) to error answers. */
export function errorHandler(m: IngestMetrics, bodyLimitBytes: number) {
  return (
    err: Pick<FastifyError, 'message'> & { code?: string; statusCode?: number },
    req: FastifyRequest,
    reply: FastifyReply,
  ): FastifyReply => {
    const status = err.statusCode ?? 500;
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) {
      m.requests.inc({ status: '413' });
      return reply
        .code(413)
        .send(errorBody('PAYLOAD_TOO_LARGE', `body larger than ${bodyLimitBytes} bytes`));
    }
    if (
      err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ||
      err.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' ||
      status === 415
    ) {
      return unsupportedMediaType(m, reply);
    }
    if (status >= 400 && status < 500) {
      m.requests.inc({ status: String(status) });
      return reply.code(status).send(errorBody('BAD_REQUEST', err.message));
    }
    req.log.error({ err }, 'request failed');
    m.requests.inc({ status: '500' });
    return reply.code(500).send(errorBody('INTERNAL', 'internal error'));
  };
}
