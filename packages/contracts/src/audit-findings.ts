// Table `audit_findings` (owner: auditor; read by the console): one row per version of a finding —
// a discrepancy between the ledger and CloudTrail, or usage not conserved along the chain
// (ADR 0007). The latest version (FINAL) is its state.
import { MeterstreamError } from '@meterstream/errors';
import { customerKindOf, usageFromHourOf, type LedgerRecord, type LedgerState } from './ledger.js';
import { bigintAsString, defineTable } from './table.js';

/** Kinds of finding; the closed set the findings table, metrics and report use. */
export const FINDING_KINDS = [
  'missing_in_cloudtrail',
  'unknown_to_ledger',
  'quantity_mismatch',
  'status_mismatch',
  'conflicting_duplicate',
  'unparseable_event',
  // Conservation audit (ADR 0007): usage lost or created between events, windows and ledger.
  'conservation_events_windows',
  'conservation_windows_ledger',
  // Usage that ended in the ledger without being billed and without an AWS final answer.
  'conservation_unbilled',
  // Contract usage billed otherwise than its term's entitlement allows (or with no term known).
  'conservation_entitlement',
] as const;
/** One of {@link FINDING_KINDS}. */
export type FindingKind = (typeof FINDING_KINDS)[number];

/** Status of a stored finding: `explained` by an operator's note, or `resolved` when gone. */
export type FindingStatus = 'open' | 'explained' | 'resolved';

/** The status a finding is stored with when it is first found. */
export const FINDING_INITIAL_STATUS: FindingStatus = 'open';

/**
 * The legal status changes of a stored finding, like the ledger's: each new version of a finding
 * goes through {@link assertFindingTransition}, which refuses anything else.
 */
export const FINDING_TRANSITIONS: Readonly<Record<FindingStatus, readonly FindingStatus[]>> = {
  // open → open: a new version of the same status (the channels that took it).
  // open → resolved: the audit no longer finds it. open → explained: an operator's note.
  open: ['open', 'explained', 'resolved'],
  // An operator may replace the note; the audit neither resolves nor reopens an explained one.
  explained: ['explained'],
  // Found again: reopened (and notified again). An operator may still explain it.
  resolved: ['open', 'explained'],
};

/** Throws ILLEGAL_STATE_TRANSITION unless a finding may go from `from` to `to`. */
export function assertFindingTransition(from: FindingStatus | undefined, to: FindingStatus): void {
  const legal =
    from === undefined ? to === FINDING_INITIAL_STATUS : FINDING_TRANSITIONS[from].includes(to);
  if (!legal) {
    throw new MeterstreamError(
      'ILLEGAL_STATE_TRANSITION',
      `finding: ${from ?? '(new)'} -> ${to} is not allowed`,
      { details: { from: from ?? null, to } },
    );
  }
}

/** Table `audit_findings`. */
export const AUDIT_FINDINGS = defineTable({
  name: 'audit_findings',
  columns: [
    'finding_id String',
    'kind String',
    'status String',
    'product_code String',
    'customer String',
    'customer_kind String',
    'dimension String',
    'hour DateTime',
    'ledger_quantity Int64',
    'ledger_state String',
    'cloudtrail_quantities Array(UInt64)',
    'cloudtrail_statuses Array(String)',
    'event_ids Array(String)',
    'metering_record_ids Array(String)',
    'ledger_record String',
    'raw_event String',
    'detail String',
    'note String',
    'notified UInt8',
    // Channels that took the finding, so a retry after a failed channel repeats no other.
    'notified_channels Array(String)',
    'first_seen_at DateTime',
    'updated_at DateTime',
    'version UInt64',
  ],
  engine: 'ReplacingMergeTree',
  engineArgs: ['version'],
  orderBy: 'finding_id',
  shardingKey: 'cityHash64(finding_id)',
});

/**
 * The `ledger_record` evidence of a finding: the ledger record as JSON, 64-bit values as decimal
 * strings (JSON has no bigint).
 */
export function ledgerEvidence(l: LedgerRecord | null): string {
  return l ? JSON.stringify(l, bigintAsString) : '';
}

/**
 * The ledger record of a finding's `ledger_record` evidence, or null when there is none. Reads
 * both the record as {@link ledgerEvidence} writes it and what auditors wrote before the ledger's
 * contract (`hourMs`, `updatedAtMs`, a numeric `version`, no usage or carry): a field an old row
 * lacks reads as zero or empty.
 */
export function ledgerFromEvidence(json: string): LedgerRecord | null {
  if (!json) return null;
  const o = JSON.parse(json) as Record<string, unknown>;
  const str = (k: string): string => (typeof o[k] === 'string' ? o[k] : '');
  const num = (...ks: string[]): number => Number(ks.map((k) => o[k]).find((v) => v != null) ?? 0);
  const big = (k: string): bigint => {
    const v = o[k];
    if (typeof v === 'number') return Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
    return typeof v === 'string' && /^-?\d+$/.test(v) ? BigInt(v) : 0n;
  };
  const hour = num('hour', 'hourMs');
  return {
    productCode: str('productCode'),
    customer: str('customer'),
    customerKind: customerKindOf(o.customerKind),
    dimension: str('dimension'),
    hour,
    version: big('version'),
    state: str('state') as LedgerState,
    quantity: num('quantity'),
    usageMicros: big('usageMicros'),
    billableMicros: big('billableMicros'),
    carryInMicros: big('carryInMicros'),
    carryOutMicros: big('carryOutMicros'),
    meteringRecordId: str('meteringRecordId'),
    awsStatus: str('awsStatus'),
    reason: str('reason'),
    attempts: num('attempts'),
    batchId: str('batchId'),
    runId: str('runId'),
    instanceId: str('instanceId'),
    workPartition: num('workPartition'),
    licenseArn: str('licenseArn'),
    pricePerUnit: str('pricePerUnit'),
    deadline: num('deadline'),
    updatedAt: num('updatedAt', 'updatedAtMs'),
    usageFromHour: usageFromHourOf(hour, num('usageFromHour')),
  };
}
