import bcrypt from 'bcryptjs';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Metrics } from '@meterstream/observability';
import { loadPlans, type PlanCatalog } from '@meterstream/plans';
import { testLogger } from '@meterstream/testing';
import { buildConsole } from './server.js';
import { FakeGateway, MemoryData } from './memory.js';
import type { Submission, User } from './model.js';
import { hourOf } from './validate.js';

const NOW = new Date('2026-11-26T10:20:00Z');
const hash = bcrypt.hashSync('secret-pass', 4);
const users: User[] = [
  { username: 'olga', role: 'operator', passwordHash: hash },
  { username: 'vic', role: 'viewer', passwordHash: hash },
  { username: 'ada', role: 'admin', passwordHash: hash },
];

let catalog: PlanCatalog;
let data: MemoryData;
let gateway: FakeGateway;
let app: FastifyInstance;

async function signIn(username: string): Promise<{ cookie: string; csrf: string }> {
  const page = await app.inject({ method: 'GET', url: '/login' });
  const jar = new Map<string, string>();
  const take = (res: { cookies: { name: string; value: string }[] }): void => {
    for (const c of res.cookies) jar.set(c.name, c.value);
  };
  take(page);
  const token = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
  const cookie = (): string => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const res = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { cookie: cookie(), 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ _csrf: token, username, password: 'secret-pass' }).toString(),
  });
  expect(res.statusCode).toBe(303);
  take(res);
  const listings = await app.inject({
    method: 'GET',
    url: '/listings',
    headers: { cookie: cookie() },
  });
  take(listings);
  const csrf = /name="csrf-token" content="([^"]+)"/.exec(listings.body)?.[1] ?? '';
  return { cookie: cookie(), csrf };
}

beforeEach(async () => {
  catalog = await loadPlans(new URL('../../../plans', import.meta.url).pathname);
  data = new MemoryData();
  data.subs = [
    {
      productCode: 'demo-analytics',
      customer: 'cust-a',
      customerKind: 'identifier',
      licenseArn: '',
      buyerName: 'Acme <b>Corp</b>',
      agreementId: 'agmt-1',
      status: 'active',
      periodStart: Date.parse('2026-01-01T00:00:00Z'),
      periodEnd: Date.parse('2099-01-01T00:00:00Z'),
      source: 'entitlements',
    },
    {
      productCode: 'demo-analytics',
      customer: 'cust-gone',
      customerKind: 'identifier',
      licenseArn: '',
      buyerName: 'Gone Ltd',
      agreementId: 'agmt-2',
      status: 'cancelled',
      periodStart: Date.parse('2026-01-01T00:00:00Z'),
      periodEnd: Date.parse('2099-01-01T00:00:00Z'),
      source: 'entitlements',
    },
  ];
  gateway = new FakeGateway((s: Submission) => {
    for (const l of s.lines) {
      data.setLedger({
        productCode: s.productCode,
        customer: l.customer,
        dimension: l.dimension,
        hour: s.hour,
        state: 'accepted',
        quantity: Number(l.quantity),
      });
    }
  });
  app = await buildConsole({
    users,
    catalog,
    data,
    gateway,
    logger: testLogger(),
    metrics: new Metrics('meterstream_console', { defaultMetrics: false }),
    sessionSecret: 'x'.repeat(40),
    secureCookies: false,
    now: () => NOW,
  });
});

afterEach(async () => {
  await app.close();
});

