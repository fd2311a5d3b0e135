import type { Plan } from '@meterstream/plans';
import { html, type SafeHtml } from '../html.js';
import type { RecordStatus } from '../model.js';
import { emptyRow, num, pageHead, statusBadge, tableHead, type PageContext } from './components.js';
import { layout } from './layout.js';

/** One row of the product listings table. */
export interface ListingRow {
  plan: Plan;
  dimensions: string[];
  subscribers: number;
  lastStatus: RecordStatus | undefined;
}

function listingRow(r: ListingRow): SafeHtml {
  return html`<tr data-product="${r.plan.productCode}">
    <th scope="row" class="strong">${r.plan.name}</th>
    <td>
      <code>${r.plan.productCode}</code
      >${r.plan.licenseArn ? html`<div class="sub"><code>${r.plan.licenseArn}</code></div>` : ''}
    </td>
    <td>
      <span class="pill">${r.plan.pricingModel === 'contract' ? 'Contract' : 'Subscription'}</span>
    </td>
    <td>${r.dimensions.map((d) => html`<code class="dim">${d}</code> `)}</td>
    <td class="num">${r.subscribers}</td>
    <td>${statusBadge(r.lastStatus)}</td>
    <td>
      <a class="button small" href="/listings/${encodeURIComponent(r.plan.productCode)}/contracts"
        >View contracts and send metering information</a
      >
    </td>
  </tr>`;
}

/** Product listings: one row per plan, with the Actions column. */
export function listingsPage(ctx: PageContext, rows: readonly ListingRow[]): string {
  const body = html`${pageHead(
      'Product listings',
      'Your AWS Marketplace SaaS products, their metering plans and how their last records went.',
    )}
    <div class="card table-wrap">
      <table class="data" id="listings">
        ${tableHead([
          'Name',
          'Product code / license ARN',
          'Pricing model',
          'Dimensions',
          num('Subscribers'),
          'Last metering status',
          'Actions',
        ])}
        <tbody>
          ${emptyRow(rows.length, 7, 'No plans found. Add a plan file under plans/.')}
          ${rows.map(listingRow)}
        </tbody>
      </table>
    </div>`;
  return layout(ctx, 'listings', 'Product listings', body);
}
