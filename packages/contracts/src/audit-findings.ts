// Table `audit_findings` (owner: auditor; read by the console): one row per version of a finding —
// a discrepancy between the ledger and CloudTrail, or usage not conserved along the chain
// (ADR 0007). The latest version (FINAL) is its state.
import { defineTable } from './table.js';

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
