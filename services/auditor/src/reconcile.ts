import { createHash } from 'node:crypto';
import type { FindingKind, LedgerRecord } from '@meterstream/contracts';
import { hourStart } from '@meterstream/runtime';
import type { CloudTrailRecord } from './parse.js';

/** One discrepancy (ledger vs CloudTrail, or a conservation difference; ADR 0007), with its evidence. */
export interface Finding {
  /** Stable across runs (kind + key), so a finding is stored and notified once. */
  id: string;
  kind: FindingKind;
  productCode: string;
  customer: string;
  customerKind: string;
  dimension: string;
  hourMs: number;
  ledgerQuantity: number | null;
  ledgerState: string;
  cloudTrailQuantities: number[];
  cloudTrailStatuses: string[];
  eventIds: string[];
  meteringRecordIds: string[];
  /** The latest version of the key's ledger record (its contract's row type). */
  ledger: LedgerRecord | null;
  detail: string;
  /** Extra evidence (the raw event of an unparseable one). */
  raw?: string;
}

/** Outcome per key that is not a finding. */
export type KeyOutcome = 'matched' | 'pending' | 'not_billed';

/** Per product and customer: how many keys ended how. */
export interface CustomerSummary {
  productCode: string;
  customer: string;
  matched: number;
  pending: number;
  notBilled: number;
  findings: Partial<Record<FindingKind, number>>;
  ledgerAcceptedQuantity: number;
  cloudTrailBilledQuantity: number;
}

/** Result of {@link reconcile}. */
export interface Reconciliation {
  findings: Finding[];
  outcomes: Record<KeyOutcome, number>;
  summaries: CustomerSummary[];
}

/** Options of {@link reconcile}. */
export interface ReconcileOptions {
  /** CloudTrail was read completely up to this time (the end of the last full pass). */
  readUntilMs: number;
  /** How long CloudTrail may take to deliver an event. */
  graceMs: number;
}

/** Finding id: a hash of its kind and key, so re-running the audit finds the same finding. */
export function findingId(kind: FindingKind, parts: readonly (string | number)[]): string {
  return createHash('sha256')
    .update(JSON.stringify([kind, ...parts]))
    .digest('hex')
    .slice(0, 32);
}

const keyOf = (p: string, c: string, d: string, h: number): string => JSON.stringify([p, c, d, h]);

const PROCESSED = new Set(['Success', 'DuplicateRecord', 'CustomerNotSubscribed']);

/** The CloudTrail status the ledger's state implies. */
const EXPECTED_STATUS: Partial<Record<string, string>> = {
  accepted: 'Success',
  duplicate: 'DuplicateRecord',
  not_subscribed: 'CustomerNotSubscribed',
};

const uniq = <T>(xs: readonly T[]): T[] => [...new Set(xs)];

/** What judging one key may record: a finding (with its evidence), or an outcome. */
interface KeyVerdict {
  add(kind: FindingKind, detail: string, evidence?: readonly CloudTrailRecord[]): void;
  outcome(o: KeyOutcome): void;
}

/** The CloudTrail records of a key AWS processed, and those it billed (Success). */
interface KeyEvidence {
  processed: CloudTrailRecord[];
  billed: CloudTrailRecord[];
}

/** A key whose ledger state says AWS answered (accepted, duplicate, not subscribed). */
function judgeAnswered(
  l: LedgerRecord,
  expected: string,
  { processed, billed }: KeyEvidence,
  options: ReconcileOptions,
  v: KeyVerdict,
): void {
  if (processed.length === 0) {
    const delivered = l.updatedAt + options.graceMs <= options.readUntilMs;
    if (!delivered) v.outcome('pending');
    else if (l.state === 'accepted') {
      v.add(
        'missing_in_cloudtrail',
        `ledger accepted quantity ${l.quantity}; no CloudTrail record after the delivery grace`,
      );
    } else {
      // Not billed either way; CloudTrail losing a non-billing answer is not a billing error.
      v.outcome('not_billed');
    }
    return;
  }
  const quantities = uniq(
    processed.filter((r) => r.status !== 'CustomerNotSubscribed').map((r) => r.quantity),
  );
  let found = false;
  const statuses: string[] = uniq(processed.map((r) => r.status));
  if (!statuses.includes(expected) || (l.state !== 'accepted' && billed.length > 0)) {
    v.add('status_mismatch', `ledger state ${l.state}; CloudTrail answered ${statuses.join(', ')}`);
    found = true;
  }
  if (quantities.length > 1) {
    v.add(
      'conflicting_duplicate',
      `sent with ${quantities.length} different quantities: ${quantities.join(', ')}`,
    );
    found = true;
  }
  if (
    l.state === 'accepted' &&
    billed.length > 0 &&
    !billed.some((r) => r.quantity === l.quantity)
  ) {
    v.add(
      'quantity_mismatch',
      `ledger quantity ${l.quantity}; CloudTrail billed ${uniq(billed.map((r) => r.quantity)).join(', ')}`,
      billed,
    );
    found = true;
  }
  if (
    !found &&
    l.state === 'accepted' &&
    l.meteringRecordId &&
    !billed.some((r) => r.meteringRecordId === l.meteringRecordId)
  ) {
    v.add(
      'status_mismatch',
      `ledger metering record id is not among CloudTrail's: AWS holds another record`,
      billed,
    );
    found = true;
  }
  if (!found) v.outcome('matched');
}

