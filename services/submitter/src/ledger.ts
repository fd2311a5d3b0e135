import { MeterstreamError } from '@meterstream/errors';
import { AWS_MAX_QUANTITY, HOUR_MS, MICROS } from '@meterstream/runtime';

/** States of one ledger record (one product, customer, dimension and hour). */
export type LedgerState =
  | 'frozen'
  | 'sending'
  | 'held'
  | 'accepted'
  | 'duplicate'
  | 'not_subscribed'
  | 'rejected'
  | 'expired';

/**
 * The legal transitions. `frozen` holds the quantity and is written before the first send;
 * `sending` is written before every call (attempts + 1), so a crash anywhere leaves a record that
 * is sent again, identically. `held` is a record that cannot be sent now for a reason the seller
 * can fix (DESIGN invariant 7): every run re-evaluates it, sends it once the cause is gone, and
 * only its AWS deadline ends it (`expired`). Terminal states have no way out.
 */
export const LEDGER_TRANSITIONS: Readonly<Record<LedgerState, readonly LedgerState[]>> = {
  frozen: ['sending', 'held', 'expired', 'rejected'],
  sending: ['sending', 'held', 'accepted', 'duplicate', 'not_subscribed', 'rejected', 'expired'],
  // held → held: the reason changed (another cause now blocks it), a new version says which.
  // held → frozen: a record held for a missing entitlement (never sent, attempts 0, quantity not
  // known yet) is planned once its contract term is known (ADR 0006, "Missing entitlements").
  held: ['sending', 'held', 'frozen', 'expired'],
  accepted: [],
  duplicate: [],
  not_subscribed: [],
  rejected: [],
  expired: [],
};

/** States from which a record still has to be sent (a held one once its cause is fixed). */
export const OPEN_STATES: readonly LedgerState[] = ['frozen', 'sending', 'held'];

/**
 * Why a record is held: a closed set, so metrics, alerts, the console and runbooks can name each.
 * Stored at the start of the record's `reason` as `code: message` (see {@link heldReason}).
 */
export const HELD_REASONS = [
  /** carry + billable of the hour is above 2,147,483,647 units; AWS takes one record per key-hour. */
  'quantity_above_max',
  /** An account-style customer (CustomerAWSAccountId) that is not in `subscriptions` (no license). */
  'unknown_subscription',
  /** No metering plan for the product. */
  'no_plan',
  /** The dimension is not in the plan version in force at the hour. */
  'dimension_not_in_plan',
  /** DisabledApiException: metering is disabled for the seller account. */
  'aws_api_disabled',
  /** InvalidEndpointRegionException: calls go to a region the product is not in. */
  'aws_wrong_region',
  /** InvalidProductCodeException: AWS does not know the product code (or not for this account). */
  'aws_invalid_product',
  /** InvalidUsageDimensionException for this record: the AWS listing lacks its dimension. */
  'aws_invalid_dimension',
  /**
   * InvalidLicenseException for this record: AWS does not know the license the registry gave it
   * (a stale or wrong LicenseArn). A subscription sync that brings the right one lets it go again.
   */
  'aws_invalid_license',
  /**
   * A contract key-hour with usage and no entitlement term covering it (or after such an hour of
   * the same key): never billed as overage; planned when an entitlement sync brings the term.
   */
  'missing_entitlement',
] as const;
/** One of {@link HELD_REASONS}. */
export type HeldReason = (typeof HELD_REASONS)[number];

/** The `reason` text of a held record: its code, then a message for people. */
export function heldReason(code: HeldReason, message: string): string {
  return `${code}: ${message}`;
}

/**
 * Held reasons only the planner lifts: the quantity of such a record is not known (or not
 * sendable), so the sender never sends it; the planner freezes it again when the cause is gone.
 */
export const PLANNER_HELD_REASONS: readonly HeldReason[] = [
  'quantity_above_max',
  'missing_entitlement',
];

/** The held-reason code at the start of `reason`, if there is one. */
export function heldReasonOf(reason: string): HeldReason | undefined {
  const code = reason.slice(0, Math.max(0, reason.indexOf(':')));
  return (HELD_REASONS as readonly string[]).includes(code) ? (code as HeldReason) : undefined;
}

/** True when `state` is final. */
export function isTerminal(state: LedgerState): boolean {
  return LEDGER_TRANSITIONS[state].length === 0;
}

