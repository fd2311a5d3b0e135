import type { Plan, PlanCatalog } from '@meterstream/plans';
import { html, jsonForScript, type SafeHtml } from './html.js';
import {
  canSubmit,
  type AuditFinding,
  type LedgerFilter,
  type LedgerRecord,
  type RecordStatus,
  type Role,
  type Subscription,
  type User,
} from './model.js';
import { formatMicros } from './validate.js';

/** Who is looking at a page, and the CSRF token its forms and scripts send back. */
export interface PageContext {
  username: string;
  role: Role;
  csrfToken: string;
}

type Nav = 'listings' | 'history' | 'plans' | 'audit' | 'users';

const STATUS_LABELS: Record<RecordStatus, string> = {
  pending: 'Pending',
  held: 'Held',
  accepted: 'Accepted',
  duplicate: 'Duplicate',
  not_subscribed: 'Not subscribed',
  rejected: 'Rejected',
  expired: 'Expired',
};

/** A status badge (text, not colour alone, carries the meaning). */
export function statusBadge(status: RecordStatus | undefined): SafeHtml {
  if (!status) return html`<span class="muted">No records yet</span>`;
  return html`<span class="badge badge-${status}">${STATUS_LABELS[status]}</span>`;
}

/** `2026-11-26 10:00 UTC`. */
export function formatTime(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** `2026-11-26`, or "open-ended" for far-future ends of subscriptions. */
export function formatDate(d: Date): string {
  return d.getUTCFullYear() >= 2100 ? 'open-ended' : d.toISOString().slice(0, 10);
}

const NAV: { id: Nav; href: string; label: string; icon: string }[] = [
  { id: 'listings', href: '/listings', label: 'Product listings', icon: '▦' },
  { id: 'history', href: '/history', label: 'Metering history', icon: '≣' },
  { id: 'plans', href: '/plans', label: 'Plans', icon: '◇' },
  { id: 'audit', href: '/audit', label: 'Audit', icon: '✓' },
  { id: 'users', href: '/users', label: 'Users', icon: '☺' },
];

/** The page shell: skip link, left sidebar, main content. */
export function layout(ctx: PageContext, active: Nav, title: string, body: SafeHtml): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="csrf-token" content="${ctx.csrfToken}" />
        <title>${title} · Meterstream</title>
        <link rel="stylesheet" href="/static/app.css" />
        <script src="/static/app.js" defer></script>
      </head>
      <body>
        <a class="skip-link" href="#main">Skip to content</a>
        <div class="shell">
          <aside class="sidebar">
            <div class="brand">
              <span class="brand-mark" aria-hidden="true">◢</span> Meterstream
            </div>
            <nav aria-label="Main">
              <ul>
                ${NAV.filter((n) => n.id !== 'users' || ctx.role === 'admin').map(
                  (n) =>
                    html`<li>
                      <a
                        href="${n.href}"
                        ${n.id === active ? html` aria-current="page" class="active"` : ''}
                        ><span class="nav-icon" aria-hidden="true">${n.icon}</span>${n.label}</a
                      >
                    </li>`,
                )}
              </ul>
            </nav>
            <div class="sidebar-foot">
              <div class="who">
                <span class="who-name">${ctx.username}</span
                ><span class="role role-${ctx.role}">${ctx.role}</span>
              </div>
              <form method="post" action="/logout">
                <input type="hidden" name="_csrf" value="${ctx.csrfToken}" />
                <button type="submit" class="link-button">Sign out</button>
              </form>
            </div>
          </aside>
          <main id="main" tabindex="-1">${body}</main>
        </div>
      </body>
    </html>`.text;
}

/** The sign-in page. */
export function loginPage(csrfToken: string, error?: string, username = ''): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Sign in · Meterstream</title>
        <link rel="stylesheet" href="/static/app.css" />
      </head>
      <body class="login-body">
        <main class="login-card">
          <div class="brand brand-dark">
            <span class="brand-mark" aria-hidden="true">◢</span> Meterstream
          </div>
          <h1>Sign in to the seller console</h1>
          ${error ? html`<p class="alert alert-error" role="alert" id="login-error">${error}</p>` : ''}
          <form method="post" action="/login" class="stack">
            <input type="hidden" name="_csrf" value="${csrfToken}" />
            <label for="username">Username</label>
            <input
              id="username"
              name="username"
              autocomplete="username"
              required
              value="${username}"
              ${error ? html`aria-describedby="login-error"` : ''}
              autofocus
            />
            <label for="password">Password</label>
            <input
              id="password"
              name="password"
              type="password"
              autocomplete="current-password"
              required
            />
            <button type="submit" class="primary">Sign in</button>
          </form>
        </main>
      </body>
    </html>`.text;
}

