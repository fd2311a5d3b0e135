import type { PlanCatalog } from '@meterstream/plans';
import { html, type SafeHtml } from '../html.js';
import { recordKey, type LedgerFilter, type LedgerRecord } from '../model.js';
import {
  emptyRow,
  formatTime,
  num,
  optionList,
  pageHead,
  statusBadge,
  tableHead,
  type PageContext,
} from './components.js';
import { layout } from './layout.js';

function dtLocal(d: Date | undefined): string {
  return d ? d.toISOString().slice(0, 16) : '';
}

/** One labelled control of the filter form. */
function field(id: string, label: string, control: SafeHtml): SafeHtml {
  return html`<div class="field"><label for="${id}">${label}</label>${control}</div>`;
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
    ${field(
      'f-product',
      'Product',
      html`<select id="f-product" name="product">
        ${optionList(products, filter.productCode, 'All products')}
      </select>`,
    )}
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
    ${field(
      'f-dimension',
      'Dimension',
      html`<select id="f-dimension" name="dimension">
        ${optionList(dims, filter.dimension, 'All dimensions')}
      </select>`,
    )}
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

function historyRow(r: LedgerRecord, actor: string | undefined): SafeHtml {
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
  const body = html`${pageHead(
      'Metering history',
      'Every record sent to AWS (automatic and manual), newest hour first. Times are UTC.',
    )}
    ${filterForm(catalog, filter, query)}
    <div class="card table-wrap">
      <table class="data compact" id="history">
        ${tableHead([
          'Hour',
          'Product',
          'Customer',
          'Dimension',
          num('Quantity'),
          'Status',
          'Reason',
          'Source',
          'Updated',
        ])}
        <tbody>
          ${emptyRow(rows.length, 9, 'No metering records match these filters.')}
          ${rows.map((r) => historyRow(r, manual.get(recordKey(r))))}
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
  rows: readonly LedgerRecord[],
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
