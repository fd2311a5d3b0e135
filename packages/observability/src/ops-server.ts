import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';

/** Options for {@link startOpsServer}. */
export interface OpsServerOptions {
  port: number;
  host?: string;
  metrics: Metrics;
  logger: Logger;
  /** Whether the process can do its work now (dependencies reachable). */
  ready: () => Promise<boolean> | boolean;
  /**
   * The service's own endpoints on the same port (the submitter's control API), asked for any
   * other path: returns true when it answered, false to leave the request to the 404.
   */
  routes?: (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean> | boolean;
}

/** A running ops server; `close()` is idempotent. */
export interface OpsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `/metrics`, `/healthz` (the process is alive) and `/readyz` (its dependencies answer)
 * for services that have no HTTP API of their own, and the few `routes` such a service adds.
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    void (async () => {
      try {
        if (path === '/metrics')
          return reply(200, await options.metrics.text(), options.metrics.registry.contentType);
        if (path === '/healthz') return reply(200, 'ok\n');
        if (path === '/readyz')
          return (await options.ready()) ? reply(200, 'ready\n') : reply(503, 'not ready\n');
        if (options.routes && (await options.routes(req, res, path ?? '/'))) return;
        return reply(404, 'not found\n');
      } catch (err) {
        options.logger.warn({ err }, 'ops endpoint failed');
        return reply(500, 'error\n');
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  options.logger.info({ port }, 'ops server listening');
  let closing: Promise<void> | undefined;
  return {
    port,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}