/** One row of the product listings table. */
export interface ListingRow {
  plan: Plan;
  dimensions: string[];
  subscribers: number;
  lastStatus: RecordStatus | undefined;
}

/** Product listings: one row per plan, with the Actions column. */
export function listingsPage(ctx: PageContext, rows: readonly ListingRow[]): string {
  const body = html` <header class="page-head">
      <h1>Product listings</h1>
      <p class="lead">
        Your AWS Marketplace SaaS products, their metering plans and how their last records went.
      </p>
    </header>
    <div class="card table-wrap">
      <table class="data" id="listings">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Product code / license ARN</th>
            <th scope="col">Pricing model</th>
            <th scope="col">Dimensions</th>
            <th scope="col" class="num">Subscribers</th>
            <th scope="col">Last metering status</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          ${
            rows.length === 0
              ? html`<tr>
                  <td colspan="7" class="empty">No plans found. Add a plan file under plans/.</td>
                </tr>`
              : ''
          }
          ${rows.map(
            (r) =>
              html`<tr data-product="${r.plan.productCode}">
                <th scope="row" class="strong">${r.plan.name}</th>
                <td>
                  <code>${r.plan.productCode}</code
                  >${r.plan.licenseArn ? html`<div class="sub"><code>${r.plan.licenseArn}</code></div>` : ''}
                </td>
                <td>
                  <span class="pill"
                    >${r.plan.pricingModel === 'contract' ? 'Contract' : 'Subscription'}</span
                  >
                </td>
                <td>${r.dimensions.map((d) => html`<code class="dim">${d}</code> `)}</td>
                <td class="num">${r.subscribers}</td>
                <td>${statusBadge(r.lastStatus)}</td>
                <td>
                  <a
                    class="button small"
                    href="/listings/${encodeURIComponent(r.plan.productCode)}/contracts"
                    >View contracts and send metering information</a
                  >
                </td>
              </tr>`,
          )}
        </tbody>
      </table>
    </div>`;
  return layout(ctx, 'listings', 'Product listings', body);
}

/** One contract row of the contracts page. */
export interface ContractRow {
  sub: Subscription;
  active: boolean;
  /** Whole units per dimension. */
  entitlements: Map<string, bigint>;
  /** Micros per dimension. */
  usage: Map<string, bigint>;
  lastStatus: RecordStatus | undefined;
}

