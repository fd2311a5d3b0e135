import type { FastifyInstance } from 'fastify';
import { contractRows, listingRows, loadContracts } from '../contracts.js';
import { hourOf } from '../validate.js';
import { contractsPage } from '../views/contracts.js';
import { errorPage } from '../views/error.js';
import { listingsPage } from '../views/listings.js';
import { sendHtml, signedIn, type RouteContext } from './context.js';

/** The product listings and, per listing, its contracts with the submit form. */
export function registerListingRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { catalog, data } = ctx.deps;
  app.get('/', async (_req, reply) => reply.redirect('/listings', 303));

  app.get(
    '/listings',
    signedIn(ctx, async (req, reply, user) => {
      const rows = await listingRows(data, catalog, ctx.now());
      return sendHtml(reply, listingsPage(ctx.pageContext(req, reply, user), rows));
    }),
  );

  app.get<{ Params: { product: string } }>(
    '/listings/:product/contracts',
    signedIn(ctx, async (req, reply, user) => {
      const page = ctx.pageContext(req, reply, user);
      const plan = catalog.resolveProduct(req.params.product);
      if (!plan) return sendHtml(reply, errorPage(page, 404, 'No such product listing.'), 404);
      const at = ctx.now();
      const state = await loadContracts(data, plan.productCode, at);
      const dims = catalog.versionAt(plan.productCode, at)?.dimensions ?? [];
      return sendHtml(
        reply,
        contractsPage(page, plan, dims, contractRows(state, dims), hourOf(at)),
      );
    }),
  );
}
