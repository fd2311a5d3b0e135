import type { Plan, PlanCatalog } from '@meterstream/plans';
import {
  AWS_MAX_QUANTITY,
  MICROS,
  formatMicros,
  hourStart,
  parseMicros,
} from '@meterstream/runtime';
import { cdKey, type Entitlement, type Subscription, type SubmissionLine } from './model.js';

/** At most this many lines in one submission (keeps one request small and reviewable). */
export const MAX_LINES = 500;

/** Start of the UTC hour of `d`. */
export function hourOf(d: Date): Date {
  return new Date(hourStart(d.getTime()));
}

/**
 * Parses a quantity typed by a user into micros: a non-negative decimal with at most 6 places,
 * at most 2147483647 (AWS). Returns the reason, in the user's terms, when it is not one.
 */
export function parseQuantity(input: string): bigint | string {
  const s = input.trim();
  const tooLarge = `at most ${AWS_MAX_QUANTITY} (the AWS limit)`;
  if (s === '') return 'enter a quantity';
  if (s.startsWith('-')) return 'must not be negative';
  if (/^\d+\.\d{7,}$/.test(s)) return 'at most 6 decimal places';
  if (/^\d{11,}(\.\d*)?$/.test(s)) return tooLarge;
  const micros = parseMicros(s);
  if (micros === undefined) return 'must be a number such as 12 or 0.5';
  return micros > AWS_MAX_QUANTITY * MICROS ? tooLarge : micros;
}

/** One line as the browser sends it. */
export interface LineInput {
  customer: string;
  dimension: string;
  quantity: string;
}

/** A problem with one line (or with the whole request when `index` is -1). */
export interface LineError {
  index: number;
  customer?: string | undefined;
  dimension?: string | undefined;
  message: string;
}

/** A line with what it does to the contract: the overage beyond the entitlement is what AWS bills. */
export interface PreviewLine extends SubmissionLine {
  buyerName: string;
  /** Units included in the contract, `undefined` when the dimension has no entitlement. */
  entitlementMicros: bigint | undefined;
  usedMicros: bigint;
  /** The part of this quantity beyond the entitlement (all of it when there is none). */
  overageMicros: bigint;
}

/** What {@link validateLines} needs to know about the product. */
export interface ValidationContext {
  plan: Plan;
  catalog: PlanCatalog;
  now: Date;
  subscriptions: readonly Subscription[];
  entitlements: readonly Entitlement[];
  /** Usage so far per `customer|dimension` (micros). */
  usage: ReadonlyMap<string, bigint>;
  /** Builds the event id of line `index` (deterministic per submission). */
  eventId: (index: number) => string;
}

/** Whether a contract is active at `now`: status active and `now` within its period. */
export function isActive(s: Subscription, now: Date): boolean {
  return s.status === 'active' && s.periodStart <= now.getTime() && now.getTime() < s.periodEnd;
}

/** The overage a quantity adds: usage beyond `entitlement` after it, minus before it. */
export function overage(entitlement: bigint | undefined, used: bigint, quantity: bigint): bigint {
  if (entitlement === undefined) return quantity;
  const cap = entitlement * MICROS;
  const before = used > cap ? used - cap : 0n;
  const after = used + quantity > cap ? used + quantity - cap : 0n;
  return after - before;
}

/**
 * Validates a manual submission on the server: every quantity a non-negative decimal within the
 * AWS limit, every dimension part of the product's plan version in force now, every contract
 * known and active, no (contract, dimension) twice. Returns every problem, not just the first.
 */
export function validateLines(
  input: unknown,
  ctx: ValidationContext,
): { lines: PreviewLine[]; errors: LineError[] } {
  const errors: LineError[] = [];
  if (!Array.isArray(input) || input.length === 0) {
    return {
      lines: [],
      errors: [{ index: -1, message: 'select at least one contract and enter a quantity' }],
    };
  }
  if (input.length > MAX_LINES) {
    return {
      lines: [],
      errors: [{ index: -1, message: `at most ${MAX_LINES} lines in one submission` }],
    };
  }
  const version = ctx.catalog.versionAt(ctx.plan.productCode, ctx.now);
  const dimensions = new Set(version?.dimensions.map((d) => d.name) ?? []);
  const subs = new Map(ctx.subscriptions.map((s) => [s.customer, s]));
  const ents = new Map(
    ctx.entitlements
      .filter((e) => e.periodStart <= ctx.now.getTime() && ctx.now.getTime() < e.periodEnd)
      .map((e) => [cdKey(e.customer, e.dimension), e.quantity]),
  );
  const seen = new Set<string>();
  const lines: PreviewLine[] = [];
  input.forEach((raw: unknown, index) => {
    const r = (raw ?? {}) as Partial<Record<keyof LineInput, unknown>>;
    const customer = typeof r.customer === 'string' ? r.customer : '';
    const dimension = typeof r.dimension === 'string' ? r.dimension : '';
    const quantity =
      typeof r.quantity === 'string'
        ? r.quantity
        : typeof r.quantity === 'number'
          ? String(r.quantity)
          : '';
    const fail = (message: string): void => {
      errors.push({ index, customer, dimension, message });
    };
    const sub = subs.get(customer);
    if (!sub) return fail('unknown contract for this product');
    if (!isActive(sub, ctx.now)) return fail('contract is not active');
    if (!dimensions.has(dimension))
      return fail('dimension is not part of the product’s current plan');
    const key = cdKey(customer, dimension);
    if (seen.has(key)) return fail('the same contract and dimension appear twice');
    seen.add(key);
    const micros = parseQuantity(quantity);
    if (typeof micros === 'string') return fail(micros);
    const entitlement = ents.get(key);
    const used = ctx.usage.get(key) ?? 0n;
    lines.push({
      customer,
      customerKind: sub.customerKind,
      licenseArn: sub.licenseArn,
      dimension,
      quantity: formatMicros(micros),
      quantityMicros: micros,
      eventId: ctx.eventId(lines.length),
      buyerName: sub.buyerName,
      entitlementMicros: entitlement === undefined ? undefined : entitlement * MICROS,
      usedMicros: used,
      overageMicros: overage(entitlement, used, micros),
    });
  });
  if (errors.length === 0 && lines.length === 0) {
    errors.push({ index: -1, message: 'select at least one contract and enter a quantity' });
  }
  return { lines: errors.length === 0 ? lines : [], errors };
}
