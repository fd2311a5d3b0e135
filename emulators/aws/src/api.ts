import { randomUUID } from 'node:crypto';
import { sleep } from '@meterstream/runtime';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AwsError } from './aws-error.js';
import type { EmulatorCore } from './core.js';
import type { EmulatorMetrics } from './metrics.js';
import {
  TARGETS,
  callContext,
  isAgreementOperation,
  sendAwsError,
  type Operation,
} from './protocol.js';
import { QuotaExceeded } from './services/quota.js';
import type { CallContext, Json } from './wire.js';

/** One AWS API exchange as the emulator saw it (for contract tests and debugging). */
export interface Exchange {
  target: string;
  operation: string;
  request: unknown;
  status: number;
  response: unknown;
  errorType?: string | undefined;
}

/** What an applied call answers, and whether the answer is lost on the way back. */
interface Answer {
  output: unknown;
  drop: boolean;
}

/** Counts BatchMeterUsage's results by status, and its unprocessed records as injected faults. */
function countRecords(m: EmulatorMetrics, output: Json): void {
  const out = output as { Results: { Status: string }[]; UnprocessedRecords: unknown[] };
  for (const r of out.Results) m.records.inc({ status: r.Status });
  if (out.UnprocessedRecords.length > 0) {
    m.records.inc({ status: 'Unprocessed' }, out.UnprocessedRecords.length);
    m.faultsInjected.inc({ kind: 'unprocessed' }, out.UnprocessedRecords.length);
  }
}

/** Draws the operation's pre-call faults, then applies it to the core. */
function invoke(
  core: EmulatorCore,
  m: EmulatorMetrics,
  op: Operation,
  input: Json,
  ctx: CallContext,
): Answer {
  if (isAgreementOperation(op.name)) return { output: core.agreement(op.name, input), drop: false };
  switch (op.name) {
    case 'BatchMeterUsage': {
      core.admitMetering(op.name, ctx);
      core.preCallFaults('metering');
      const res = core.batchMeterUsage(input, ctx);
      countRecords(m, res.output);
      return { output: res.output, drop: res.dropResponse };
    }
    case 'MeterUsage': {
      core.admitMetering(op.name, ctx);
      core.preCallFaults('metering');
      const res = core.meterUsage(input, ctx);
      return { output: res.output, drop: res.dropResponse };
    }
    case 'ResolveCustomer':
      return { output: core.resolveCustomer(input), drop: false };
    case 'GetEntitlements':
      core.preCallFaults('entitlement');
      return { output: core.getEntitlements(input), drop: false };
    case 'LookupEvents':
      core.preCallFaults('lookup');
      return { output: core.lookupEvents(input), drop: false };
  }
}

/** The handler of `POST /`: the AWS JSON 1.1 endpoint of every emulated operation. */
export function awsHandler(
  core: EmulatorCore,
  m: EmulatorMetrics,
  onExchange: ((exchange: Exchange) => void) | undefined,
): (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
  return async (req, reply) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const op = TARGETS[target];
    const exchange: Exchange = {
      target,
      operation: op?.name ?? 'unknown',
      request: req.body,
      status: 0,
      response: undefined,
    };
    const finish = (status: number, response: unknown, errorType?: string): void => {
      Object.assign(exchange, { status, response, errorType });
      m.requests.inc({ operation: exchange.operation, outcome: errorType ?? 'ok' });
      onExchange?.(exchange);
    };
    const requestId = randomUUID();
    reply.header('x-amzn-RequestId', requestId);
    try {
      if (!op) throw new AwsError('UnknownOperationException', `Unknown operation ${target}`);
      const ctx = callContext(req, op, requestId);
      const { latencyMs } = core.faults;
      if (latencyMs > 0) await sleep(latencyMs);
      const { output, drop } = invoke(core, m, op, req.body as Json, ctx);
      if (drop) {
        // Applied and logged, but the caller never hears back: it must retry the identical request.
        m.faultsInjected.inc({ kind: 'dropResponse' });
        finish(0, undefined, 'DroppedResponse');
        req.raw.socket.destroy();
        return reply.hijack();
      }
      finish(200, output);
      return reply.status(200).header('content-type', op.contentType).send(output);
    } catch (err) {
      if (!(err instanceof AwsError)) throw err;
      if (err instanceof QuotaExceeded) m.quotaThrottled.inc({ operation: exchange.operation });
      else if (['ThrottlingException', 'InternalServiceErrorException'].includes(err.type)) {
        m.faultsInjected.inc({ kind: err.type });
      }
      finish(err.status, { __type: err.type, message: err.message }, err.type);
      return sendAwsError(reply, err, op?.contentType);
    }
  };
}
