/** Pieces every page of the console is built from. */
import { html, type HtmlValue, type SafeHtml } from '../html.js';
import type { RecordStatus, Role } from '../model.js';

/** Who is looking at a page, and the CSRF token its forms and scripts send back. */
export interface PageContext {
  username: string;
  role: Role;
  csrfToken: string;
}

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

/** The heading of a page, with its lead paragraph when given. */
export function pageHead(title: HtmlValue, lead?: HtmlValue): SafeHtml {
  return html`<header class="page-head">
    <h1>${title}</h1>
    ${lead === undefined ? '' : html`<p class="lead">${lead}</p>`}
  </header>`;
}

/** A column heading: its text, or its content and class. */
export type Column = string | { label: HtmlValue; className: string };

/** A table's `<thead>`: one row of `<th scope="col">`. */
export function tableHead(columns: readonly Column[]): SafeHtml {
  return html`<thead>
    <tr>
      ${columns.map((c) =>
        typeof c === 'string'
          ? html`<th scope="col">${c}</th>`
          : html`<th scope="col" class="${c.className}">${c.label}</th>`,
      )}
    </tr>
  </thead>`;
}

/** A column of a table of `R`s: its heading and how a row fills its cell. */
export interface TableColumn<R> {
  head: Column;
  cell: (row: R) => SafeHtml;
}

/** A right-aligned (numeric) column. */
export const num = (label: string): Column => ({ label, className: 'num' });

/** The one row of an empty table, when it is empty. */
export function emptyRow(rows: number, colspan: number, message: string): SafeHtml | '' {
  return rows === 0
    ? html`<tr>
        <td colspan="${colspan}" class="empty">${message}</td>
      </tr>`
    : '';
}

/** `<option>`s: "all" first (empty value), then each value, `selected` marked. */
export function optionList(
  values: readonly string[],
  selected: string | undefined,
  allLabel: string,
): SafeHtml {
  return html`<option value="">${allLabel}</option>
    ${values.map(
      (v) => html`<option value="${v}" ${v === selected ? html` selected` : ''}>${v}</option>`,
    )}`;
}
