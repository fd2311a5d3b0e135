import type { HeldReason } from '@meterstream/contracts';
import { MeterstreamError } from '@meterstream/errors';
import { AWS_MAX_QUANTITY, HOUR_MS, MICROS } from '@meterstream/runtime';

// The ledger's table contract (states, transitions, held reasons, the record, its codec) lives in
// @meterstream/contracts; this module holds the submitter's own arithmetic around it.
export {
  HELD_REASONS,
  LEDGER_TRANSITIONS,
  OPEN_STATES,
  assertTransition,
  heldReason,
  heldReasonOf,
  isTerminal,
  recordKey,
  transition,
  type HeldReason,
  type LedgerRecord,
  type LedgerState,
} from '@meterstream/contracts';

/**
 * Held reasons only the planner lifts: the quantity of such a record is not known (or not
 * sendable), so the sender never sends it; the planner freezes it again when the cause is gone.
 */
export const PLANNER_HELD_REASONS: readonly HeldReason[] = [
  'quantity_above_max',
  'missing_entitlement',
];

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
