import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authenticate, encodeSession, LoginThrottle, randomId, type Session } from '../auth.js';
import type { User } from '../model.js';
import { loginPage } from '../views/login.js';
import { CSRF_COOKIE, SESSION_COOKIE, sendHtml, type RouteContext } from './context.js';

type LoginForm = { Body: Record<string, unknown>; Querystring: { next?: string } };

/** Where to go after signing in: a local path only (no open redirect). */
export function nextPath(next: string | undefined): string {
  return next && /^\/(?!\/)[\w\-./?=&%]*$/.test(next) ? next : '/listings';
}

/** Sign-in and sign-out. */
export function registerAuthRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { log } = ctx;
  const { logins, csrfRejections } = ctx.metrics;
  const throttle = new LoginThrottle();

  /** The sign-in page again, with why the last attempt did not sign in. */
  const refuse = (
    req: FastifyRequest,
    reply: FastifyReply,
    status: number,
    message: string,
    username?: string,
  ): FastifyReply =>
    sendHtml(
      reply,
      loginPage(ctx.csrf.token(ctx.csrfNonce(req, reply)), message, username),
      status,
    );

  /** Sets the session cookie, and a fresh CSRF nonce so a token seen before sign-in is useless after it. */
  const startSession = (reply: FastifyReply, user: User): void => {
    const session: Session = {
      username: user.username,
      role: user.role,
      sid: randomId(),
      exp: Date.now() + ctx.ttlMs,
    };
    void reply.setCookie(CSRF_COOKIE, randomId(), ctx.cookieOpts);
    void reply.setCookie(SESSION_COOKIE, encodeSession(session), {
      ...ctx.cookieOpts,
      maxAge: Math.floor(ctx.ttlMs / 1000),
    });
  };

  app.get('/login', async (req, reply) => {
    if (ctx.sessionOf(req)) return reply.redirect('/listings', 303);
    return sendHtml(reply, loginPage(ctx.csrf.token(ctx.csrfNonce(req, reply))));
  });

  app.post<LoginForm>('/login', async (req, reply) => {
    if (!ctx.checkCsrf(req)) {
      csrfRejections.inc();
      logins.inc({ outcome: 'csrf' });
      return refuse(req, reply, 403, 'Your sign-in form expired. Please try again.');
    }
    const username = typeof req.body.username === 'string' ? req.body.username.slice(0, 64) : '';
    const password = typeof req.body.password === 'string' ? req.body.password.slice(0, 256) : '';
    if (throttle.blocked(username)) {
      logins.inc({ outcome: 'throttled' });
      const message = 'Too many failed sign-ins for this user. Try again in 15 minutes.';
      return refuse(req, reply, 429, message, username);
    }
    const user = await authenticate([...ctx.users.values()], username, password);
    if (!user) {
      throttle.failed(username);
      logins.inc({ outcome: 'failed' });
      log.info({ username }, 'sign-in failed');
      return refuse(req, reply, 401, 'Wrong username or password.', username);
    }
    throttle.succeeded(username);
    logins.inc({ outcome: 'ok' });
    log.info({ username, role: user.role }, 'signed in');
    startSession(reply, user);
    return reply.redirect(nextPath(req.query.next), 303);
  });

  app.post('/logout', async (req, reply) => {
    if (!ctx.checkCsrf(req)) {
      csrfRejections.inc();
      return reply.status(403).send('invalid CSRF token');
    }
    const s = ctx.sessionOf(req);
    if (s) {
      // Signing out ends the session here too, not only in this browser (the cookie is stateless).
      ctx.revoke(s.session);
      log.info({ username: s.user.username }, 'signed out');
    }
    void reply.clearCookie(SESSION_COOKIE, { path: '/' });
    void reply.clearCookie(CSRF_COOKIE, { path: '/' });
    return reply.redirect('/login', 303);
  });
}
