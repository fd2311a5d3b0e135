import type { Plan, PlanCatalog } from '@meterstream/plans';
import { html, type SafeHtml } from '../html.js';
import { formatTime, num, pageHead, tableHead, type PageContext } from './components.js';
import { layout } from './layout.js';

type Version = Plan['versions'][number];

/** One fact of the plan's `<dl>`. */
function fact(term: string, value: SafeHtml | string): SafeHtml {
  return html`<div>
    <dt>${term}</dt>
    <dd>${value}</dd>
  </div>`;
}

/** In force, scheduled (later) or superseded (earlier) at `now`. */
function versionBadge(v: Version, current: Version | undefined, now: Date): SafeHtml {
  if (v === current) return html`<span class="badge badge-accepted">In force</span>`;
  return v.effectiveFrom > now
    ? html`<span class="pill">Scheduled</span>`
    : html`<span class="pill pill-muted">Superseded</span>`;
}

function versionSection(v: Version, current: Version | undefined, now: Date): SafeHtml {
  return html`<h3>
      Version effective ${formatTime(v.effectiveFrom)} ${versionBadge(v, current, now)}
    </h3>
    <div class="table-wrap">
      <table class="data compact">
        ${tableHead(['Dimension', 'Unit', num('Price per unit (USD)'), 'Rounding', 'Description'])}
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
    </div>`;
}

function planSection(catalog: PlanCatalog, p: Plan, now: Date): SafeHtml {
  const current = catalog.versionAt(p.productCode, now);
  return html`<section class="card plan" aria-labelledby="plan-${p.productCode}">
    <h2 id="plan-${p.productCode}">${p.name}</h2>
    <dl class="facts">
      ${fact('Product code', html`<code>${p.productCode}</code>`)}
      ${p.licenseArn ? fact('License ARN', html`<code>${p.licenseArn}</code>`) : ''}
      ${fact('Pricing model', p.pricingModel)}
      ${fact(
        'Customers identified by',
        p.customerIdStyle === 'customerAwsAccountId'
          ? 'AWS account ID + license ARN'
          : 'customer identifier',
      )}
    </dl>
    ${[...p.versions].reverse().map((v) => versionSection(v, current, now))}
  </section>`;
}

/** Plans: each product's plan and all its versions, the one in force marked. */
export function plansPage(ctx: PageContext, catalog: PlanCatalog, now: Date): string {
  const body = html`${pageHead(
    'Plans',
    'The metering plan of each product. A version applies from its hour on; hours already metered keep their version.',
  )}
  ${catalog.plans.map((p) => planSection(catalog, p, now))}`;
  return layout(ctx, 'plans', 'Plans', body);
}
