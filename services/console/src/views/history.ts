import type { PlanCatalog } from '@meterstream/plans';
import { html, type SafeHtml } from '../html.js';
import { recordKey, type LedgerFilter, type LedgerEntry } from '../model.js';
import {
  emptyRow,
  formatTime,
  num,
  optionList,
  pageHead,
  statusBadge,
  tableHead,
  type PageContext,
  type TableColumn,
} from './components.js';
import { layout } from './layout.js';

function dtLocal(d: Date | undefined): string {
  return d ? d.toISOString().slice(0, 16) : '';
}

/** One labelled control of the filter form. */
function field(id: string, label: string, control: SafeHtml): SafeHtml {
  return html`<div class="field"><label for="${id}">${label}</label>${control}</div>`;
}

/** A filter of the form that picks one of `values`, or all. */
function selectField(
  name: string,
  label: string,
  values: readonly string[],
  selected: string | undefined,
  allLabel: string,
): SafeHtml {
  return field(
    `f-${name}`,
    label,
    html`<select id="f-${name}" name="${name}">
      ${optionList(values, selected, allLabel)}
    </select>`,
  );
}

function filterForm(catalog: PlanCatalog, filter: LedgerFilter, query: string): SafeHtml {
  const dims = [
    ...new Set(
      catalog.plans.flatMap((p) => p.versions.flatMap((v) => v.dimensions.map((d) => d.name))),
    ),
  ].sort();
  const products = catalog.plans.map((p) => p.productCode);
  return html`<form
    class="card filters"
    method="get"
    action="/history"
    role="search"
    aria-label="Filter metering records"
  >
    ${selectField('product', 'Product', products, filter.productCode, 'All products')}
    ${field(
      'f-customer',
      'Customer',
      html`<input
        id="f-customer"
        name="customer"
        value="${filter.customer ?? ''}"
        placeholder="ID or AWS account"
      />`,
    )}
    ${selectField('dimension', 'Dimension', dims, filter.dimension, 'All dimensions')}
    ${(['from', 'to'] as const).map((k) =>
      field(
        `f-${k}`,
        `${k === 'from' ? 'From' : 'To'} (UTC)`,
        html`<input id="f-${k}" name="${k}" type="datetime-local" value="${dtLocal(filter[k])}" />`,
      ),
    )}
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
  </form>`;
}

/** A ledger record and, when it was sent from the console, who sent it. */
type HistoryRow = { r: LedgerEntry; actor: string | undefined };

/** The history table's columns: each heading with how a record fills its cell. */
const HISTORY_COLUMNS: readonly TableColumn<HistoryRow>[] = [
  { head: 'Hour', cell: ({ r }) => html`<td class="nowrap">${formatTime(r.hour)}</td>` },
  { head: 'Product', cell: ({ r }) => html`<td><code>${r.productCode}</code></td>` },
  { head: 'Customer', cell: ({ r }) => html`<td><code>${r.customer}</code></td>` },
  { head: 'Dimension', cell: ({ r }) => html`<td><code class="dim">${r.dimension}</code></td>` },
  { head: num('Quantity'), cell: ({ r }) => html`<td class="num">${r.quantity}</td>` },
  { head: 'Status', cell: ({ r }) => html`<td>${statusBadge(r.status)}</td>` },
  { head: 'Reason', cell: ({ r }) => html`<td class="reason">${r.reason}</td>` },
  {
    head: 'Source',
    cell: ({ actor }) =>
      html`<td>
        ${actor ? html`<span class="pill">Manual · ${actor}</span>` : html`<span class="muted">Automatic</span>`}
      </td>`,
  },
  {
    head: 'Updated',
    cell: ({ r }) =>
      html`<td class="nowrap muted" title="${r.updatedAt.toISOString()}">
        ${r.updatedAt.toISOString().slice(5, 16).replace('T', ' ')}
      </td>`,
  },
];

function historyRow(row: HistoryRow): SafeHtml {
  return html`<tr>
    ${HISTORY_COLUMNS.map((c) => c.cell(row))}
  </tr>`;
}

/** Metering history: every ledger record, filters, CSV export. */
export function historyPage(
  ctx: PageContext,
  catalog: PlanCatalog,
  filter: LedgerFilter,
  rows: readonly LedgerEntry[],
  manual: ReadonlyMap<string, string>,
  query: string,
): string {
  const body = html`${pageHead(
      'Metering history',
      'Every record sent to AWS (automatic and manual), newest hour first. Times are UTC.',
    )}
    ${filterForm(catalog, filter, query)}
    <div class="card table-wrap">
      <table class="data compact" id="history">
        ${tableHead(HISTORY_COLUMNS.map((c) => c.head))}
        <tbody>
          ${emptyRow(rows.length, HISTORY_COLUMNS.length, 'No metering records match these filters.')}
          ${rows.map((r) => historyRow({ r, actor: manual.get(recordKey(r)) }))}
        </tbody>
      </table>
      ${rows.length >= filter.limit ? html`<p class="muted small pad">Showing the first ${filter.limit} records; narrow the filters or export CSV for more.</p>` : ''}
    </div>`;
  return layout(ctx, 'history', 'Metering history', body);
}

const CSV_HEAD = [
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

/** One CSV cell: RFC 4180 quoting; a leading = + - @ tab or CR is prefixed against formula injection. */
function csvCell(v: string | number): string {
  let s = String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV of ledger records (RFC 4180 quoting; cells starting with = + - @ are prefixed against formula injection). */
export function historyCsv(
  rows: readonly LedgerEntry[],
  manual: ReadonlyMap<string, string>,
): string {
  const lines = rows.map((r) => {
    const actor = manual.get(recordKey(r));
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
      .map(csvCell)
      .join(',');
  });
  return `${[CSV_HEAD.join(','), ...lines].join('\r\n')}\r\n`;
}
