import type { FastifyReply, FastifyRequest, RouteGenericInterface } from 'fastify';
import type { Logger, Metrics } from '@meterstream/observability';
import type { PlanCatalog } from '@meterstream/plans';
import { HOUR_MS } from '@meterstream/runtime';
import { Csrf, decodeSession, randomId, type Session } from '../auth.js';
import type { ConsoleMetrics } from '../metrics.js';
import type { ConsoleData, SubmissionGateway, User } from '../model.js';
import type { PageContext } from '../views/components.js';

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

export const SESSION_COOKIE = 'ms_session';
export const CSRF_COOKIE = 'ms_csrf';

/** How a route finds who is asking and checks what they may do; one per console instance. */
export interface RouteContext {
  readonly deps: ConsoleDeps;
  readonly now: () => Date;
  readonly log: Logger;
  readonly metrics: ConsoleMetrics;
  /** Configured users by name (roles are read from here on every request, never from the cookie). */
  readonly users: ReadonlyMap<string, User>;
  readonly csrf: Csrf;
  readonly ttlMs: number;
  readonly cookieOpts: {
    path: string;
    httpOnly: boolean;
    sameSite: 'strict';
    secure: boolean;
    signed: boolean;
  };
  /** The per-browser CSRF nonce, set when missing. */
  csrfNonce(req: FastifyRequest, reply: FastifyReply): string;
  /** The signed-in session and its (current) user, if any. */
  sessionOf(req: FastifyRequest): { session: Session; user: User } | undefined;
  /** Ends a session in this process too (the cookie itself is stateless). */
  revoke(session: Session): void;
  pageContext(req: FastifyRequest, reply: FastifyReply, user: User): PageContext;
  /** False for a state change without the CSRF token, or from another origin. */
  checkCsrf(req: FastifyRequest): boolean;
  /** The signed-in user; otherwise answers 401 (API) or redirects to sign-in, and is undefined. */
  requireUser(req: FastifyRequest, reply: FastifyReply): User | undefined;
}

/** Whether a request is to the JSON API (answered in JSON, never redirected). */
export const isApi = (req: FastifyRequest): boolean => req.url.startsWith('/api/');

/** Sends a rendered page (never cached). */
export const sendHtml = (reply: FastifyReply, body: string, status = 200): FastifyReply =>
  reply
    .status(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(body);

/** The value of a signed cookie, or undefined when missing or tampered with. */
function unsign(req: FastifyRequest, name: string): string | undefined {
  const raw = req.cookies[name];
  if (!raw) return undefined;
  const r = req.unsignCookie(raw);
  return r.valid && r.value !== null ? r.value : undefined;
}

/** True when a browser's `Origin` is absent, opaque, or this host. */
function sameOrigin(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (origin === undefined || origin === 'null') return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** Builds the {@link RouteContext} of one console instance. */
export function createRouteContext(deps: ConsoleDeps, metrics: ConsoleMetrics): RouteContext {
  const csrf = new Csrf(deps.sessionSecret);
  const users = new Map(deps.users.map((u) => [u.username, u]));
  /** Session ids signed out in this process, until they would have expired anyway. */
  const revoked = new Map<string, number>();
  const cookieOpts = {
    path: '/',
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: deps.secureCookies,
    signed: true,
  };
  const ctx: RouteContext = {
    deps,
    now: deps.now ?? (() => new Date()),
    log: deps.logger.child({ module: 'console-http' }),
    metrics,
    users,
    csrf,
    ttlMs: deps.sessionTtlMs ?? 8 * HOUR_MS,
    cookieOpts,
    csrfNonce(req, reply) {
      let nonce = unsign(req, CSRF_COOKIE);
      if (!nonce) {
        nonce = randomId();
        void reply.setCookie(CSRF_COOKIE, nonce, cookieOpts);
      }
      return nonce;
    },
    sessionOf(req) {
      const value = unsign(req, SESSION_COOKIE);
      const session = value ? decodeSession(value, Date.now()) : undefined;
      if (!session || revoked.has(session.sid)) return undefined;
      // Roles come from the current configuration, so removing or demoting a user takes effect at once.
      const user = users.get(session.username);
      return user ? { session, user } : undefined;
    },
    revoke(session) {
      for (const [sid, exp] of revoked) if (exp <= Date.now()) revoked.delete(sid);
      revoked.set(session.sid, session.exp);
    },
    pageContext(req, reply, user) {
      return {
        username: user.username,
        role: user.role,
        csrfToken: csrf.token(ctx.csrfNonce(req, reply)),
      };
    },
    checkCsrf(req) {
      if (!sameOrigin(req)) return false;
      const body = req.body as Record<string, unknown> | undefined;
      const token =
        req.headers['x-csrf-token'] ?? (body && typeof body === 'object' ? body._csrf : undefined);
      return csrf.verify(unsign(req, CSRF_COOKIE), token);
    },
    requireUser(req, reply) {
      const s = ctx.sessionOf(req);
      if (s) return s.user;
      if (isApi(req)) void reply.status(401).send({ error: 'sign in first' });
      else void reply.redirect(`/login?next=${encodeURIComponent(req.url)}`, 303);
      return undefined;
    },
  };
  return ctx;
}

/** Wraps a handler so that it runs only for a signed-in user (others are sent to sign in). */
export function signedIn<R extends RouteGenericInterface>(
  ctx: RouteContext,
  handler: (req: FastifyRequest<R>, reply: FastifyReply, user: User) => Promise<unknown>,
): (req: FastifyRequest<R>, reply: FastifyReply) => Promise<unknown> {
  return async (req, reply) => {
    const user = ctx.requireUser(req, reply);
    if (!user) return reply;
    return handler(req, reply, user);
  };
}
