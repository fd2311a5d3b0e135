import type { FastifyInstance } from 'fastify';
import type { LedgerFilter } from '../model.js';
import { historyCsv, historyPage } from '../views/history.js';
import { sendHtml, signedIn, type RouteContext } from './context.js';

/** Rows on the history page (the CSV export has up to {@link CSV_LIMIT}). */
export const HISTORY_LIMIT = 1000;
export const CSV_LIMIT = 100_000;

type Query = Record<string, string | undefined>;

/** Query strings of the history page, parsed leniently (bad values are ignored, not errors). */
export function historyFilter(q: Query, limit: number): LedgerFilter {
  const date = (s: string | undefined): Date | undefined => {
    if (!s) return undefined;
    const d = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(s) ? s : `${s}Z`);
    return Number.isNaN(d.getTime()) ? undefined : d;
  };
  const text = (s: string | undefined): string | undefined =>
    s && s.trim() !== '' ? s.trim().slice(0, 256) : undefined;
  return {
    productCode: text(q.product),
    customer: text(q.customer),
    dimension: text(q.dimension),
    from: date(q.from),
    to: date(q.to),
    limit,
  };
}

/** The non-empty parameters of a query, again as a query string (for the CSV link). */
export function keptQuery(q: Query): string {
  return new URLSearchParams(
    Object.entries(q).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== ''),
  ).toString();
}

/** The metering history page and its CSV export. */
export function registerHistoryRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { catalog, data } = ctx.deps;
  /** The ledger records a query selects, and who sent each manual one. */
  const select = async (q: Query, limit: number) => {
    const filter = historyFilter(q, limit);
    const [rows, manual] = await Promise.all([
      data.ledger(filter),
      data.manualKeys(filter.productCode),
    ]);
    return { filter, rows, manual };
  };

  app.get<{ Querystring: Query }>(
    '/history',
    signedIn(ctx, async (req, reply, user) => {
      const { filter, rows, manual } = await select(req.query, HISTORY_LIMIT);
      const page = ctx.pageContext(req, reply, user);
      return sendHtml(
        reply,
        historyPage(page, catalog, filter, rows, manual, keptQuery(req.query)),
      );
    }),
  );

  app.get<{ Querystring: Query }>(
    '/history.csv',
    signedIn(ctx, async (req, reply) => {
      const { rows, manual } = await select(req.query, CSV_LIMIT);
      const day = ctx.now().toISOString().slice(0, 10);
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="metering-history-${day}.csv"`)
        .header('cache-control', 'no-store')
        .send(historyCsv(rows, manual));
    }),
  );
}
