import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import { isMeterstreamError, toMeterstreamError } from '@meterstream/errors';
import type { Logger, Metrics } from '@meterstream/observability';
import type { PlanCatalog } from '@meterstream/plans';
import {
  authenticate,
  Csrf,
  decodeSession,
  encodeSession,
  randomId,
  type Session,
} from './auth.js';
import {
  canSubmit,
  cdKey,
  FINAL_STATUSES,
  recordKey,
  type ConsoleData,
  type LedgerFilter,
  type Submission,
  type SubmissionGateway,
  type SubmissionStatus,
  type User,
} from './model.js';
import {
  formatMicros,
  hourOf,
  isActive,
  validateLines,
  type LineError,
  type PreviewLine,
} from './validate.js';
import {
  auditPage,
  contractsPage,
  errorPage,
  historyCsv,
  historyPage,
  listingsPage,
  loginPage,
  plansPage,
  usersPage,
  type ContractRow,
  type ListingRow,
  type PageContext,
} from './views.js';

/** Everything the console needs, injected so tests can run it in-process. */
export interface ConsoleDeps {
  users: readonly User[];
  catalog: PlanCatalog;
  data: ConsoleData;
  gateway: SubmissionGateway;
  logger: Logger;
  metrics: Metrics;
  sessionSecret: string;
  secureCookies: boolean;
  sessionTtlMs?: number;
  now?: () => Date;
}

const SESSION_COOKIE = 'ms_session';
const CSRF_COOKIE = 'ms_csrf';
const SUBMISSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HISTORY_LIMIT = 1000;

const staticFile = (name: string): string =>
  readFileSync(new URL(`../public/${name}`, import.meta.url), 'utf8');