/** The contracts of one listing, with an input per dimension, selection and the submit flow. */
export function contractsPage(
  ctx: PageContext,
  plan: Plan,
  dimensions: readonly { name: string; unit: string }[],
  rows: readonly ContractRow[],
  hour: Date,
): string {
  const submit = canSubmit(ctx.role);
  const customerLabel =
    plan.customerIdStyle === 'customerAwsAccountId' ? 'AWS account ID' : 'Customer ID';
  const body = html` <nav class="crumbs" aria-label="Breadcrumb">
      <a href="/listings">Product listings</a> <span aria-hidden="true">/</span>
      <span aria-current="page">${plan.name}</span>
    </nav>
    <header class="page-head">
      <h1>${plan.name}: contracts</h1>
      <p class="lead">
        <code>${plan.productCode}</code> ·
        ${plan.pricingModel === 'contract' ? 'Contract: only usage beyond the entitlement is billed' : 'Subscription: every unit is billed'}
        · usage is metered for the hour starting <strong>${formatTime(hour)}</strong>
      </p>
    </header>
    <form id="contracts-form" class="card table-wrap" data-product="${plan.productCode}" novalidate>
      <div id="form-errors" class="alert alert-error" role="alert" tabindex="-1" hidden></div>
      <table class="data contracts" id="contracts">
        <caption class="sr-only">
          Contracts of ${plan.name}; select contracts and enter usage per dimension
        </caption>
        <thead>
          <tr>
            <th scope="col" class="check">
              ${
                submit
                  ? html`<input
                      type="checkbox"
                      id="select-all"
                      aria-label="Select all contracts"
                    />`
                  : html`<span class="sr-only">Selection</span>`
              }
            </th>
            <th scope="col">Buyer / ${customerLabel}</th>
            <th scope="col">Agreement / period</th>
            <th scope="col">Last status</th>
            ${dimensions.map(
              (d) =>
                html`<th scope="col" class="qty-col">
                  ${d.name}<span class="unit">${d.unit} · used / included</span>
                </th>`,
            )}
          </tr>
        </thead>
        <tbody>
          ${
            rows.length === 0
              ? html`<tr>
                  <td colspan="${4 + dimensions.length}" class="empty">
                    No contracts or subscriptions for this product yet.
                  </td>
                </tr>`
              : ''
          }
          ${rows.map((r, i) => {
            const disabled = !r.active;
            const who = r.sub.buyerName || r.sub.customer;
            const cells = dimensions.map((d) => {
              const ent = r.entitlements.get(d.name);
              const used = formatMicros(r.usage.get(d.name) ?? 0n);
              const included =
                ent === undefined ? (plan.pricingModel === 'contract' ? '0' : '—') : String(ent);
              const input = submit
                ? html`<input
                    type="text"
                    inputmode="decimal"
                    autocomplete="off"
                    class="qty"
                    data-dimension="${d.name}"
                    aria-label="${d.name} (${d.unit}) for ${who}"
                    placeholder="0"
                    ${disabled ? html` disabled` : ''}
                  />`
                : '';
              return html`<td class="qty-col">
                ${input}
                <div class="usage" data-dimension="${d.name}">
                  <span title="Usage so far in the contract period">${used}</span> /
                  <span title="Included in the contract (entitlement)">${included}</span>
                </div>
              </td>`;
            });
            const box = submit
              ? html`<input
                  type="checkbox"
                  class="row-select"
                  id="sel-${i}"
                  aria-label="Select ${who}"
                  ${disabled ? html` disabled` : ''}
                />`
              : '';
            const state = disabled
              ? html` <span class="pill pill-muted"
                  >${r.sub.status === 'active' ? 'outside period' : r.sub.status}</span
                >`
              : '';
            return html`<tr
              data-customer="${r.sub.customer}"
              data-buyer="${r.sub.buyerName}"
              class="${disabled ? 'inactive' : ''}"
            >
              <td class="check">${box}</td>
              <th scope="row">
                <span class="strong">${r.sub.buyerName || '—'}</span>${state}
                <div class="sub"><code>${r.sub.customer}</code></div>
              </th>
              <td>
                <div>${r.sub.agreementId || html`<span class="muted">no agreement id</span>`}</div>
                <div class="sub nowrap">
                  ${formatDate(r.sub.periodStart)} → ${formatDate(r.sub.periodEnd)}
                </div>
              </td>
              <td class="last-status">${statusBadge(r.lastStatus)}</td>
              ${cells}
            </tr>`;
          })}
        </tbody>
      </table>
    </form>
    ${
      submit
        ? html`<div class="action-bar">
              <span id="selection-count" class="muted" aria-live="polite"
                >No contracts selected</span
              >
              <button type="button" id="submit-metering" class="primary">
                Submit metering info
              </button>
            </div>
            <dialog
              id="confirm-dialog"
              aria-labelledby="confirm-title"
              aria-describedby="confirm-desc"
            >
              <h2 id="confirm-title" tabindex="-1">Send metering information?</h2>
              <p id="confirm-desc">
                These records go to AWS Marketplace for the hour starting
                <strong id="confirm-hour"></strong>. AWS bills the first quantity it receives for
                each contract, dimension and hour; a send cannot be taken back.
              </p>
              <div class="table-wrap dialog-table">
                <table class="data compact" id="confirm-table">
                  <thead>
                    <tr>
                      <th scope="col">Buyer</th>
                      <th scope="col">Customer</th>
                      <th scope="col">Dimension</th>
                      <th scope="col" class="num">Quantity</th>
                      <th scope="col" class="num">Entitlement</th>
                      <th scope="col" class="num">Used so far</th>
                      <th scope="col" class="num">Overage (billed)</th>
                    </tr>
                  </thead>
                  <tbody></tbody>
                </table>
              </div>
              <p class="muted small" id="confirm-summary"></p>
              <div class="dialog-actions">
                <button type="button" class="secondary" id="confirm-cancel">Cancel</button>
                <button type="button" class="primary" id="confirm-send">Confirm send</button>
              </div>
            </dialog>`
        : html`<p class="alert alert-info" id="read-only-note">
            You have read-only access (role <strong>${ctx.role}</strong>). An operator or admin can
            send metering information.
          </p>`
    }
    <section id="submission-status" class="card" aria-labelledby="status-title" hidden>
      <h2 id="status-title">Submission <code id="submission-id"></code></h2>
      <p id="status-summary" class="muted" aria-live="polite"></p>
      <div class="table-wrap">
        <table class="data compact" id="status-table">
          <thead>
            <tr>
              <th scope="col">Buyer</th>
              <th scope="col">Customer</th>
              <th scope="col">Dimension</th>
              <th scope="col" class="num">Quantity</th>
              <th scope="col" class="num">Billed</th>
              <th scope="col">Status</th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody></tbody>
        </table>
      </div>
    </section>
    <script type="application/json" id="page-data">
      ${jsonForScript({ productCode: plan.productCode, canSubmit: submit })}
    </script>`;
  return layout(ctx, 'listings', `${plan.name}: contracts`, body);
}