/** Throws ILLEGAL_STATE_TRANSITION unless `from → to` is in the table. */
export function assertTransition(from: LedgerState, to: LedgerState): void {
  if (!LEDGER_TRANSITIONS[from].includes(to)) {
    throw new MeterstreamError(
      'ILLEGAL_STATE_TRANSITION',
      `ledger: ${from} -> ${to} is not allowed`,
      {
        details: { from, to },
      },
    );
  }
}

/** One version of a ledger record, as stored. */
export interface LedgerRecord {
  productCode: string;
  customer: string;
  customerKind: 'identifier' | 'account';
  dimension: string;
  /** Epoch ms of the hour start; also the record's Timestamp. */
  hour: number;
  version: bigint;
  state: LedgerState;
  quantity: number;
  usageMicros: bigint;
  billableMicros: bigint;
  carryInMicros: bigint;
  carryOutMicros: bigint;
  meteringRecordId: string;
  awsStatus: string;
  reason: string;
  attempts: number;
  batchId: string;
  runId: string;
  instanceId: string;
  workPartition: number;
  licenseArn: string;
  pricePerUnit: string;
  /** Epoch ms after which AWS refuses the record. */
  deadline: number;
  updatedAt: number;
  /**
   * Epoch ms of the hour the record's earliest usage happened in: `hour`, or an earlier hour when
   * the aggregator carried late usage into this one (DESIGN invariant 4, ADR 0002 point 6). The
   * plan version of that hour still covers the usage (ADR 0006).
   */
  usageFromHour: number;
}

/** The identity of a ledger record. */
export function recordKey(r: {
  productCode: string;
  customer: string;
  dimension: string;
  hour: number;
}): string {
  return `${r.productCode}|${r.customer}|${r.dimension}|${r.hour}`;
}

/** Changes a record to `to` with a strictly greater version, checking the transition table. */
export function transition(
  r: LedgerRecord,
  to: LedgerState,
  changes: Partial<Omit<LedgerRecord, 'state' | 'version'>>,
  clock: VersionClock,
): LedgerRecord {
  assertTransition(r.state, to);
  return { ...r, ...changes, state: to, version: clock.next(r.version), updatedAt: clock.nowMs() };
}

/**
 * Versions that grow across restarts and within a millisecond: microseconds since the epoch, and
 * never below the previous version + 1 (a clock stepping back cannot let an old state win).
 */
export class VersionClock {
  private last = 0n;
  constructor(private readonly now: () => number = Date.now) {}
  nowMs(): number {
    return this.now();
  }
  next(after = 0n): bigint {
    let v = BigInt(this.now()) * 1000n;
    if (v <= this.last) v = this.last + 1n;
    if (v <= after) v = after + 1n;
    this.last = v;
    return v;
  }
}

/**
 * Rounding with carry (DESIGN invariant 5): bill floor(carry + billable), carry the fraction on.
 * Over a chain of hours the billed total is floor(total), rounded once.
 */
export function applyCarry(
  carryInMicros: bigint,
  billableMicros: bigint,
): { quantity: number; carryOutMicros: bigint } {
  if (carryInMicros < 0n || billableMicros < 0n) {
    throw new MeterstreamError('INTERNAL', 'negative usage or carry');
  }
  const total = carryInMicros + billableMicros;
  const units = total / MICROS;
  if (units > AWS_MAX_QUANTITY)
    throw new MeterstreamError('VALIDATION_FAILED', 'quantity exceeds the AWS maximum');
  return { quantity: Number(units), carryOutMicros: total % MICROS };
}

/**
 * Contract overage: only usage beyond the entitlement is billed, cumulatively over the contract
 * period. `before` is the usage of the period before this hour, `usage` this hour's; the hour that
 * crosses the entitlement bills only the part above it.
 */
export function overageMicros(
  entitledMicros: bigint,
  beforeMicros: bigint,
  usageMicros: bigint,
): bigint {
  const over = (x: bigint): bigint => (x > entitledMicros ? x - entitledMicros : 0n);
  return over(beforeMicros + usageMicros) - over(beforeMicros);
}

/**
 * When AWS stops accepting a record for `hourMs`: 24 hours after the hour start, or 06:00 UTC on
 * the 1st of the next month when that comes first.
 */
export function deadlineOf(hourMs: number): number {
  const d = new Date(hourMs);
  const monthClose = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1, 6);
  return Math.min(hourMs + 24 * HOUR_MS, monthClose);
}

/** Stable bucket of a (product, customer) in [0, n): FNV-1a, so every instance agrees. */
export function workPartitionOf(productCode: string, customer: string, n: number): number {
  let h = 0x811c9dc5;
  const s = `${productCode}|${customer}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % n;
}
