import type { Plan } from '@meterstream/plans';
import { formatMicros } from '@meterstream/runtime';
import { html, jsonForScript, type SafeHtml } from '../html.js';
import { canSubmit, type RecordStatus, type Role, type Subscription } from '../model.js';
import {
  emptyRow,
  formatDate,
  formatTime,
  num,
  pageHead,
  statusBadge,
  tableHead,
  type Column,
  type PageContext,
} from './components.js';
import { layout } from './layout.js';

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

/** A dimension of the plan version in force, as the table's columns show it. */
type Dimension = { name: string; unit: string };

/** What one row needs besides its contract. */
interface RowView {
  plan: Plan;
  dimensions: readonly Dimension[];
  submit: boolean;
}

/** The usage (and, for those who may submit, the input) of one dimension of one contract. */
function quantityCell(v: RowView, r: ContractRow, d: Dimension, who: string): SafeHtml {
  const ent = r.entitlements.get(d.name);
  const used = formatMicros(r.usage.get(d.name) ?? 0n);
  const included =
    ent === undefined ? (v.plan.pricingModel === 'contract' ? '0' : '—') : String(ent);
  const input = v.submit
    ? html`<input
        type="text"
        inputmode="decimal"
        autocomplete="off"
        class="qty"
        data-dimension="${d.name}"
        aria-label="${d.name} (${d.unit}) for ${who}"
        placeholder="0"
        ${r.active ? '' : html` disabled`}
      />`
    : '';
  return html`<td class="qty-col">
    ${input}
    <div class="usage" data-dimension="${d.name}">
      <span title="Usage so far in the contract period">${used}</span> /
      <span title="Included in the contract (entitlement)">${included}</span>
    </div>
  </td>`;
}

function contractRow(v: RowView, r: ContractRow, i: number): SafeHtml {
  const disabled = !r.active;
  const who = r.sub.buyerName || r.sub.customer;
  const box = v.submit
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
        ${formatDate(new Date(r.sub.periodStart))} → ${formatDate(new Date(r.sub.periodEnd))}
      </div>
    </td>
    <td class="last-status">${statusBadge(r.lastStatus)}</td>
    ${v.dimensions.map((d) => quantityCell(v, r, d, who))}
  </tr>`;
}

function contractsTable(v: RowView, rows: readonly ContractRow[]): SafeHtml {
  const customerLabel =
    v.plan.customerIdStyle === 'customerAwsAccountId' ? 'AWS account ID' : 'Customer ID';
  const selectAll = v.submit
    ? html`<input type="checkbox" id="select-all" aria-label="Select all contracts" />`
    : html`<span class="sr-only">Selection</span>`;
  return html`<table class="data contracts" id="contracts">
    <caption class="sr-only">
      Contracts of ${v.plan.name}; select contracts and enter usage per dimension
    </caption>
    ${tableHead([
      { label: selectAll, className: 'check' },
      `Buyer / ${customerLabel}`,
      'Agreement / period',
      'Last status',
      ...v.dimensions.map((d) => ({
        label: html`${d.name}<span class="unit">${d.unit} · used / included</span>`,
        className: 'qty-col',
      })),
    ])}
    <tbody>
      ${emptyRow(
        rows.length,
        4 + v.dimensions.length,
        'No contracts or subscriptions for this product yet.',
      )}
      ${rows.map((r, i) => contractRow(v, r, i))}
    </tbody>
  </table>`;
}

/** The first columns of both tables of submission lines (the dialog's and the statuses'). */
const LINE_COLUMNS: readonly Column[] = ['Buyer', 'Customer', 'Dimension', num('Quantity')];

/** The submit button and the confirmation dialog (filled in by app.js from the preview). */
function submitControls(): SafeHtml {
  return html`<div class="action-bar">
      <span id="selection-count" class="muted" aria-live="polite">No contracts selected</span>
      <button type="button" id="submit-metering" class="primary">Submit metering info</button>
    </div>
    <dialog id="confirm-dialog" aria-labelledby="confirm-title" aria-describedby="confirm-desc">
      <h2 id="confirm-title" tabindex="-1">Send metering information?</h2>
      <p id="confirm-desc">
        These records go to AWS Marketplace for the hour starting
        <strong id="confirm-hour"></strong>. AWS bills the first quantity it receives for each
        contract, dimension and hour; a send cannot be taken back.
      </p>
      <div class="table-wrap dialog-table">
        <table class="data compact" id="confirm-table">
          ${tableHead([
            ...LINE_COLUMNS,
            num('Entitlement'),
            num('Used so far'),
            num('Overage (billed)'),
          ])}
          <tbody></tbody>
        </table>
      </div>
      <p class="muted small" id="confirm-summary"></p>
      <div class="dialog-actions">
        <button type="button" class="secondary" id="confirm-cancel">Cancel</button>
        <button type="button" class="primary" id="confirm-send">Confirm send</button>
      </div>
    </dialog>`;
}

function readOnlyNote(role: Role): SafeHtml {
  return html`<p class="alert alert-info" id="read-only-note">
    You have read-only access (role <strong>${role}</strong>). An operator or admin can send
    metering information.
  </p>`;
}

/** Where app.js shows the statuses of the submission just sent. */
function submissionStatus(): SafeHtml {
  return html`<section id="submission-status" class="card" aria-labelledby="status-title" hidden>
    <h2 id="status-title">Submission <code id="submission-id"></code></h2>
    <p id="status-summary" class="muted" aria-live="polite"></p>
    <div class="table-wrap">
      <table class="data compact" id="status-table">
        ${tableHead([...LINE_COLUMNS, num('Billed'), 'Status', 'Reason'])}
        <tbody></tbody>
      </table>
    </div>
  </section>`;
}

/** The contracts of one listing, with an input per dimension, selection and the submit flow. */
export function contractsPage(
  ctx: PageContext,
  plan: Plan,
  dimensions: readonly Dimension[],
  rows: readonly ContractRow[],
  hour: Date,
): string {
  const submit = canSubmit(ctx.role);
  const body = html` <nav class="crumbs" aria-label="Breadcrumb">
      <a href="/listings">Product listings</a> <span aria-hidden="true">/</span>
      <span aria-current="page">${plan.name}</span>
    </nav>
    ${pageHead(
      `${plan.name}: contracts`,
      html`<code>${plan.productCode}</code> ·
        ${plan.pricingModel === 'contract' ? 'Contract: only usage beyond the entitlement is billed' : 'Subscription: every unit is billed'}
        · usage is metered for the hour starting <strong>${formatTime(hour)}</strong>`,
    )}
    <form id="contracts-form" class="card table-wrap" data-product="${plan.productCode}" novalidate>
      <div id="form-errors" class="alert alert-error" role="alert" tabindex="-1" hidden></div>
      ${contractsTable({ plan, dimensions, submit }, rows)}
    </form>
    ${submit ? submitControls() : readOnlyNote(ctx.role)} ${submissionStatus()}
    <script type="application/json" id="page-data">
      ${jsonForScript({ productCode: plan.productCode, canSubmit: submit })}
    </script>`;
  return layout(ctx, 'listings', `${plan.name}: contracts`, body);
}