function optionList(
  values: readonly string[],
  selected: string | undefined,
  allLabel: string,
): SafeHtml {
  return html`<option value="">${allLabel}</option>
    ${values.map(
      (v) => html`<option value="${v}" ${v === selected ? html` selected` : ''}>${v}</option>`,
    )}`;
}

function dtLocal(d: Date | undefined): string {
  return d ? d.toISOString().slice(0, 16) : '';
}

/** Metering history: every ledger record, filters, CSV export. */
export function historyPage(
  ctx: PageContext,
  catalog: PlanCatalog,
  filter: LedgerFilter,
  rows: readonly LedgerRecord[],
  manual: ReadonlyMap<string, string>,
  query: string,
): string {
  const dims = [
    ...new Set(
      catalog.plans.flatMap((p) => p.versions.flatMap((v) => v.dimensions.map((d) => d.name))),
    ),
  ].sort();
  const body = html` <header class="page-head">
      <h1>Metering history</h1>
      <p class="lead">
        Every record sent to AWS (automatic and manual), newest hour first. Times are UTC.
      </p>
    </header>
    <form
      class="card filters"
      method="get"
      action="/history"
      role="search"
      aria-label="Filter metering records"
    >
      <div class="field">
        <label for="f-product">Product</label
        ><select id="f-product" name="product">
          ${optionList(
            catalog.plans.map((p) => p.productCode),
            filter.productCode,
            'All products',
          )}
        </select>
      </div>
      <div class="field">
        <label for="f-customer">Customer</label
        ><input
          id="f-customer"
          name="customer"
          value="${filter.customer ?? ''}"
          placeholder="ID or AWS account"
        />
      </div>
      <div class="field">
        <label for="f-dimension">Dimension</label
        ><select id="f-dimension" name="dimension">
          ${optionList(dims, filter.dimension, 'All dimensions')}
        </select>
      </div>
      <div class="field">
        <label for="f-from">From (UTC)</label
        ><input id="f-from" name="from" type="datetime-local" value="${dtLocal(filter.from)}" />
      </div>
      <div class="field">
        <label for="f-to">To (UTC)</label
        ><input id="f-to" name="to" type="datetime-local" value="${dtLocal(filter.to)}" />
      </div>
      <div class="field actions">
        <button type="submit" class="primary">Filter</button
        ><a class="button secondary" href="/history">Reset</a
        ><a
          class="button secondary"
          id="export-csv"
          href="/history.csv${query ? `?${query}` : ''}"
          download
          >Export CSV</a
        >
      </div>
    </form>
    <div class="card table-wrap">
      <table class="data compact" id="history">
        <thead>
          <tr>
            <th scope="col">Hour</th>
            <th scope="col">Product</th>
            <th scope="col">Customer</th>
            <th scope="col">Dimension</th>
            <th scope="col" class="num">Quantity</th>
            <th scope="col">Status</th>
            <th scope="col">Reason</th>
            <th scope="col">Source</th>
            <th scope="col">Updated</th>
          </tr>
        </thead>
        <tbody>
          ${
            rows.length === 0
              ? html`<tr>
                  <td colspan="9" class="empty">No metering records match these filters.</td>
                </tr>`
              : ''
          }
          ${rows.map((r) => {
            const actor = manual.get(
              `${r.productCode}|${r.customer}|${r.dimension}|${r.hour.getTime()}`,
            );
            return html`<tr>
              <td class="nowrap">${formatTime(r.hour)}</td>
              <td><code>${r.productCode}</code></td>
              <td><code>${r.customer}</code></td>
              <td><code class="dim">${r.dimension}</code></td>
              <td class="num">${r.quantity}</td>
              <td>${statusBadge(r.status)}</td>
              <td class="reason">${r.reason}</td>
              <td>
                ${actor ? html`<span class="pill">Manual · ${actor}</span>` : html`<span class="muted">Automatic</span>`}
              </td>
              <td class="nowrap muted" title="${r.updatedAt.toISOString()}">
                ${r.updatedAt.toISOString().slice(5, 16).replace('T', ' ')}
              </td>
            </tr>`;
          })}
        </tbody>
      </table>
      ${rows.length >= filter.limit ? html`<p class="muted small pad">Showing the first ${filter.limit} records; narrow the filters or export CSV for more.</p>` : ''}
    </div>`;
  return layout(ctx, 'history', 'Metering history', body);
}

