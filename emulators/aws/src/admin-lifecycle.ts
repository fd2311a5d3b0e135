import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { accountId, licenseArn, parse, productCode, termsSchema } from './admin-body.js';
import { AwsError } from './aws-error.js';
import type { EmulatorCore } from './core.js';

const amendBody = z
  .object({ licenseArn, endTime: z.iso.datetime().optional(), terms: termsSchema.optional() })
  .strict();
const endBody = z
  .object({
    licenseArn,
    status: z.enum(['CANCELLED', 'EXPIRED', 'TERMINATED']).optional(),
    at: z.iso.datetime().optional(),
  })
  .strict();
const deprovisionBody = z.object({ licenseArn, at: z.iso.datetime().optional() }).strict();
const tokenBody = z
  .object({
    licenseArn: licenseArn.optional(),
    productCode: productCode.optional(),
    customerIdentifier: z.string().min(1).optional(),
    customerAwsAccountId: accountId.optional(),
    ttlMs: z.number().int().min(0).optional(),
  })
  .strict()
  .refine(
    (b) =>
      b.licenseArn !== undefined ||
      (b.productCode !== undefined &&
        (b.customerIdentifier !== undefined || b.customerAwsAccountId !== undefined)),
    { message: 'licenseArn, or productCode with customerIdentifier or customerAwsAccountId' },
  );
const quotaBody = z.object({ ratePerSecond: z.number().int().min(0) }).strict();
const targetBody = z
  .object({
    url: z.union([z.url(), z.literal('')]),
    headerName: z.string().min(1).default('x-api-key'),
    secret: z.string().default(''),
  })
  .strict();

/** Runs an admin action; a NotFound from the core answers 404 `{error}`. */
function orNotFound<T>(reply: FastifyReply, action: () => T): T | FastifyReply {
  try {
    return action();
  } catch (err) {
    if (err instanceof AwsError && err.type === 'NotFound') {
      return reply.status(404).send({ error: err.message });
    }
    throw err;
  }
}

/** License lifecycle: amend, end and deprovision a license; each emits its events. */
function licenseRoutes(app: FastifyInstance, core: EmulatorCore): void {
  app.post('/_admin/licenses/amend', async (req, reply) => {
    const body = parse(amendBody, req.body, reply);
    if (!body) return reply;
    const { licenseArn: arn, ...amendment } = body;
    return orNotFound(reply, () => core.amendLicense(arn, amendment));
  });
  app.post('/_admin/licenses/end', async (req, reply) => {
    const body = parse(endBody, req.body, reply);
    if (!body) return reply;
    const { licenseArn: arn, ...ending } = body;
    return orNotFound(reply, () => core.endLicense(arn, ending));
  });
  app.post('/_admin/licenses/deprovision', async (req, reply) => {
    const body = parse(deprovisionBody, req.body, reply);
    if (!body) return reply;
    return orNotFound(reply, () => core.deprovisionLicense(body.licenseArn, body.at));
  });
  app.post('/_admin/registration-tokens', async (req, reply) => {
    const body = parse(tokenBody, req.body, reply);
    if (!body) return reply;
    return orNotFound(reply, () => {
      const t = core.mintRegistrationToken(body);
      return reply.status(201).send({ ...t, expiresAt: new Date(t.expiresAt).toISOString() });
    });
  });
}

/** The request quota and its per-second counts; the lifecycle event target and its deliveries. */
function quotaAndEventRoutes(app: FastifyInstance, core: EmulatorCore): void {
  const quotaView = (account?: string) => ({
    ratePerSecond: core.meteringRps,
    seconds: core.quota.seconds(account),
  });
  app.get<{ Querystring: { account?: string } }>('/_admin/quota', async (req) =>
    quotaView(req.query.account),
  );
  app.post('/_admin/quota', async (req, reply) => {
    const body = parse(quotaBody, req.body, reply);
    if (!body) return reply;
    core.setMeteringRps(body.ratePerSecond);
    return quotaView();
  });
  const targetView = () => {
    const t = core.events.current;
    return t ? { url: t.url, headerName: t.headerName, secretSet: t.secret !== '' } : { url: '' };
  };
  app.get('/_admin/events/target', async () => targetView());
  app.post('/_admin/events/target', async (req, reply) => {
    const body = parse(targetBody, req.body, reply);
    if (!body) return reply;
    core.events.setTarget(body);
    return targetView();
  });
  app.get('/_admin/events', async () => ({ deliveries: core.events.deliveries() }));
}

/** The admin routes of the buyer lifecycle, the request quota and the lifecycle events. */
export function lifecycleRoutes(app: FastifyInstance, core: EmulatorCore): void {
  licenseRoutes(app, core);
  quotaAndEventRoutes(app, core);
}