describe('console HTTP', () => {
  it('redirects to sign-in and rejects a wrong password', async () => {
    const res = await app.inject({ method: 'GET', url: '/listings' });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toMatch(/^\/login/);
    const page = await app.inject({ method: 'GET', url: '/login' });
    const token = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
    const cookie = page.cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    const bad = await app.inject({
      method: 'POST',
      url: '/login',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: `_csrf=${encodeURIComponent(token)}&username=olga&password=nope`,
    });
    expect(bad.statusCode).toBe(401);
    expect(bad.body).toContain('Wrong username or password');
  });

  it('refuses sign-in without the CSRF token', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'username=olga&password=secret-pass',
    });
    expect(res.statusCode).toBe(403);
  });

  it('sets httpOnly SameSite cookies', async () => {
    const page = await app.inject({ method: 'GET', url: '/login' });
    const setCookie = String(page.headers['set-cookie']);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
  });

  it('renders listings and contracts with escaped buyer names', async () => {
    const { cookie } = await signIn('olga');
    const listings = await app.inject({ method: 'GET', url: '/listings', headers: { cookie } });
    expect(listings.body).toContain('View contracts and send metering information');
    expect(listings.body).toContain('demo-platform');
    const contracts = await app.inject({
      method: 'GET',
      url: '/listings/demo-analytics/contracts',
      headers: { cookie },
    });
    expect(contracts.statusCode).toBe(200);
    expect(contracts.body).toContain('Acme &lt;b&gt;Corp&lt;/b&gt;');
    expect(contracts.body).not.toContain('<b>Corp</b>');
    expect(contracts.body).toContain('id="submit-metering"');
    // Plan version in force on NOW has the exports dimension.
    expect(contracts.body).toContain('data-dimension="exports"');
  });

  it('hides the submit button from viewers and answers 403 to their API calls', async () => {
    const { cookie, csrf } = await signIn('vic');
    const contracts = await app.inject({
      method: 'GET',
      url: '/listings/demo-analytics/contracts',
      headers: { cookie },
    });
    expect(contracts.body).not.toContain('id="submit-metering"');
    expect(contracts.body).toContain('read-only access');
    const res = await app.inject({
      method: 'POST',
      url: '/api/listings/demo-analytics/preview',
      headers: { cookie, 'x-csrf-token': csrf },
      payload: { lines: [{ customer: 'cust-a', dimension: 'api_calls', quantity: '5' }] },
    });
    expect(res.statusCode).toBe(403);
    expect(gateway.sent).toHaveLength(0);
  });

  it('refuses state changes without a CSRF token or from another origin', async () => {
    const { cookie, csrf } = await signIn('olga');
    const lines = [{ customer: 'cust-a', dimension: 'api_calls', quantity: '5' }];
    const noToken = await app.inject({
      method: 'POST',
      url: '/api/listings/demo-analytics/preview',
      headers: { cookie },
      payload: { lines },
    });
    expect(noToken.statusCode).toBe(403);
    const wrong = await app.inject({
      method: 'POST',
      url: '/api/listings/demo-analytics/preview',
      headers: { cookie, 'x-csrf-token': `${csrf}x` },
      payload: { lines },
    });
    expect(wrong.statusCode).toBe(403);
    const foreign = await app.inject({
      method: 'POST',
      url: '/api/listings/demo-analytics/preview',
      headers: { cookie, 'x-csrf-token': csrf, origin: 'https://evil.example' },
      payload: { lines },
    });
    expect(foreign.statusCode).toBe(403);
  });

  it('previews, confirms once per submission id and reports statuses', async () => {
    const { cookie, csrf } = await signIn('olga');
    const headers = { cookie, 'x-csrf-token': csrf };
    const lines = [
      { customer: 'cust-a', dimension: 'api_calls', quantity: '120' },
      { customer: 'cust-a', dimension: 'exports', quantity: '2.5' },
    ];
    const preview = await app.inject({
      method: 'POST',
      url: '/api/listings/demo-analytics/preview',
      headers,
      payload: { lines },
    });
    expect(preview.statusCode).toBe(200);
    const p = preview.json<{ submissionId: string; lines: { overage: string }[] }>();
    expect(p.lines.map((l) => l.overage)).toEqual(['120', '2.5']);
    expect(gateway.sent).toHaveLength(0);

    const confirm = () =>
      app.inject({
        method: 'POST',
        url: '/api/listings/demo-analytics/submissions',
        headers,
        payload: { submissionId: p.submissionId, lines },
      });
    const [a, b] = await Promise.all([confirm(), confirm()]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([200, 202]);
    const c = await confirm();
    expect(c.statusCode).toBe(200);
    expect(gateway.sent).toHaveLength(1);
    const sent = gateway.sent[0]!;
    expect(sent.actor).toBe('olga');
    expect(sent.hour).toEqual(hourOf(NOW));
    expect(sent.lines.map((l) => [l.dimension, l.quantityMicros])).toEqual([
      ['api_calls', 120_000_000n],
      ['exports', 2_500_000n],
    ]);
    expect(new Set(sent.lines.map((l) => l.eventId)).size).toBe(2);

    const status = await app.inject({
      method: 'GET',
      url: `/api/submissions/${p.submissionId}`,
      headers: { cookie },
    });
    const s = status.json<{ done: boolean; records: { status: string }[] }>();
    expect(s.done).toBe(true);
    expect(s.records.map((r) => r.status)).toEqual(['accepted', 'accepted']);

    // A second send for the same keys in the same hour is refused (AWS would bill only the first).
    const again = await app.inject({
      method: 'POST',
      url: '/api/listings/demo-analytics/preview',
      headers,
      payload: { lines },
    });
    expect(again.statusCode).toBe(422);
    expect(again.body).toContain('already metered');

    const history = await app.inject({
      method: 'GET',
      url: '/history?product=demo-analytics',
      headers: { cookie },
    });
    expect(history.body).toContain('Manual · olga');
    const csv = await app.inject({
      method: 'GET',
      url: '/history.csv?product=demo-analytics',
      headers: { cookie },
    });
    expect(csv.headers['content-type']).toMatch(/text\/csv/);
    expect(csv.body.split('\r\n')[0]).toMatch(/^hour,product_code,customer/);
    expect(csv.body).toContain(',console,olga,');
  });

  it('rejects invalid lines with every reason and sends nothing', async () => {
    const { cookie, csrf } = await signIn('olga');
    const res = await app.inject({
      method: 'POST',
      url: '/api/listings/demo-analytics/preview',
      headers: { cookie, 'x-csrf-token': csrf },
      payload: {
        lines: [
          { customer: 'cust-a', dimension: 'api_calls', quantity: '-1' },
          { customer: 'cust-a', dimension: 'seats', quantity: '1' },
          { customer: 'cust-gone', dimension: 'api_calls', quantity: '1' },
          { customer: 'nobody', dimension: 'api_calls', quantity: '1' },
          { customer: 'cust-a', dimension: 'exports', quantity: '1.1234567' },
        ],
      },
    });
    expect(res.statusCode).toBe(422);
    const errors = res.json<{ errors: { message: string }[] }>().errors.map((e) => e.message);
    expect(errors).toEqual([
      'must not be negative',
      'dimension is not part of the product’s current plan',
      'contract is not active',
      'unknown contract for this product',
      'at most 6 decimal places',
    ]);
    expect(gateway.sent).toHaveLength(0);
  });

  it('shows the users page to admins only, without password hashes', async () => {
    const admin = await signIn('ada');
    const page = await app.inject({
      method: 'GET',
      url: '/users',
      headers: { cookie: admin.cookie },
    });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('olga');
    expect(page.body).not.toContain('$2');
    const operator = await signIn('olga');
    const listings = await app.inject({
      method: 'GET',
      url: '/listings',
      headers: { cookie: operator.cookie },
    });
    expect(listings.body).not.toContain('href="/users"');
    expect(
      (await app.inject({ method: 'GET', url: '/users', headers: { cookie: operator.cookie } }))
        .statusCode,
    ).toBe(403);
  });

  it('revokes the session on sign-out, even if the old cookie is replayed', async () => {
    const { cookie, csrf } = await signIn('olga');
    const out = await app.inject({
      method: 'POST',
      url: '/logout',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: `_csrf=${encodeURIComponent(csrf)}`,
    });
    expect(out.statusCode).toBe(303);
    const again = await app.inject({ method: 'GET', url: '/listings', headers: { cookie } });
    expect(again.statusCode).toBe(303);
    expect(again.headers.location).toMatch(/^\/login/);
  });

  it('refuses a tampered session cookie', async () => {
    const { cookie } = await signIn('vic');
    const forged = cookie.replace(/ms_session=([^;]+)/, (_m, v: string) => {
      const [payload, sig] = decodeURIComponent(v).split('.');
      const s = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as Record<
        string,
        unknown
      >;
      s.role = 'admin';
      s.username = 'ada';
      return `ms_session=${encodeURIComponent(`${Buffer.from(JSON.stringify(s)).toString('base64url')}.${sig}`)}`;
    });
    const res = await app.inject({ method: 'GET', url: '/users', headers: { cookie: forged } });
    expect(res.statusCode).toBe(303);
  });

  it('serves plans, audit empty state, health and metrics', async () => {
    const { cookie } = await signIn('vic');
    const plans = await app.inject({ method: 'GET', url: '/plans', headers: { cookie } });
    expect(plans.body).toContain('In force');
    expect(plans.body).toContain('Superseded');
    const audit = await app.inject({ method: 'GET', url: '/audit', headers: { cookie } });
    expect(audit.body).toContain('id="audit-empty"');
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('meterstream_console_logins_total');
  });
});