/** Plans: each product's plan and all its versions, the one in force marked. */
export function plansPage(ctx: PageContext, catalog: PlanCatalog, now: Date): string {
  const body = html` <header class="page-head">
      <h1>Plans</h1>
      <p class="lead">
        The metering plan of each product. A version applies from its hour on; hours already metered
        keep their version.
      </p>
    </header>
    ${catalog.plans.map((p) => {
      const current = catalog.versionAt(p.productCode, now);
      return html`<section class="card plan" aria-labelledby="plan-${p.productCode}">
        <h2 id="plan-${p.productCode}">${p.name}</h2>
        <dl class="facts">
          <div>
            <dt>Product code</dt>
            <dd><code>${p.productCode}</code></dd>
          </div>
          ${
            p.licenseArn
              ? html`<div>
                  <dt>License ARN</dt>
                  <dd><code>${p.licenseArn}</code></dd>
                </div>`
              : ''
          }
          <div>
            <dt>Pricing model</dt>
            <dd>${p.pricingModel}</dd>
          </div>
          <div>
            <dt>Customers identified by</dt>
            <dd>
              ${p.customerIdStyle === 'customerAwsAccountId' ? 'AWS account ID + license ARN' : 'customer identifier'}
            </dd>
          </div>
        </dl>
        ${[...p.versions].reverse().map(
          (v) =>
            html`<h3>
                Version effective ${formatTime(v.effectiveFrom)}
                ${v === current ? html`<span class="badge badge-accepted">In force</span>` : v.effectiveFrom > now ? html`<span class="pill">Scheduled</span>` : html`<span class="pill pill-muted">Superseded</span>`}
              </h3>
              <div class="table-wrap">
                <table class="data compact">
                  <thead>
                    <tr>
                      <th scope="col">Dimension</th>
                      <th scope="col">Unit</th>
                      <th scope="col" class="num">Price per unit (USD)</th>
                      <th scope="col">Rounding</th>
                      <th scope="col">Description</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${v.dimensions.map(
                      (d) =>
                        html`<tr>
                          <td><code class="dim">${d.name}</code></td>
                          <td>${d.unit}</td>
                          <td class="num">${d.pricePerUnit}</td>
                          <td>${d.rounding}</td>
                          <td>${d.description}</td>
                        </tr>`,
                    )}
                  </tbody>
                </table>
              </div>`,
        )}
      </section>`;
    })}`;
  return layout(ctx, 'plans', 'Plans', body);
}

