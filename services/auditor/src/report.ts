import type { FindingKind, FindingStatus } from '@meterstream/contracts';
import { formatMicros } from '@meterstream/runtime';
import {
  reconciliationFindingUnits,
  type Conservation,
  type EventsWindowsTotals,
  type WindowsLedgerTotals,
} from './conservation.js';
import { MeterstreamError, toMeterstreamError } from '@meterstream/errors';
import { describeFinding } from './notify.js';
import { unparseableFinding, type CustomerSummary, type Finding } from './reconcile.js';
import {
  conserveRange,
  reconcileRange,
  type AuditStore,
  type ConservationRangeOptions,
} from './store.js';

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
  /** The conservation chain (ADR 0007), when the report was asked for it. */
  chain?: Chain;
  /** Why the chain could not be checked (the aggregator's tables missing, …). */
  chainError?: string;
}

/** The conservation chain of a report, in units (decimal strings, exact). */
export interface Chain {
  eventsWindows: Record<keyof EventsWindowsTotals, string>;
  windowsLedger: {
    windows: string;
    carryIn: string;
    buckets: Record<string, string>;
    unexplained: string;
    /** Ended rejected or expired: accounted for, never billed. */
    unbilled: string;
  };
  ledgerCloudTrail: { ledgerAccepted: number; cloudTrailBilled: number; unexplained: number };
}

function chainOf(c: Conservation, r: { summaries: CustomerSummary[]; findings: Finding[] }): Chain {
  const ew = c.eventsWindows;
  const wl: WindowsLedgerTotals = c.windowsLedger;
  return {
    eventsWindows: {
      eventsMicros: formatMicros(ew.eventsMicros),
      tooOldMicros: formatMicros(ew.tooOldMicros),
      windowsMicros: formatMicros(ew.windowsMicros),
      openEventsMicros: formatMicros(ew.openEventsMicros),
      unexplainedMicros: formatMicros(ew.unexplainedMicros),
    },
    windowsLedger: {
      windows: formatMicros(wl.windowsMicros),
      carryIn: formatMicros(wl.carryInMicros),
      buckets: Object.fromEntries(
        Object.entries(wl.buckets)
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([k, v]) => [k, formatMicros(v)]),
      ),
      unexplained: formatMicros(wl.unexplainedMicros),
      unbilled: formatMicros(wl.unbilledMicros),
    },
    ledgerCloudTrail: {
      ledgerAccepted: r.summaries.reduce((n, s) => n + s.ledgerAcceptedQuantity, 0),
      cloudTrailBilled: r.summaries.reduce((n, s) => n + s.cloudTrailBilledQuantity, 0),
      unexplained: r.findings.reduce((n, f) => n + reconciliationFindingUnits(f), 0),
    },
  };
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
    /** Also check conservation (events → windows → ledger) over the range. */
    conservation?: Omit<ConservationRangeOptions, 'productCode'>;
  },
): Promise<Report> {
  const readUntil = await store.checkpoint(o.checkpointName);
  const [r, stored, conservation] = await Promise.all([
    reconcileRange(store, o.fromMs, o.toMs, {
      readUntilMs: readUntil ?? 0,
      graceMs: o.graceMs,
      ...(o.productCode !== undefined ? { productCode: o.productCode } : {}),
    }),
    store.findings({ fromMs: o.fromMs, toMs: o.toMs }),
    o.conservation
      ? conserveRange(store, o.fromMs, o.toMs, {
          ...o.conservation,
          ...(o.productCode !== undefined ? { productCode: o.productCode } : {}),
        }).catch((err: unknown) => toMeterstreamError(err))
      : undefined,
  ]);
  const chainError = conservation instanceof MeterstreamError ? conservation : undefined;
  const conserved = conservation instanceof MeterstreamError ? undefined : conservation;
  const byId = new Map(stored.map((f) => [f.id, f]));
  const findings: ReportFinding[] = [...r.findings, ...(conserved?.findings ?? [])].map((f) => {
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
    ...(conserved ? { chain: chainOf(conserved, r) } : {}),
    ...(chainError ? { chainError: `${chainError.code}: ${chainError.message}` } : {}),
  };
}

/** The chain as text: one block per stage, every bucket with its amount in units. */
export function formatChain(c: Chain): string[] {
  const row = (label: string, v: string | number): string =>
    `  ${label.padEnd(34)} ${String(v).padStart(16)}`;
  const ew = c.eventsWindows;
  const wl = c.windowsLedger;
  const lc = c.ledgerCloudTrail;
  return [
    'Conservation chain (units)',
    '(a) events -> windows (hours frozen on every partition)',
    row('unique accepted events', ew.eventsMicros),
    row('+ too old, carried to a later hour', ew.tooOldMicros),
    row('= windows (all partitions)', ew.windowsMicros),
    row('events of hours not frozen yet', ew.openEventsMicros),
    row('UNEXPLAINED', ew.unexplainedMicros),
    '(b) windows -> ledger',
    row('windows', wl.windows),
    row('+ carry in from before the range', wl.carryIn),
    ...Object.entries(wl.buckets).map(([k, v]) => row(`= ${k}`, v)),
    row('UNEXPLAINED', wl.unexplained),
    row('ENDED UNBILLED (rejected, expired)', wl.unbilled),
    '(c) ledger -> AWS / CloudTrail',
    row('ledger accepted', lc.ledgerAccepted),
    row('billed per CloudTrail', lc.cloudTrailBilled),
    row('UNEXPLAINED', lc.unexplained),
  ];
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
  if (r.chain) lines.push(...formatChain(r.chain), '');
  if (r.chainError) lines.push(`Conservation chain not checked: ${r.chainError}`, '');
  if (r.findings.length === 0) lines.push('No findings.');
  for (const f of r.findings)
    lines.push(
      `${f.status === 'explained' ? 'explained' : 'OPEN     '} ${f.id.slice(0, 12)} ${describeFinding(f)}${f.note ? ` — note: ${f.note}` : ''}`,
    );
  lines.push('', `${r.unexplained} unexplained finding(s).`);
  return lines.join('\n');
}
