import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { accountId, licenseArn, parse, productCode, termsSchema, zodError } from './admin-body.js';
import { lifecycleRoutes } from './admin-lifecycle.js';
import type { EmulatorCore } from './core.js';
import { faultsSchema } from './state.js';

const productBody = z
  .object({
    dimensions: z.array(z.string().min(1).max(255)).min(1),
    licenseArn: z.boolean().default(false),
    newIntegration: z.boolean().optional(),
  })
  .strict();

const oneCustomer = {
  message: 'customerIdentifier or customerAwsAccountId is required',
};
const hasCustomer = (s: {
  customerIdentifier?: string | undefined;
  customerAwsAccountId?: string | undefined;
}): boolean => s.customerIdentifier !== undefined || s.customerAwsAccountId !== undefined;
const subscriptionBody = z
  .object({
    productCode,
    customerIdentifier: z.string().min(1).max(255).optional(),
    customerAwsAccountId: accountId.optional(),
    licenseArn: licenseArn.optional(),
    startTime: z.iso.datetime().optional(),
    endTime: z.iso.datetime().optional(),
    offerId: z.string().min(1).max(64).optional(),
    terms: termsSchema.optional(),
  })
  .strict()
  .refine(hasCustomer, oneCustomer);
const entitlementBody = z
  .object({
    productCode,
    dimension: z.string().min(1),
    customerIdentifier: z.string().min(1).optional(),
    customerAwsAccountId: accountId.optional(),
    licenseArn: licenseArn.optional(),
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
  .refine(hasCustomer, oneCustomer);
const clockBody = z.object({ offsetMs: z.number().int() }).strict();

/** The clock as the admin API shows it. */
function clockView(core: EmulatorCore): { now: string; offsetMs: number } {
  return { now: new Date(core.now()).toISOString(), offsetMs: core.state.clockOffsetMs };
}

/** Registry routes: products, subscriptions, entitlements. */
function registryRoutes(app: FastifyInstance, core: EmulatorCore): void {
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
}

/** What AWS recorded (billing, CloudTrail) and the knobs of the run: faults, clock, reset. */
function runRoutes(app: FastifyInstance, core: EmulatorCore): void {
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
  app.get('/_admin/clock', async () => clockView(core));
  app.post('/_admin/clock', async (req, reply) => {
    const body = parse(clockBody, req.body, reply);
    if (!body) return reply;
    core.setClockOffset(body.offsetMs);
    return clockView(core);
  });
  app.post('/_admin/reset', async () => {
    core.reset();
    return { status: 'reset' };
  });
}

/**
 * The admin API under `/_admin/` (not AWS's: how tests and the demo set the emulator up and read
 * what AWS would have billed and logged).
 */
export function registerAdminRoutes(app: FastifyInstance, core: EmulatorCore): void {
  app.get('/_admin/health', async () => ({
    status: 'ok',
    now: new Date(core.now()).toISOString(),
  }));
  registryRoutes(app, core);
  runRoutes(app, core);
  lifecycleRoutes(app, core);
}
