import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { Metrics, createLogger, type Logger } from '@meterstream/observability';
import { AwsError } from './aws-error.js';
import { systemClock, type Clock } from './clock.js';
import { EmulatorCore, type CallContext } from './core.js';
import { StateFile, emptyState, faultsSchema } from './state.js';

/** One AWS API exchange as the emulator saw it (for contract tests and debugging). */
export interface Exchange {
  target: string;
  operation: string;
  request: unknown;
  status: number;
  response: unknown;
  errorType?: string | undefined;
}

/** Options of {@link startEmulator}. */
export interface EmulatorOptions {
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** Where state persists; undefined keeps it in memory only. */
  stateFile?: string | undefined;
  clock?: Clock;
  seed?: number;
  cloudTrailDelayMs?: number;
  accountId?: string;
  logger?: Logger;
  metrics?: Metrics;
  /** Called with every AWS API exchange. */
  onExchange?: (exchange: Exchange) => void;
}

/** A running emulator; `close()` flushes the state file and is idempotent. */
export interface RunningEmulator {
  url: string;
  port: number;
  core: EmulatorCore;
  metrics: Metrics;
  /** Writes pending state now. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

interface Operation {
  service: 'aws-marketplace' | 'cloudtrail';
  name: string;
}

/** X-Amz-Target → operation. CloudTrail answers both its short and its fully qualified prefix. */
const TARGETS: Record<string, Operation> = {
  'AWSMPMeteringService.BatchMeterUsage': { service: 'aws-marketplace', name: 'BatchMeterUsage' },
  'AWSMPMeteringService.MeterUsage': { service: 'aws-marketplace', name: 'MeterUsage' },
  'AWSMPEntitlementService.GetEntitlements': {
    service: 'aws-marketplace',
    name: 'GetEntitlements',
  },
  'CloudTrail_20131101.LookupEvents': { service: 'cloudtrail', name: 'LookupEvents' },
  'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents': {
    service: 'cloudtrail',
    name: 'LookupEvents',
  },
};

const AMZ_JSON = 'application/x-amz-json-1.1';
const CREDENTIAL_RE = /Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request/;

const productBody = z
  .object({
    dimensions: z.array(z.string().min(1).max(255)).min(1),
    licenseArn: z.boolean().default(false),
  })
  .strict();
const productCode = z.string().regex(/^[-a-zA-Z0-9/=:_.@]{1,255}$/, 'not a valid product code');
const accountId = z.string().regex(/^[0-9]{1,255}$/, 'must be digits');
const subscriptionBody = z
  .object({
    productCode,
    customerIdentifier: z.string().min(1).max(255).optional(),
    customerAwsAccountId: accountId.optional(),
    licenseArn: z.string().startsWith('arn:aws').optional(),
  })
  .strict()
  .refine((s) => s.customerIdentifier !== undefined || s.customerAwsAccountId !== undefined, {
    message: 'customerIdentifier or customerAwsAccountId is required',
  });
const entitlementBody = z
  .object({
    productCode,
    dimension: z.string().min(1),
    customerIdentifier: z.string().min(1).optional(),
    customerAwsAccountId: accountId.optional(),
    licenseArn: z.string().startsWith('arn:aws').optional(),
    value: z
      .object({
        integerValue: z.number().int().optional(),
        doubleValue: z.number().optional(),
        booleanValue: z.boolean().optional(),
        stringValue: z.string().optional(),
      })
      .strict()
      .refine((v) => Object.values(v).filter((x) => x !== undefined).length === 1, {
        message: 'exactly one of integerValue, doubleValue, booleanValue, stringValue',
      }),
    expirationDate: z.iso.datetime().optional(),
  })
  .strict()
  .refine((s) => s.customerIdentifier !== undefined || s.customerAwsAccountId !== undefined, {
    message: 'customerIdentifier or customerAwsAccountId is required',
  });
const clockBody = z.object({ offsetMs: z.number().int() }).strict();

function zodError(err: z.ZodError): { error: string; issues: { path: string; message: string }[] } {
  return {
    error: 'invalid request body',
    issues: err.issues.map((i) => ({
      path: i.path.map(String).join('.') || '(root)',
      message: i.message,
    })),
  };
}

/**
 * Starts the emulator: the AWS JSON 1.1 endpoint on `POST /` and the admin API under `/_admin/`.
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const logger = options.logger ?? createLogger('aws-emulator', { level: 'silent' });
  const metrics = options.metrics ?? new Metrics('aws_emulator', { defaultMetrics: false });
  const seed = options.seed ?? 1;
  const stateFilePath = options.stateFile ? resolve(options.stateFile) : undefined;
  const loaded = await StateFile.load(stateFilePath);
  // eslint-disable-next-line prefer-const -- assigned after the core, which needs the persister.
  let persister: StateFile;
  const core = new EmulatorCore(
    loaded ?? emptyState(seed),
    options.clock ?? systemClock,
    {
      accountId: options.accountId ?? '111122223333',
      cloudTrailDelayMs: options.cloudTrailDelayMs ?? 2000,
      seed,
    },
    () => persister.changed(),
  );
  persister = new StateFile(
    stateFilePath,
    () => core.state,
    25,
    (err) => logger.error({ err }, 'writing the state file failed'),
  );
  if (loaded)
    logger.info({ stateFile: stateFilePath, billing: loaded.billing.length }, 'state loaded');

  const requests = metrics.counter('requests_total', 'AWS API requests by operation and outcome', [
    'operation',
    'outcome',
  ]);
  const records = metrics.counter('records_total', 'BatchMeterUsage records by result status', [
    'status',
  ]);
  const faultsInjected = metrics.counter('faults_total', 'Injected faults by kind', ['kind']);

  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  app.addContentTypeParser(AMZ_JSON, { parseAs: 'string' }, (_req, body, done) => {
    try {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      done(null, text.trim() === '' ? {} : (JSON.parse(text) as unknown));
    } catch {
      done(
        new AwsError(
          'SerializationException',
          'Start of structure or map found where not expected',
        ),
        undefined,
      );
    }
  });

  // Admin calls like `POST /_admin/reset` often carry a JSON content type and no body.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    try {
      done(null, text.trim() === '' ? undefined : (JSON.parse(text) as unknown));
    } catch {
      done(
        Object.assign(new Error('request body is not valid JSON'), { statusCode: 400 }),
        undefined,
      );
    }
  });

  const sendAwsError = (reply: FastifyReply, err: AwsError): FastifyReply =>
    reply
      .status(err.status)
      .header('content-type', AMZ_JSON)
      .header('x-amzn-ErrorType', err.type)
      .send({ __type: err.type, message: err.message });

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

  const handleAws = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
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
      exchange.status = status;
      exchange.response = response;
      exchange.errorType = errorType;
      requests.inc({ operation: exchange.operation, outcome: errorType ?? 'ok' });
      options.onExchange?.(exchange);
    };
    const requestId = randomUUID();
    reply.header('x-amzn-RequestId', requestId);
    try {
      if (!op) throw new AwsError('UnknownOperationException', `Unknown operation ${target}`);
      const auth = String(req.headers.authorization ?? '');
      const cred = CREDENTIAL_RE.exec(auth);
      if (!auth)
        throw new AwsError(
          'MissingAuthenticationTokenException',
          'Missing Authentication Token',
          403,
        );
      if (!cred)
        throw new AwsError(
          'IncompleteSignatureException',
          'Authorization header is not SigV4',
          400,
        );
      if (cred[4] !== op.service) {
        throw new AwsError(
          'InvalidSignatureException',
          `Credential should be scoped to correct service: '${op.service}'.`,
          403,
        );
      }
      if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) {
        throw new AwsError('SerializationException', 'Request body must be a JSON object');
      }
      const ctx: CallContext = {
        accessKeyId: cred[1] ?? '',
        region: cred[3] ?? 'us-east-1',
        sourceIp: req.ip,
        userAgent: String(req.headers['user-agent'] ?? ''),
        requestId,
      };
      const f = core.faults;
      if (f.latencyMs > 0) await new Promise((r) => setTimeout(r, f.latencyMs));
      const input = req.body as Record<string, unknown>;
      let output: unknown;
      let drop = false;
      switch (op.name) {
        case 'BatchMeterUsage':
        case 'MeterUsage': {
          core.preCallFaults('metering');
          const res =
            op.name === 'BatchMeterUsage'
              ? core.batchMeterUsage(input, ctx)
              : core.meterUsage(input, ctx);
          output = res.output;
          drop = res.dropResponse;
          if (op.name === 'BatchMeterUsage') {
            const out = res.output as {
              Results: { Status: string }[];
              UnprocessedRecords: unknown[];
            };
            for (const r of out.Results) records.inc({ status: r.Status });
            if (out.UnprocessedRecords.length > 0) {
              records.inc({ status: 'Unprocessed' }, out.UnprocessedRecords.length);
              faultsInjected.inc({ kind: 'unprocessed' }, out.UnprocessedRecords.length);
            }
          }
          break;
        }
        case 'GetEntitlements':
          core.preCallFaults('entitlement');
          output = core.getEntitlements(input);
          break;
        default:
          core.preCallFaults('lookup');
          output = core.lookupEvents(input);
      }
      if (drop) {
        // Applied and logged, but the caller never hears back: it must retry the identical request.
        faultsInjected.inc({ kind: 'dropResponse' });
        finish(0, undefined, 'DroppedResponse');
        req.raw.socket.destroy();
        return reply.hijack();
      }
      finish(200, output);
      return reply.status(200).header('content-type', AMZ_JSON).send(output);
    } catch (err) {
      if (!(err instanceof AwsError)) throw err;
      if (['ThrottlingException', 'InternalServiceErrorException'].includes(err.type)) {
        faultsInjected.inc({ kind: err.type });
      }
      finish(err.status, { __type: err.type, message: err.message }, err.type);
      return sendAwsError(reply, err);
    }
  };

  app.post('/', handleAws);

  // ---- admin API --------------------------------------------------------------------------------
  const parse = <T>(schema: z.ZodType<T>, body: unknown, reply: FastifyReply): T | undefined => {
    const r = schema.safeParse(body ?? {});
    if (r.success) return r.data;
    void reply.status(400).send(zodError(r.error));
    return undefined;
  };

  app.get('/_admin/health', async () => ({
    status: 'ok',
    now: new Date(core.now()).toISOString(),
  }));
  app.get('/metrics', async (_req, reply) =>
    reply.header('content-type', metrics.registry.contentType).send(await metrics.text()),
  );
  app.put<{ Params: { productCode: string } }>(
    '/_admin/products/:productCode',
    async (req, reply) => {
      const code = productCode.safeParse(req.params.productCode);
      if (!code.success) return reply.status(400).send(zodError(code.error));
      const body = parse(productBody, req.body, reply);
      if (!body) return reply;
      return core.putProduct({ productCode: code.data, ...body });
    },
  );
  app.get('/_admin/products', async () => ({ products: Object.values(core.state.products) }));
  app.post('/_admin/subscriptions', async (req, reply) => {
    const body = parse(subscriptionBody, req.body, reply);
    if (!body) return reply;
    if (!core.state.products[body.productCode]) {
      return reply.status(404).send({ error: `product ${body.productCode} is not registered` });
    }
    return reply.status(201).send(core.addSubscription(body));
  });
  app.get('/_admin/subscriptions', async () => ({ subscriptions: core.state.subscriptions }));
  app.post('/_admin/entitlements', async (req, reply) => {
    const body = parse(entitlementBody, req.body, reply);
    if (!body) return reply;
    const { value, ...rest } = body;
    return reply.status(201).send(
      core.addEntitlement({
        ...rest,
        value: {
          IntegerValue: value.integerValue,
          DoubleValue: value.doubleValue,
          BooleanValue: value.booleanValue,
          StringValue: value.stringValue,
        },
      }),
    );
  });
  app.get<{ Querystring: { productCode?: string } }>('/_admin/billing', async (req) => ({
    records: core.state.billing.filter(
      (b) => !req.query.productCode || b.productCode === req.query.productCode,
    ),
  }));
  app.get('/_admin/cloudtrail', async () => {
    const now = core.now();
    return { events: core.state.cloudTrail.map((e) => ({ ...e, delivered: e.deliverAt <= now })) };
  });
  app.get('/_admin/faults', async () => core.faults);
  app.post('/_admin/faults', async (req, reply) => {
    const r = faultsSchema.safeParse(req.body ?? {});
    if (!r.success) return reply.status(400).send(zodError(r.error));
    return core.setFaults(r.data);
  });
  app.get('/_admin/clock', async () => ({
    now: new Date(core.now()).toISOString(),
    offsetMs: core.state.clockOffsetMs,
  }));
  app.post('/_admin/clock', async (req, reply) => {
    const body = parse(clockBody, req.body, reply);
    if (!body) return reply;
    core.setClockOffset(body.offsetMs);
    return { now: new Date(core.now()).toISOString(), offsetMs: body.offsetMs };
  });
  app.post('/_admin/reset', async () => {
    core.reset();
    return { status: 'reset' };
  });

  await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://${options.host && options.host !== '0.0.0.0' ? options.host : '127.0.0.1'}:${port}`;
  logger.info({ url, stateFile: stateFilePath }, 'aws emulator listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    core,
    metrics,
    flush: () => persister.flush(),
    close: () =>
      (closing ??= (async () => {
        await app.close();
        await persister.flush();
      })()),
  };
}