/**
 * A key whose ledger believes nothing was billed (yet): rejected / expired / frozen / sending /
 * held. A held record was never answered Success, so CloudTrail has nothing to show for it: it is
 * pending (it may still be sent before its deadline), never missing_in_cloudtrail.
 */
function judgeUnbilled(
  l: LedgerRecord,
  billed: readonly CloudTrailRecord[],
  options: ReconcileOptions,
  v: KeyVerdict,
): void {
  const settled = billed.filter((r) => r.eventTimeMs + options.graceMs <= options.readUntilMs);
  if (
    billed.length > 0 &&
    (l.state === 'rejected' || l.state === 'expired' || settled.length > 0)
  ) {
    v.add(
      'status_mismatch',
      `ledger state ${l.state}, but CloudTrail shows the record billed`,
      billed,
    );
  } else if (l.state === 'frozen' || l.state === 'sending' || l.state === 'held') {
    v.outcome('pending');
  } else {
    v.outcome('not_billed');
  }
}

/** Judges one key: its ledger record (if any) against its CloudTrail records. */
function judgeKey(
  l: LedgerRecord | undefined,
  evidence: KeyEvidence,
  options: ReconcileOptions,
  v: KeyVerdict,
): void {
  if (!l) {
    if (evidence.processed.length > 0) {
      v.add(
        'unknown_to_ledger',
        `CloudTrail has ${evidence.processed.length} record(s) the ledger does not know`,
      );
    } else {
      v.outcome('not_billed');
    }
    return;
  }
  const expected = EXPECTED_STATUS[l.state];
  if (expected !== undefined) judgeAnswered(l, expected, evidence, options, v);
  else judgeUnbilled(l, evidence.billed, options, v);
}

/** An empty summary of a product and customer. */
const emptySummary = (productCode: string, customer: string): CustomerSummary => ({
  productCode,
  customer,
  matched: 0,
  pending: 0,
  notBilled: 0,
  findings: {},
  ledgerAcceptedQuantity: 0,
  cloudTrailBilledQuantity: 0,
});

/**
 * Compares the ledger with CloudTrail per (product, customer, dimension, hour). Pure: the caller
 * loads both sides for a range of hours (CloudTrail records deduplicated by event and index).
 *
 * A key can yield more than one finding (a conflicting duplicate whose billed quantity also
 * differs from the ledger), but each tamper of one record yields exactly the one that explains it:
 * a duplicate that repeats the ledger's quantity beside another is `conflicting_duplicate` only.
 */
