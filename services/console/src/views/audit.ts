import { html, type SafeHtml } from '../html.js';
import type { AuditFinding } from '../model.js';
import { formatTime, pageHead, tableHead, type PageContext } from './components.js';
import { layout } from './layout.js';

function emptyState(findings: readonly AuditFinding[] | undefined): SafeHtml {
  return html`<div class="card empty-state" id="audit-empty">
    <div class="empty-icon" aria-hidden="true">✓</div>
    <h2>No findings</h2>
    <p class="muted">
      ${
        findings === undefined
          ? 'The auditor has not reported yet: its findings table does not exist in this database.'
          : 'Every audited record matches CloudTrail.'
      }
    </p>
  </div>`;
}

function findingsTable(findings: readonly AuditFinding[]): SafeHtml {
  return html`<div class="card table-wrap">
    <table class="data compact" id="findings">
      ${tableHead(['Detected', 'Kind', 'Status', 'Product', 'Customer', 'Dimension', 'Hour', 'Detail'])}
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
  </div>`;
}

/** Audit: the auditor's findings, or an empty state. */
export function auditPage(ctx: PageContext, findings: readonly AuditFinding[] | undefined): string {
  const body = html`${pageHead(
    'Audit',
    'Differences the auditor found between the ledger and what CloudTrail says AWS received.',
  )}
  ${findings === undefined || findings.length === 0 ? emptyState(findings) : findingsTable(findings)}`;
  return layout(ctx, 'audit', 'Audit', body);
}
