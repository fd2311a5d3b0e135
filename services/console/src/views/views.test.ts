import { describe, expect, it } from 'vitest';
import { escapeHtml, html, jsonForScript } from '../html.js';
import { FINAL_STATUSES, statusOfLedgerState, type LedgerEntry } from '../model.js';
import { auditPage } from './audit.js';
import { statusBadge } from './components.js';
import { historyCsv } from './history.js';

const ctx = { username: 'u', role: 'viewer' as const, csrfToken: 't' };

describe('html', () => {
  it('escapes every interpolated string, including attributes', () => {
    const evil = `"><script>alert('x')</script>`;
    const out = html`<td title="${evil}">${evil}</td>`.text;
    expect(out).not.toContain('<script>');
    expect(out).toContain('&quot;&gt;&lt;script&gt;');
    expect(escapeHtml("a&b<c>'`")).toBe('a&amp;b&lt;c&gt;&#39;&#96;');
    expect(html`${['<a>', html`<b></b>`, null, undefined, false, 0]}`.text).toBe(
      '&lt;a&gt;<b></b>0',
    );
  });

  it('keeps </script> out of embedded JSON', () => {
    expect(jsonForScript({ a: '</script><x>' }).text).not.toMatch(/<\/script>|<x>/);
  });

  it('labels statuses in words, not colour alone', () => {
    expect(statusBadge('not_subscribed').text).toContain('Not subscribed');
    expect(statusBadge(undefined).text).toContain('No records yet');
  });

  it('shows a held ledger record as held (waiting on the seller), not as pending or final', () => {
    expect(statusOfLedgerState('held')).toBe('held');
    expect(FINAL_STATUSES).not.toContain('held');
    expect(statusBadge('held').text).toContain('Held');
  });
});

describe('history CSV', () => {
  it('quotes cells and neutralises formulas', () => {
    const row: LedgerEntry = {
      productCode: 'p',
      customer: '=HYPERLINK("x")',
      customerKind: 'identifier',
      dimension: 'd',
      hour: new Date('2026-11-26T10:00:00Z'),
      state: 'rejected',
      status: 'rejected',
      quantity: 3,
      reason: 'bad, "very"',
      meteringRecordId: '',
      attempts: 1,
      updatedAt: new Date('2026-11-26T10:05:00Z'),
    };
    const csv = historyCsv([row], new Map([[`p|=HYPERLINK("x")|d|${row.hour.getTime()}`, 'olga']]));
    const [head, line] = csv.split('\r\n');
    expect(head).toBe(
      'hour,product_code,customer,customer_kind,dimension,quantity,status,state,reason,metering_record_id,attempts,source,actor,updated_at',
    );
    expect(line).toBe(
      `2026-11-26T10:00:00.000Z,p,"'=HYPERLINK(""x"")",identifier,d,3,rejected,rejected,"bad, ""very""",,1,console,olga,2026-11-26T10:05:00.000Z`,
    );
  });
});

describe('audit page', () => {
  it('shows an empty state without the auditor, and findings when there are some', () => {
    expect(auditPage(ctx, undefined)).toContain('has not reported yet');
    expect(auditPage(ctx, [])).toContain('Every audited record matches CloudTrail');
    const page = auditPage(ctx, [
      {
        detectedAt: new Date('2026-11-26T10:00:00Z'),
        kind: 'quantity_mismatch',
        status: 'open',
        productCode: 'p',
        customer: '<c>',
        dimension: 'd',
        hour: undefined,
        detail: 'ledger 3, CloudTrail 4',
      },
    ]);
    expect(page).toContain('quantity_mismatch');
    expect(page).toContain('&lt;c&gt;');
  });
});
