import { describeFinding } from './notify.js';
import {
  unparseableFinding,
  type CustomerSummary,
  type Finding,
  type FindingKind,
} from './reconcile.js';
import { reconcileRange, type AuditStore, type FindingStatus } from './store.js';

/** A finding in a report, with the operator's explanation if any. */
export type ReportFinding = Finding & { status: FindingStatus; note: string };

/** `audit report` output. */
export interface Report {
  from: string;
  to: string;
  readUntil: string | null;
  summaries: CustomerSummary[];
  findings: ReportFinding[];
  byKind: Partial<Record<FindingKind, number>>;
  unexplained: number;
}

/**
 * Builds the report of hours in [fromMs, toMs) afresh from the ledger and the stored CloudTrail
 * records (so it is right even when the daemon is behind), joined with stored findings for
 * operator explanations and with unparseable events of the range.
 */
export async function buildReport(
  store: AuditStore,
  o: {
    fromMs: number;
    toMs: number;
    graceMs: number;
    checkpointName: string;
    productCode?: string;
  },
): Promise<Report> {
  const readUntil = await store.checkpoint(o.checkpointName);
  const [r, stored] = await Promise.all([
    reconcileRange(store, o.fromMs, o.toMs, {
      readUntilMs: readUntil ?? 0,
      graceMs: o.graceMs,
      ...(o.productCode !== undefined ? { productCode: o.productCode } : {}),
    }),
    store.findings({ fromMs: o.fromMs, toMs: o.toMs }),
  ]);
  const byId = new Map(stored.map((f) => [f.id, f]));
  const findings: ReportFinding[] = r.findings.map((f) => {
    const s = byId.get(f.id);
    return { ...f, status: s?.status === 'explained' ? 'explained' : 'open', note: s?.note ?? '' };
  });
  for (const s of stored) {
    if (s.kind !== 'unparseable_event' || o.productCode !== undefined) continue;
    findings.push({
      ...unparseableFinding(s.eventIds[0] ?? '', s.hourMs, s.detail, s.raw ?? ''),
      detail: s.detail,
      status: s.status === 'explained' ? 'explained' : 'open',
      note: s.note,
    });
  }
  const byKind: Partial<Record<FindingKind, number>> = {};
  for (const f of findings) byKind[f.kind] = (byKind[f.kind] ?? 0) + 1;
  return {
    from: new Date(o.fromMs).toISOString(),
    to: new Date(o.toMs).toISOString(),
    readUntil: readUntil === undefined ? null : new Date(readUntil).toISOString(),
    summaries: r.summaries,
    findings,
    byKind,
    unexplained: findings.filter((f) => f.status !== 'explained').length,
  };
}

/** The readable rendering of a report. */
export function formatReport(r: Report): string {
  const lines = [
    `Meterstream audit ${r.from} .. ${r.to} (CloudTrail read until ${r.readUntil ?? 'never'})`,
    '',
    `${'product'.padEnd(24)} ${'customer'.padEnd(24)} ${'matched'.padStart(7)} ${'pending'.padStart(7)} ${'ledger qty'.padStart(11)} ${'billed qty'.padStart(11)}  findings`,
  ];
  for (const s of r.summaries) {
    const f = Object.entries(s.findings)
      .map(([k, n]) => `${k}=${n}`)
      .join(' ');
    lines.push(
      `${s.productCode.padEnd(24)} ${s.customer.padEnd(24)} ${String(s.matched).padStart(7)} ${String(s.pending).padStart(7)} ${String(s.ledgerAcceptedQuantity).padStart(11)} ${String(s.cloudTrailBilledQuantity).padStart(11)}  ${f || '-'}`,
    );
  }
  lines.push('');
  if (r.findings.length === 0) lines.push('No findings.');
  for (const f of r.findings)
    lines.push(
      `${f.status === 'explained' ? 'explained' : 'OPEN     '} ${f.id.slice(0, 12)} ${describeFinding(f)}${f.note ? ` — note: ${f.note}` : ''}`,
    );
  lines.push('', `${r.unexplained} unexplained finding(s).`);
  return lines.join('\n');
}