/** Query strings of the history page, parsed leniently (bad values are ignored, not errors). */
function historyFilter(q: Record<string, string | undefined>, limit: number): LedgerFilter {
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

/**
 * Builds the console: sign-in, listings, contracts with the submit → confirm → status flow,
 * metering history (+CSV), plans, audit, and /metrics, /healthz, /readyz.
 */
export async function buildConsole(deps: ConsoleDeps): Promise<FastifyInstance> {
  const now = deps.now ?? (() => new Date());
  const log = deps.logger.child({ module: 'console-http' });
  const ttlMs = deps.sessionTtlMs ?? 8 * 3_600_000;
  const csrf = new Csrf(deps.sessionSecret);
  const users = new Map(deps.users.map((u) => [u.username, u]));
  const css = staticFile('app.css');
  const js = staticFile('app.js');

  const httpRequests = deps.metrics.counter(
    'http_requests_total',
    'HTTP requests by route and status',
    ['route', 'method', 'status'],
  );
  const logins = deps.metrics.counter('logins_total', 'Sign-in attempts by outcome', ['outcome']);
  const submissions = deps.metrics.counter(
    'submissions_total',
    'Confirmed manual submissions by outcome',
    ['outcome'],
  );
  const submittedRecords = deps.metrics.counter(
    'submitted_records_total',
    'Usage lines sent by manual submissions',
  );
  const csrfRejections = deps.metrics.counter(
    'csrf_rejections_total',
    'State changes refused for a missing or wrong CSRF token',
  );

  const throttle = new LoginThrottle();
  /** Session ids signed out in this process, until they would have expired anyway. */
  const revoked = new Map<string, number>();

  /** Concurrent confirms of one submission id share one send (a double click sends once). */
  const inflight = new Map<string, Promise<{ status: SubmissionStatus; created: boolean }>>();
  /** Submission ids whose send completed in this process. */
  const sent = new Set<string>();

  const app = Fastify({ logger: false, bodyLimit: 256 * 1024, trustProxy: false });
  await app.register(cookie, { secret: deps.sessionSecret });
  await app.register(formbody);

  const cookieOpts = {
    path: '/',
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: deps.secureCookies,
    signed: true,
  };

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'same-origin');
    reply.header(
      'content-security-policy',
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    );
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    httpRequests.inc({
      route: req.routeOptions.url ?? 'unmatched',
      method: req.method,
      status: String(reply.statusCode),
    });
  });

  const unsign = (req: FastifyRequest, name: string): string | undefined => {
    const raw = req.cookies[name];
    if (!raw) return undefined;
    const r = req.unsignCookie(raw);
    return r.valid && r.value !== null ? r.value : undefined;
  };

  /** The per-browser CSRF nonce, set when missing. */
  const csrfNonce = (req: FastifyRequest, reply: FastifyReply): string => {
    let nonce = unsign(req, CSRF_COOKIE);
    if (!nonce) {
      nonce = randomId();
      void reply.setCookie(CSRF_COOKIE, nonce, cookieOpts);
    }
    return nonce;
  };

  const sessionOf = (req: FastifyRequest): { session: Session; user: User } | undefined => {
    const value = unsign(req, SESSION_COOKIE);
    const session = value ? decodeSession(value, Date.now()) : undefined;
    if (!session || revoked.has(session.sid)) return undefined;
    // Roles come from the current configuration, so removing or demoting a user takes effect at once.
    const user = users.get(session.username);
    return user ? { session, user } : undefined;
  };

  const pageContext = (req: FastifyRequest, reply: FastifyReply, user: User): PageContext => ({
    username: user.username,
    role: user.role,
    csrfToken: csrf.token(csrfNonce(req, reply)),
  });

  const isApi = (req: FastifyRequest): boolean => req.url.startsWith('/api/');

  /** Refuses state changes without the CSRF token, or from another origin. */
  const checkCsrf = (req: FastifyRequest): boolean => {
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== 'null') {
      try {
        if (new URL(origin).host !== req.headers.host) return false;
      } catch {
        return false;
      }
    }
    const body = req.body as Record<string, unknown> | undefined;
    const token =
      req.headers['x-csrf-token'] ?? (body && typeof body === 'object' ? body._csrf : undefined);
    return csrf.verify(unsign(req, CSRF_COOKIE), token);
  };

  const requireUser = (req: FastifyRequest, reply: FastifyReply): User | undefined => {
    const s = sessionOf(req);
    if (s) return s.user;
    if (isApi(req)) void reply.status(401).send({ error: 'sign in first' });
    else void reply.redirect(`/login?next=${encodeURIComponent(req.url)}`, 303);
    return undefined;
  };

  const sendHtml = (reply: FastifyReply, body: string, status = 200): FastifyReply =>
    reply
      .status(status)
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(body);

  // ---- ops ---------------------------------------------------------------------------------
  app.get('/healthz', async (_req, reply) => reply.type('text/plain').send('ok\n'));
  app.get('/readyz', async (_req, reply) => {
    const [dataOk, gwOk] = await Promise.all([
      deps.data.ping().catch(() => false),
      deps.gateway.ready().catch(() => false),
    ]);
    return dataOk && gwOk
      ? reply.type('text/plain').send('ready\n')
      : reply.status(503).type('text/plain').send('not ready\n');
  });
  app.get('/metrics', async (_req, reply) =>
    reply.header('content-type', deps.metrics.registry.contentType).send(await deps.metrics.text()),
  );
  app.get('/static/app.css', async (_req, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send(css),
  );
  app.get('/static/app.js', async (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(js),
  );

  // ---- sign in / out -----------------------------------------------------------------------
  app.get('/login', async (req, reply) => {
    if (sessionOf(req)) return reply.redirect('/listings', 303);
    return sendHtml(reply, loginPage(csrf.token(csrfNonce(req, reply))));
  });
  app.post<{ Body: Record<string, unknown>; Querystring: { next?: string } }>(
    '/login',
    async (req, reply) => {
      if (!checkCsrf(req)) {
        csrfRejections.inc();
        logins.inc({ outcome: 'csrf' });
        return sendHtml(
          reply,
          loginPage(
            csrf.token(csrfNonce(req, reply)),
            'Your sign-in form expired. Please try again.',
          ),
          403,
        );
      }
      const username = typeof req.body.username === 'string' ? req.body.username.slice(0, 64) : '';
      const password = typeof req.body.password === 'string' ? req.body.password.slice(0, 256) : '';
      if (throttle.blocked(username)) {
        logins.inc({ outcome: 'throttled' });
        return sendHtml(
          reply,
          loginPage(
            csrf.token(csrfNonce(req, reply)),
            'Too many failed sign-ins for this user. Try again in 15 minutes.',
            username,
          ),
          429,
        );
      }
      const user = await authenticate([...users.values()], username, password);
      if (!user) {
        throttle.failed(username);
        logins.inc({ outcome: 'failed' });
        log.info({ username }, 'sign-in failed');
        return sendHtml(
          reply,
          loginPage(csrf.token(csrfNonce(req, reply)), 'Wrong username or password.', username),
          401,
        );
      }
      throttle.succeeded(username);
      logins.inc({ outcome: 'ok' });
      log.info({ username, role: user.role }, 'signed in');
      const session: Session = {
        username: user.username,
        role: user.role,
        sid: randomId(),
        exp: Date.now() + ttlMs,
      };
      // A fresh CSRF nonce per sign-in, so a token seen before sign-in is useless after it.
      void reply.setCookie(CSRF_COOKIE, randomId(), cookieOpts);
      void reply.setCookie(SESSION_COOKIE, encodeSession(session), {
        ...cookieOpts,
        maxAge: Math.floor(ttlMs / 1000),
      });
      const next = req.query.next;
      return reply.redirect(next && /^\/(?!\/)[\w\-./?=&%]*$/.test(next) ? next : '/listings', 303);
    },
  );
  app.post('/logout', async (req, reply) => {
    if (!checkCsrf(req)) {
      csrfRejections.inc();
      return reply.status(403).send('invalid CSRF token');
    }
    const s = sessionOf(req);
    if (s) {
      // Signing out ends the session here too, not only in this browser (the cookie is stateless).
      for (const [sid, exp] of revoked) if (exp <= Date.now()) revoked.delete(sid);
      revoked.set(s.session.sid, s.session.exp);
      log.info({ username: s.user.username }, 'signed out');
    }
    void reply.clearCookie(SESSION_COOKIE, { path: '/' });
    void reply.clearCookie(CSRF_COOKIE, { path: '/' });
    return reply.redirect('/login', 303);
  });

  // ---- pages ---------------------------------------------------------------------------------
  app.get('/', async (_req, reply) => reply.redirect('/listings', 303));

  app.get('/listings', async (req, reply) => {
    const user = requireUser(req, reply);
    if (!user) return reply;
    const at = now();
    const [subs, statuses] = await Promise.all([
      deps.data.subscriptions(),
      deps.data.lastStatuses(),
    ]);
    const rows: ListingRow[] = deps.catalog.plans.map((plan) => ({
      plan,
      dimensions: deps.catalog.versionAt(plan.productCode, at)?.dimensions.map((d) => d.name) ?? [],
      subscribers: subs.filter((s) => s.productCode === plan.productCode && isActive(s, at)).length,
      lastStatus: statuses.get(plan.productCode),
    }));
    return sendHtml(reply, listingsPage(pageContext(req, reply, user), rows));
  });

  const contractsData = async (productCode: string, at: Date) => {
    const [subs, ents, statuses] = await Promise.all([
      deps.data.subscriptions(productCode),
      deps.data.entitlements(productCode),
      deps.data.lastStatuses(productCode),
    ]);
    // Usage counts against an entitlement within the entitlement's period (as the submitter
    // computes overage); without one, within the contract's period.
    const usage = await deps.data.usageMicros(
      productCode,
      subs.map((s) => {
        const ent = ents.find(
          (e) => e.customer === s.customer && e.periodStart <= at && at < e.periodEnd,
        );
        return ent
          ? { customer: s.customer, from: ent.periodStart, to: ent.periodEnd }
          : { customer: s.customer, from: s.periodStart, to: s.periodEnd };
      }),
    );
    return { subs, ents, statuses, usage, at };
  };

  app.get<{ Params: { product: string } }>('/listings/:product/contracts', async (req, reply) => {
    const user = requireUser(req, reply);
    if (!user) return reply;
    const ctx = pageContext(req, reply, user);
    const plan = deps.catalog.resolveProduct(req.params.product);
    if (!plan) return sendHtml(reply, errorPage(ctx, 404, 'No such product listing.'), 404);
    const at = now();
    const { subs, ents, statuses, usage } = await contractsData(plan.productCode, at);
    const dims = deps.catalog.versionAt(plan.productCode, at)?.dimensions ?? [];
    const rows: ContractRow[] = subs.map((sub) => ({
      sub,
      active: isActive(sub, at),
      entitlements: new Map(
        ents
          .filter((e) => e.customer === sub.customer && e.periodStart <= at && at < e.periodEnd)
          .map((e) => [e.dimension, e.quantity]),
      ),
      usage: new Map(dims.map((d) => [d.name, usage.get(cdKey(sub.customer, d.name)) ?? 0n])),
      lastStatus: statuses.get(sub.customer),
    }));
    return sendHtml(reply, contractsPage(ctx, plan, dims, rows, hourOf(at)));
  });

  app.get<{ Querystring: Record<string, string | undefined> }>('/history', async (req, reply) => {
    const user = requireUser(req, reply);
    if (!user) return reply;
    const filter = historyFilter(req.query, HISTORY_LIMIT);
    const [rows, manual] = await Promise.all([
      deps.data.ledger(filter),
      deps.data.manualKeys(filter.productCode),
    ]);
    const query = new URLSearchParams(
      Object.entries(req.query).filter(
        (e): e is [string, string] => typeof e[1] === 'string' && e[1] !== '',
      ),
    ).toString();
    return sendHtml(
      reply,
      historyPage(pageContext(req, reply, user), deps.catalog, filter, rows, manual, query),
    );
  });

  app.get<{ Querystring: Record<string, string | undefined> }>(
    '/history.csv',
    async (req, reply) => {
      const user = requireUser(req, reply);
      if (!user) return reply;
      const filter = historyFilter(req.query, 100_000);
      const [rows, manual] = await Promise.all([
        deps.data.ledger(filter),
        deps.data.manualKeys(filter.productCode),
      ]);
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header(
          'content-disposition',
          `attachment; filename="metering-history-${now().toISOString().slice(0, 10)}.csv"`,
        )
        .header('cache-control', 'no-store')
        .send(historyCsv(rows, manual));
    },
  );

  app.get('/plans', async (req, reply) => {
    const user = requireUser(req, reply);
    if (!user) return reply;
    return sendHtml(reply, plansPage(pageContext(req, reply, user), deps.catalog, now()));
  });

  app.get('/users', async (req, reply) => {
    const user = requireUser(req, reply);
    if (!user) return reply;
    const ctx = pageContext(req, reply, user);
    if (user.role !== 'admin')
      return sendHtml(reply, errorPage(ctx, 403, 'Only admins can see the users.'), 403);
    return sendHtml(reply, usersPage(ctx, [...users.values()]));
  });

  app.get('/audit', async (req, reply) => {
    const user = requireUser(req, reply);
    if (!user) return reply;
    return sendHtml(
      reply,
      auditPage(pageContext(req, reply, user), await deps.data.auditFindings(500)),
    );
  });

  // ---- submission API --------------------------------------------------------------------
  /** Common checks of the submission API: signed in, CSRF, role, known product. */
  const guardSubmit = (
    req: FastifyRequest<{ Params: { product: string } }>,
    reply: FastifyReply,
  ) => {
    const user = requireUser(req, reply);
    if (!user) return undefined;
    if (!checkCsrf(req)) {
      csrfRejections.inc();
      void reply.status(403).send({ error: 'invalid or missing CSRF token' });
      return undefined;
    }
    if (!canSubmit(user.role)) {
      submissions.inc({ outcome: 'forbidden' });
      void reply.status(403).send({ error: `role ${user.role} may not send metering information` });
      return undefined;
    }
    const plan = deps.catalog.resolveProduct(req.params.product);
    if (!plan) {
      void reply.status(404).send({ error: 'no such product listing' });
      return undefined;
    }
    return { user, plan };
  };

  /** Validates lines against the current contracts, plan and ledger (nothing is sent). */
  const prepare = async (
    productCode: string,
    lines: unknown,
    submissionId: string,
    at: Date,
  ): Promise<{ lines: PreviewLine[]; errors: LineError[] }> => {
    const plan = deps.catalog.resolveProduct(productCode);
    if (!plan) return { lines: [], errors: [{ index: -1, message: 'no such product listing' }] };
    const { subs, ents, usage } = await contractsData(productCode, at);
    const result = validateLines(lines, {
      plan,
      catalog: deps.catalog,
      now: at,
      subscriptions: subs,
      entitlements: ents,
      usage,
      eventId: (i) => `console:${submissionId}:${i}`,
    });
    if (result.errors.length > 0) return result;
    // AWS bills the first quantity of an hour; a second manual send in the same hour would be
    // carried to a later hour, so say so now instead of showing the old record's status.
    const hour = hourOf(at);
    const existing = await deps.data.records(
      result.lines.map((l) => ({
        productCode,
        customer: l.customer,
        dimension: l.dimension,
        hour,
      })),
    );
    const errors: LineError[] = existing.map((r) => ({
      index: result.lines.findIndex(
        (l) => l.customer === r.customer && l.dimension === r.dimension,
      ),
      customer: r.customer,
      dimension: r.dimension,
      message: `already metered for the hour starting ${hour.toISOString().slice(11, 16)} UTC; send again after the hour`,
    }));
    return errors.length > 0 ? { lines: [], errors } : result;
  };

  const previewJson = (l: PreviewLine) => ({
    customer: l.customer,
    buyerName: l.buyerName,
    dimension: l.dimension,
    quantity: l.quantity,
    entitlement: l.entitlementMicros === undefined ? null : formatMicros(l.entitlementMicros),
    used: formatMicros(l.usedMicros),
    overage: formatMicros(l.overageMicros),
  });

  app.post<{ Params: { product: string }; Body: { lines?: unknown } }>(
    '/api/listings/:product/preview',
    async (req, reply) => {
      const g = guardSubmit(req, reply);
      if (!g) return reply;
      const submissionId = randomUUID();
      const at = now();
      const result = await prepare(g.plan.productCode, req.body?.lines, submissionId, at);
      if (result.errors.length > 0) return reply.status(422).send({ errors: result.errors });
      return { submissionId, hour: hourOf(at).toISOString(), lines: result.lines.map(previewJson) };
    },
  );

  const statusOf = async (s: Submission): Promise<SubmissionStatus> => {
    const found = await deps.data.records(
      s.lines.map((l) => ({
        productCode: s.productCode,
        customer: l.customer,
        dimension: l.dimension,
        hour: s.hour,
      })),
    );
    const byKey = new Map(found.map((r) => [recordKey(r), r]));
    const records = s.lines.map((l) => {
      const r = byKey.get(
        recordKey({
          productCode: s.productCode,
          customer: l.customer,
          dimension: l.dimension,
          hour: s.hour,
        }),
      );
      return {
        customer: l.customer,
        dimension: l.dimension,
        quantity: l.quantity,
        status: r?.status ?? ('pending' as const),
        // Only an accepted record is billed with this quantity (a duplicate was billed earlier).
        billedQuantity: r && r.status === 'accepted' ? r.quantity : undefined,
        reason: r?.reason ?? '',
      };
    });
    return {
      submissionId: s.id,
      productCode: s.productCode,
      actor: s.actor,
      hour: s.hour,
      records,
      done: records.every((r) => FINAL_STATUSES.includes(r.status)),
    };
  };

  type Confirmed = { status: SubmissionStatus; created: boolean };
  const confirm = async (
    id: string,
    productCode: string,
    actor: string,
    lines: unknown,
  ): Promise<Confirmed | { errors: LineError[] }> => {
    const existing = await deps.data.findSubmission(id);
    if (existing) {
      if (existing.productCode !== productCode || existing.actor !== actor) {
        return {
          errors: [{ index: -1, message: 'this submission id belongs to another submission' }],
        };
      }
      submissions.inc({ outcome: 'duplicate' });
      // Re-sending is safe (same event ids, same freeze); only needed when an earlier send failed.
      if (!sent.has(id)) {
        await deps.gateway.send(existing);
        sent.add(id);
      }
      return { status: await statusOf(existing), created: false };
    }
    const at = now();
    const result = await prepare(productCode, lines, id, at);
    if (result.errors.length > 0) {
      submissions.inc({ outcome: 'invalid' });
      return { errors: result.errors };
    }
    const submission: Submission = {
      id,
      actor,
      productCode,
      hour: hourOf(at),
      at,
      lines: result.lines.map(
        ({ customer, customerKind, licenseArn, dimension, quantity, quantityMicros, eventId }) => ({
          customer,
          customerKind,
          licenseArn,
          dimension,
          quantity,
          quantityMicros,
          eventId,
        }),
      ),
    };
    // Recorded (with its actor) before anything is sent, so every manual send is attributable.
    await deps.data.recordSubmission(submission);
    await deps.gateway.send(submission);
    sent.add(id);
    submissions.inc({ outcome: 'sent' });
    submittedRecords.inc(submission.lines.length);
    log.info(
      { submissionId: id, actor, productCode, lines: submission.lines.length },
      'manual submission sent',
    );
    return { status: await statusOf(submission), created: true };
  };

  app.post<{ Params: { product: string }; Body: { submissionId?: unknown; lines?: unknown } }>(
    '/api/listings/:product/submissions',
    async (req, reply) => {
      const g = guardSubmit(req, reply);
      if (!g) return reply;
      const id = req.body?.submissionId;
      if (typeof id !== 'string' || !SUBMISSION_ID.test(id)) {
        return reply
          .status(400)
          .send({ errors: [{ index: -1, message: 'missing or malformed submission id' }] });
      }
      let pending = inflight.get(id);
      const joined = pending !== undefined;
      if (!pending) {
        pending = confirm(id, g.plan.productCode, g.user.username, req.body?.lines).then((r) => {
          if ('errors' in r) throw Object.assign(new Error('invalid'), { errors: r.errors });
          return r;
        });
        inflight.set(id, pending);
        void pending.then(
          () => inflight.delete(id),
          () => inflight.delete(id),
        );
      } else {
        submissions.inc({ outcome: 'duplicate' });
      }
      try {
        const { status, created } = await pending;
        return reply.status(created && !joined ? 202 : 200).send(statusJson(status));
      } catch (err) {
        const errors = (err as { errors?: LineError[] }).errors;
        if (errors) return reply.status(422).send({ errors });
        throw err;
      }
    },
  );

  app.get<{ Params: { id: string } }>('/api/submissions/:id', async (req, reply) => {
    const user = requireUser(req, reply);
    if (!user) return reply;
    if (!SUBMISSION_ID.test(req.params.id))
      return reply.status(404).send({ error: 'no such submission' });
    const s = await deps.data.findSubmission(req.params.id);
    if (!s) return reply.status(404).send({ error: 'no such submission' });
    return statusJson(await statusOf(s));
  });

  app.setNotFoundHandler((req, reply) => {
    const s = sessionOf(req);
    if (isApi(req) || !s) return reply.status(404).type('text/plain').send('not found\n');
    return sendHtml(
      reply,
      errorPage(pageContext(req, reply, s.user), 404, 'This page does not exist.'),
      404,
    );
  });

  app.setErrorHandler((err, req, reply) => {
    const e = isMeterstreamError(err) ? err : toMeterstreamError(err);
    const status = (err as { statusCode?: number }).statusCode ?? e.httpStatus;
    if (status >= 500) {
      log.error({ err, url: req.url }, 'request failed');
      if (req.url.includes('/submissions')) submissions.inc({ outcome: 'failed' });
    }
    const message =
      status >= 500
        ? e.retriable
          ? 'A dependency is unavailable right now; nothing was lost. Please try again in a moment.'
          : 'Something went wrong. Please try again.'
        : e.message;
    if (isApi(req))
      return reply.status(status).send({ error: message, code: e.code, retriable: e.retriable });
    return reply.status(status).type('text/plain').send(`${message}\n`);
  });

  return app;
}

function statusJson(s: SubmissionStatus) {
  return { ...s, hour: s.hour.toISOString() };
}

/**
 * Slows password guessing: after {@link LoginThrottle.maxFailures} failed sign-ins for one
 * username within the window, that username is refused until the window has passed.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(
    readonly maxFailures = 5,
    readonly windowMs = 15 * 60_000,
    private readonly clock: () => number = Date.now,
  ) {}

  private recent(username: string): number[] {
    const since = this.clock() - this.windowMs;
    const list = (this.failures.get(username) ?? []).filter((t) => t > since);
    if (list.length === 0) this.failures.delete(username);
    else this.failures.set(username, list);
    return list;
  }

  blocked(username: string): boolean {
    return this.recent(username).length >= this.maxFailures;
  }

  failed(username: string): void {
    // Bounded memory: forget the oldest usernames when someone sprays many names.
    if (this.failures.size > 10_000)
      this.failures.delete(this.failures.keys().next().value as string);
    this.failures.set(username, [...this.recent(username), this.clock()]);
  }

  succeeded(username: string): void {
    this.failures.delete(username);
  }
}