export function reconcile(
  ledger: readonly LedgerRecord[],
  records: readonly CloudTrailRecord[],
  options: ReconcileOptions,
): Reconciliation {
  const byKey = new Map<string, { ledger?: LedgerRecord; ct: CloudTrailRecord[] }>();
  const slot = (k: string): { ledger?: LedgerRecord; ct: CloudTrailRecord[] } => {
    let s = byKey.get(k);
    if (!s) byKey.set(k, (s = { ct: [] }));
    return s;
  };
  for (const l of ledger) slot(keyOf(l.productCode, l.customer, l.dimension, l.hour)).ledger = l;
  for (const r of records) slot(keyOf(r.productCode, r.customer, r.dimension, r.hourMs)).ct.push(r);

  const findings: Finding[] = [];
  const outcomes: Record<KeyOutcome, number> = { matched: 0, pending: 0, not_billed: 0 };
  const summaries = new Map<string, CustomerSummary>();
  const sorted = [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  for (const [key, { ledger: l, ct }] of sorted) {
    const [productCode, customer, dimension, hourMs] = JSON.parse(key) as [
      string,
      string,
      string,
      number,
    ];
    const processed = ct.filter((r) => PROCESSED.has(r.status));
    const billed = processed.filter((r) => r.status === 'Success');
    const summaryKey = JSON.stringify([productCode, customer]);
    const s = summaries.get(summaryKey) ?? emptySummary(productCode, customer);
    summaries.set(summaryKey, s);
    if (l?.state === 'accepted') s.ledgerAcceptedQuantity += l.quantity;
    // AWS bills the first quantity it accepted; CloudTrail shows what it answered Success to.
    const firstBilled = [...billed].sort((a, b) => a.eventTimeMs - b.eventTimeMs)[0];
    if (firstBilled) s.cloudTrailBilledQuantity += firstBilled.quantity;
    judgeKey(l, { processed, billed }, options, {
      add: (kind, detail, evidence = processed) => {
        findings.push({
          id: findingId(kind, [productCode, customer, dimension, hourMs]),
          kind,
          productCode,
          customer,
          customerKind: l?.customerKind ?? ct[0]?.customerKind ?? '',
          dimension,
          hourMs,
          ledgerQuantity: l ? l.quantity : null,
          ledgerState: l?.state ?? '',
          cloudTrailQuantities: evidence.map((r) => r.quantity),
          cloudTrailStatuses: evidence.map((r) => r.status),
          eventIds: uniq(ct.map((r) => r.eventId)).sort(),
          meteringRecordIds: uniq(evidence.map((r) => r.meteringRecordId).filter((x) => x)).sort(),
          ledger: l ?? null,
          detail,
        });
        s.findings[kind] = (s.findings[kind] ?? 0) + 1;
      },
      outcome: (o) => {
        outcomes[o] += 1;
        if (o === 'matched') s.matched += 1;
        else if (o === 'pending') s.pending += 1;
        else s.notBilled += 1;
      },
    });
  }
  return { findings, outcomes, summaries: [...summaries.values()].sort(bySummaryKey) };
}

/** Report order of customer summaries: by product, then customer. */
function bySummaryKey(a: CustomerSummary, b: CustomerSummary): number {
  return a.productCode === b.productCode
    ? a.customer < b.customer
      ? -1
      : 1
    : a.productCode < b.productCode
      ? -1
      : 1;
}

/** The finding for an event that could not be parsed; the raw event is its evidence. */
export function unparseableFinding(
  eventId: string,
  eventTimeMs: number,
  reason: string,
  raw: string,
): Finding {
  return {
    id: findingId('unparseable_event', [eventId]),
    kind: 'unparseable_event',
    productCode: '',
    customer: '',
    customerKind: '',
    dimension: '',
    hourMs: hourStart(eventTimeMs),
    ledgerQuantity: null,
    ledgerState: '',
    cloudTrailQuantities: [],
    cloudTrailStatuses: [],
    eventIds: [eventId],
    meteringRecordIds: [],
    ledger: null,
    detail: `CloudTrail event could not be parsed: ${reason}`,
    raw,
  };
}

/** Sums the reconciliations of disjoint hour ranges into one. */
export function mergeReconciliations(parts: readonly Reconciliation[]): Reconciliation {
  const outcomes: Record<KeyOutcome, number> = { matched: 0, pending: 0, not_billed: 0 };
  const summaries = new Map<string, CustomerSummary>();
  const findings: Finding[] = [];
  for (const p of parts) {
    findings.push(...p.findings);
    for (const k of Object.keys(outcomes) as KeyOutcome[]) outcomes[k] += p.outcomes[k];
    for (const s of p.summaries) {
      const key = JSON.stringify([s.productCode, s.customer]);
      const t = summaries.get(key);
      if (!t) {
        summaries.set(key, { ...s, findings: { ...s.findings } });
        continue;
      }
      t.matched += s.matched;
      t.pending += s.pending;
      t.notBilled += s.notBilled;
      t.ledgerAcceptedQuantity += s.ledgerAcceptedQuantity;
      t.cloudTrailBilledQuantity += s.cloudTrailBilledQuantity;
      for (const [k, n] of Object.entries(s.findings) as [FindingKind, number][]) {
        t.findings[k] = (t.findings[k] ?? 0) + n;
      }
    }
  }
  return {
    findings,
    outcomes,
    summaries: [...summaries.values()].sort(bySummaryKey),
  };
}