/** Audit: the auditor's findings, or an empty state. */
export function auditPage(ctx: PageContext, findings: readonly AuditFinding[] | undefined): string {
  const body = html` <header class="page-head">
      <h1>Audit</h1>
      <p class="lead">
        Differences the auditor found between the ledger and what CloudTrail says AWS received.
      </p>
    </header>
    ${
      findings === undefined || findings.length === 0
        ? html`<div class="card empty-state" id="audit-empty">
            <div class="empty-icon" aria-hidden="true">✓</div>
            <h2>No findings</h2>
            <p class="muted">
              ${
                findings === undefined
                  ? 'The auditor has not reported yet: its findings table does not exist in this database.'
                  : 'Every audited record matches CloudTrail.'
              }
            </p>
          </div>`
        : html`<div class="card table-wrap">
            <table class="data compact" id="findings">
              <thead>
                <tr>
                  <th scope="col">Detected</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Status</th>
                  <th scope="col">Product</th>
                  <th scope="col">Customer</th>
                  <th scope="col">Dimension</th>
                  <th scope="col">Hour</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                ${findings.map(
                  (f) =>
                    html`<tr>
                      <td class="nowrap">${formatTime(f.detectedAt)}</td>
                      <td><span class="badge badge-rejected">${f.kind}</span></td>
                      <td>${f.status}</td>
                      <td><code>${f.productCode}</code></td>
                      <td><code>${f.customer}</code></td>
                      <td>${f.dimension}</td>
                      <td class="nowrap">${f.hour ? formatTime(f.hour) : ''}</td>
                      <td>${f.detail}</td>
                    </tr>`,
                )}
              </tbody>
            </table>
          </div>`
    }`;
  return layout(ctx, 'audit', 'Audit', body);
}

/** A plain error page inside the shell. */
export function errorPage(ctx: PageContext, status: number, message: string): string {
  return layout(
    ctx,
    'listings',
    `Error ${status}`,
    html`<header class="page-head">
        <h1>
          ${status === 404 ? 'Not found' : status === 403 ? 'Not allowed' : 'Something went wrong'}
        </h1>
      </header>
      <p class="alert alert-error" role="alert">${message}</p>
      <p><a href="/listings">Back to product listings</a></p>`,
  );
}

/** CSV of ledger records (RFC 4180 quoting; cells starting with = + - @ are prefixed against formula injection). */
export function historyCsv(
  rows: readonly LedgerRecord[],
  manual: ReadonlyMap<string, string>,
): string {
  const cell = (v: string | number): string => {
    let s = String(v);
    if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const head = [
    'hour',
    'product_code',
    'customer',
    'customer_kind',
    'dimension',
    'quantity',
    'status',
    'state',
    'reason',
    'metering_record_id',
    'attempts',
    'source',
    'actor',
    'updated_at',
  ];
  const lines = rows.map((r) => {
    const actor = manual.get(`${r.productCode}|${r.customer}|${r.dimension}|${r.hour.getTime()}`);
    return [
      r.hour.toISOString(),
      r.productCode,
      r.customer,
      r.customerKind,
      r.dimension,
      r.quantity,
      r.status,
      r.state,
      r.reason,
      r.meteringRecordId,
      r.attempts,
      actor ? 'console' : 'automatic',
      actor ?? '',
      r.updatedAt.toISOString(),
    ]
      .map(cell)
      .join(',');
  });
  return `${[head.join(','), ...lines].join('\r\n')}\r\n`;
}

/** Users and their roles (admins only; hashes are never shown). */
export function usersPage(ctx: PageContext, users: readonly User[]): string {
  const what: Record<Role, string> = {
    viewer: 'Reads listings, contracts, history, plans and audit',
    operator: 'Also sends metering information',
    admin: 'Also sees this page',
  };
  const body = html`<header class="page-head">
      <h1>Users</h1>
      <p class="lead">
        Configured in the users file; add one with <code>node dist/add-user.js --help</code>.
        Changes apply when the console restarts.
      </p>
    </header>
    <div class="card table-wrap">
      <table class="data" id="users">
        <thead>
          <tr>
            <th scope="col">Username</th>
            <th scope="col">Role</th>
            <th scope="col">May</th>
          </tr>
        </thead>
        <tbody>
          ${[...users]
            .sort((a, b) => a.username.localeCompare(b.username))
            .map(
              (u) =>
                html`<tr>
                  <th scope="row" class="strong">${u.username}</th>
                  <td><span class="role role-${u.role}">${u.role}</span></td>
                  <td>${what[u.role]}</td>
                </tr>`,
            )}
        </tbody>
      </table>
    </div>`;
  return layout(ctx, 'users', 'Users', body);
}
