import type { FastifyInstance } from 'fastify';
import { auditPage } from '../views/audit.js';
import { errorPage } from '../views/error.js';
import { plansPage } from '../views/plans.js';
import { usersPage } from '../views/users.js';
import { sendHtml, signedIn, type RouteContext } from './context.js';

/** How many findings the audit page shows (newest first). */
export const AUDIT_LIMIT = 500;

/** The read-only pages: plans, audit findings and (admins only) users. */
export function registerReadOnlyPages(app: FastifyInstance, ctx: RouteContext): void {
  const { catalog, data } = ctx.deps;
  app.get(
    '/plans',
    signedIn(ctx, async (req, reply, user) =>
      sendHtml(reply, plansPage(ctx.pageContext(req, reply, user), catalog, ctx.now())),
    ),
  );
  app.get(
    '/audit',
    signedIn(ctx, async (req, reply, user) =>
      sendHtml(
        reply,
        auditPage(ctx.pageContext(req, reply, user), await data.auditFindings(AUDIT_LIMIT)),
      ),
    ),
  );
  app.get(
    '/users',
    signedIn(ctx, async (req, reply, user) => {
      const page = ctx.pageContext(req, reply, user);
      if (user.role !== 'admin')
        return sendHtml(reply, errorPage(page, 403, 'Only admins can see the users.'), 403);
      return sendHtml(reply, usersPage(page, [...ctx.users.values()]));
    }),
  );
}
