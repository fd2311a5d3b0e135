import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Plan } from '@meterstream/plans';
import { canSubmit, type User } from '../model.js';
import { previewJson, statusJson, type SubmissionService } from '../submissions.js';
import { hourOf } from '../validate.js';
import { signedIn, type RouteContext } from './context.js';

/** The shape of a submission id (a UUID the preview hands out). */
export const SUBMISSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type ProductRequest = FastifyRequest<{ Params: { product: string } }>;

/**
 * The submission API: preview (validates, sends nothing), confirm (records, then sends once per
 * submission id) and the status of a submission.
 */
export function registerSubmitRoutes(
  app: FastifyInstance,
  ctx: RouteContext,
  service: SubmissionService,
): void {
  const { catalog, data } = ctx.deps;
  const { csrfRejections, submissions } = ctx.metrics;

  /** Common checks of the submission API: signed in, CSRF, role, known product. */
  const guard = (
    req: ProductRequest,
    reply: FastifyReply,
  ): { user: User; plan: Plan } | undefined => {
    const user = ctx.requireUser(req, reply);
    if (!user) return undefined;
    if (!ctx.checkCsrf(req)) {
      csrfRejections.inc();
      void reply.status(403).send({ error: 'invalid or missing CSRF token' });
      return undefined;
    }
    if (!canSubmit(user.role)) {
      submissions.inc({ outcome: 'forbidden' });
      void reply.status(403).send({ error: `role ${user.role} may not send metering information` });
      return undefined;
    }
    const plan = catalog.resolveProduct(req.params.product);
    if (!plan) {
      void reply.status(404).send({ error: 'no such product listing' });
      return undefined;
    }
    return { user, plan };
  };

  app.post<{ Params: { product: string }; Body: { lines?: unknown } }>(
    '/api/listings/:product/preview',
    async (req, reply) => {
      const g = guard(req, reply);
      if (!g) return reply;
      const submissionId = randomUUID();
      const at = ctx.now();
      const result = await service.prepare(g.plan.productCode, req.body?.lines, submissionId, at);
      if (result.errors.length > 0) return reply.status(422).send({ errors: result.errors });
      return { submissionId, hour: hourOf(at).toISOString(), lines: result.lines.map(previewJson) };
    },
  );

  app.post<{ Params: { product: string }; Body: { submissionId?: unknown; lines?: unknown } }>(
    '/api/listings/:product/submissions',
    async (req, reply) => {
      const g = guard(req, reply);
      if (!g) return reply;
      const id = req.body?.submissionId;
      if (typeof id !== 'string' || !SUBMISSION_ID.test(id)) {
        return reply
          .status(400)
          .send({ errors: [{ index: -1, message: 'missing or malformed submission id' }] });
      }
      const r = await service.confirmOnce(id, g.plan.productCode, g.user.username, req.body?.lines);
      if ('errors' in r) return reply.status(422).send({ errors: r.errors });
      return reply.status(r.created ? 202 : 200).send(statusJson(r.status));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/submissions/:id',
    signedIn(ctx, async (req, reply) => {
      const s = SUBMISSION_ID.test(req.params.id)
        ? await data.findSubmission(req.params.id)
        : undefined;
      if (!s) return reply.status(404).send({ error: 'no such submission' });
      return statusJson(await service.statusOf(s));
    }),
  );
}
