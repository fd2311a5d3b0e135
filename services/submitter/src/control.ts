import type { IncomingMessage, ServerResponse } from 'node:http';
import { toMeterstreamError } from '@meterstream/errors';
import type { Logger } from '@meterstream/observability';
import type { LedgerRecord } from './ledger.js';
import type { RunInfo, RunQueue } from './runs.js';

/** What the control API needs. */
export interface ControlDeps {
  runs: Pick<RunQueue, 'schedule' | 'get'>;
  /** The current records a run wrote. */
  ledgerByRun: (runId: string) => Promise<LedgerRecord[]>;
  /** True once the submitter is closing: no new run is taken. */
  closed: () => boolean;
  logger: Logger;
}

/** A record as `GET /v1/runs/<id>` shows it. */
function recordView(r: LedgerRecord): Record<string, unknown> {
  return {
    productCode: r.productCode,
    customer: r.customer,
    dimension: r.dimension,
    hour: new Date(r.hour).toISOString(),
    quantity: r.quantity,
    state: r.state,
    awsStatus: r.awsStatus,
    reason: r.reason,
    meteringRecordId: r.meteringRecordId,
  };
}

/** The report of a run: its state, and its records once it has ended. */
async function runReport(deps: ControlDeps, info: RunInfo): Promise<Record<string, unknown>> {
  const ended = info.status === 'done' || info.status === 'failed';
  const records = ended ? await deps.ledgerByRun(info.id) : [];
  return { ...info, records: records.map(recordView) };
}

const RUN_PATH = /^\/v1\/runs\/([A-Za-z0-9._-]{1,200})$/;

/**
 * The submitter's control API, served on its ops port (ADR 0001): `POST /v1/run` starts a run now
 * (202 with its id), `GET /v1/runs/<id>` reports it. Answers JSON; returns false for any other
 * request, which the ops server answers.
 */
export function controlRoutes(
  deps: ControlDeps,
): (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean> {
  const reply = (res: ServerResponse, status: number, body: unknown): true => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
    return true;
  };
  const handle = async (req: IncomingMessage, res: ServerResponse, path: string) => {
    if (path === '/v1/run' && req.method === 'POST') {
      if (deps.closed()) return reply(res, 503, { error: 'shutting down' });
      const { info } = deps.runs.schedule('api');
      return reply(res, 202, { runId: info.id, status: info.status, href: `/v1/runs/${info.id}` });
    }
    const m = RUN_PATH.exec(path);
    if (!m || req.method !== 'GET') return false;
    const info = deps.runs.get(m[1] as string);
    if (!info) return reply(res, 404, { error: 'unknown run' });
    return reply(res, 200, await runReport(deps, info));
  };
  return async (req, res, path) => {
    try {
      return await handle(req, res, path);
    } catch (err) {
      deps.logger.warn({ err: toMeterstreamError(err).toJSON() }, 'ops request failed');
      if (!res.headersSent) reply(res, 500, { error: 'internal error' });
      return true;
    }
  };
}
