import type { PlanCatalog, PlanDimension } from '@meterstream/plans';
import {
  AWS_MAX_QUANTITY,
  MICROS,
  applyCarry,
  heldReason,
  deadlineOf,
  heldReasonOf,
  overageMicros,
  transition,
  workPartitionOf,
  type LedgerRecord,
  type VersionClock,
} from './ledger.js';
import { termAt } from './entitlements.js';
import type { Entitlement, Store, Subscription, UsageWindow } from './store.js';

const HOUR_MS = 3_600_000;
void 0;

/** Inputs of one freeze step. */
export interface FreezeContext {
  store: Store;
  plans: PlanCatalog;
  clock: VersionClock;
  usagePartitions: number;
  workPartitions: number;
  /** Buckets this instance owns now. */
  owned: readonly number[];
  lookbackHours: number;
  runId: string;
  instanceId: string;
}

/** What a freeze step wrote. */
export interface FreezeResult {
  /** New records, and records held for a missing entitlement that are now planned (held → frozen). */
  frozen: LedgerRecord[];
  /** Held records whose carry in changed because an earlier record of their key was planned. */
  rewritten: LedgerRecord[];
  deferred: number;
  /** Contract products with usage held because no entitlement term covers its hour: sync them. */
  missingEntitlements: string[];
}

/** The quantity and carry of carry-in + billable, or a hold when it is above AWS's maximum. */
function settle(
  carryIn: bigint,
  billable: bigint,
): { quantity: number; carryOutMicros: bigint; aboveMax?: string } {
  // One key-hour above AWS's maximum is held on its own (ADR 0006): throwing here would fail the
  // whole run and stop every other key. It cannot be split (AWS keeps one record per key-hour,
  // first quantity wins), so the whole units are held until the deadline, and only the fraction
  // carries on, as it would have after a send.
  const total = carryIn + billable;
  if (total / MICROS > AWS_MAX_QUANTITY) {
    return {
      quantity: 0,
      carryOutMicros: total % MICROS,
      aboveMax: heldReason(
        'quantity_above_max',
        `${(total / MICROS).toString()} units in one hour; AWS accepts at most ${AWS_MAX_QUANTITY.toString()} per record`,
      ),
    };
  }
  return applyCarry(carryIn, billable);
}

const iso = (ms: number): string => new Date(ms).toISOString();

interface Candidate {
  productCode: string;
  customer: string;
  customerKind: 'identifier' | 'account';
  dimension: string;
  hour: number;
  usageMicros: bigint;
  licenseArn: string;
  usageFromHour: number;
}

const keyOf = (c: { productCode: string; customer: string; dimension: string }): string =>
  `${c.productCode}|${c.customer}|${c.dimension}`;

/**
 * The plan dimension that prices a record: the one in force at its hour, else (late usage carried
 * into an hour whose plan version dropped the dimension) the one in force where its usage began.
 * The plan only prices the dimension; AWS meters it per listing dimension (ADR 0006).
 */
export function planDimensionOf(
  plans: PlanCatalog,
  r: { productCode: string; dimension: string; hour: number; usageFromHour: number },
): PlanDimension | undefined {
  return (
    plans.dimensionAt(r.productCode, r.dimension, new Date(r.hour)) ??
    (r.usageFromHour < r.hour
      ? plans.dimensionAt(r.productCode, r.dimension, new Date(r.usageFromHour))
      : undefined)
  );
}

/**
 * Freezes the quantity of every newly frozen (product, customer, dimension, hour) of the owned
 * buckets into the ledger, before anything is sent: the windows the aggregator froze, plus a
 * zero record for every active subscription × dimension of a fully frozen hour without usage.
 * Hours of one key are processed in order, because the carry of hour H is the carry-out of the
 * key's previous record; an hour whose previous hour is not settled yet waits.
 */
export async function freeze(ctx: FreezeContext, nowMs: number): Promise<FreezeResult> {
  const owned = new Set(ctx.owned);
  if (owned.size === 0) return { frozen: [], rewritten: [], deferred: 0, missingEntitlements: [] };
  const fromHour = Math.floor(nowMs / HOUR_MS) * HOUR_MS - ctx.lookbackHours * HOUR_MS;
  const bucket = (productCode: string, customer: string): number =>
    workPartitionOf(productCode, customer, ctx.workPartitions);

  // Frozen hours are read BEFORE the windows, never in parallel. The aggregator writes every
  // window of an hour before it records the hour frozen (partition.ts: freezeWindows, then
  // recordFreezes), and usage that arrives later is carried to an open hour, not written into
  // the frozen one. So every window of an hour this read sees as frozen already exists when the
  // read below starts, and the zero fill cannot take the place of a window. In parallel, the
  // windows could be read first, the aggregator could then write a window and freeze its hour,
  // and the zero record written for that key would hide the window for good (issue 13, item 3).
  const fullyFrozen = await ctx.store.fullyFrozenHours(fromHour, ctx.usagePartitions);
  const latestFrom = fromHour - 48 * HOUR_MS;
  const [windows, subs, ents, fills, latest, held] = await Promise.all([
    ctx.store.pendingWindows(fromHour, ctx.usagePartitions),
    ctx.store.subscriptions(),
    ctx.store.entitlements(),
    ctx.store.hourFills(fromHour),
    ctx.store.latestPerKey(latestFrom),
    ctx.store.ledgerByState(['held'], fromHour, ctx.owned),
  ]);
  // Records held for a missing entitlement were never sent (the sender does not send them), so
  // they may still be planned; the planner re-plans them below once their term is known.
  const waiting = held.filter(
    (r) =>
      heldReasonOf(r.reason) === 'missing_entitlement' &&
      r.attempts === 0 &&
      owned.has(r.workPartition),
  );
  const fully = new Set(fullyFrozen);
  const firstFrozen = fullyFrozen.length > 0 ? Math.min(...fullyFrozen) : Number.POSITIVE_INFINITY;
  const subByCustomer = new Map<string, Subscription>();
  for (const s of subs) subByCustomer.set(`${s.productCode}|${s.customer}`, s);

  const candidates: Candidate[] = [];
  const windowKeys = new Set<string>();
  for (const w of windows) {
    if (!owned.has(bucket(w.productCode, w.customer))) continue;
    windowKeys.add(`${keyOf(w)}|${w.hour}`);
    const sub = subByCustomer.get(`${w.productCode}|${w.customer}`);
    candidates.push({ ...w, usageMicros: w.quantityMicros, licenseArn: sub?.licenseArn ?? '' });
  }

  // Zero records: fully frozen hours whose bucket has not been filled yet.
  const fillsDone: { hour: number; partition: number }[] = [];
  const activeByBucket = new Map<number, Subscription[]>();
  for (const s of subs) {
    if (s.status !== 'active') continue;
    const b = bucket(s.productCode, s.customer);
    if (!owned.has(b)) continue;
    const list = activeByBucket.get(b) ?? [];
    list.push(s);
    activeByBucket.set(b, list);
  }
  for (const hour of fullyFrozen) {
    for (const b of owned) {
      if (fills.has(`${hour}|${b}`)) continue;
      fillsDone.push({ hour, partition: b });
      for (const s of activeByBucket.get(b) ?? []) {
        if (hour < s.periodStart || hour >= s.periodEnd) continue;
        const version = ctx.plans.versionAt(s.productCode, new Date(hour));
        for (const d of version?.dimensions ?? []) {
          const k = { productCode: s.productCode, customer: s.customer, dimension: d.name };
          if (windowKeys.has(`${keyOf(k)}|${hour}`)) continue;
          const last = latest.get(keyOf(k));
          if (last && last.hour >= hour) continue;
          candidates.push({
            ...k,
            customerKind: s.customerKind,
            hour,
            usageMicros: 0n,
            licenseArn: s.licenseArn,
            usageFromHour: hour,
          });
        }
      }
    }
  }

  // Contract terms per key, and the usage of each term before an hour (cumulative overage).
  const isContract = (productCode: string): boolean =>
    ctx.plans.resolveProduct(productCode)?.pricingModel === 'contract';
  const entByKey = new Map<string, Entitlement[]>();
  for (const e of ents) {
    const list = entByKey.get(keyOf(e)) ?? [];
    list.push(e);
    entByKey.set(keyOf(e), list);
  }
  const termOf = (key: string, hour: number): Entitlement | undefined =>
    termAt(entByKey.get(key) ?? [], hour);
  const entByCustomer = new Map<string, Entitlement[]>();
  for (const e of ents) {
    const k = `${e.productCode}|${e.customer}`;
    entByCustomer.set(k, [...(entByCustomer.get(k) ?? []), e]);
  }
  /**
   * Whether the customer's contract is known at `hour`: a term of any of its dimensions covers it.
   * A dimension without a term of its own is then one the contract includes nothing of (AWS lists
   * only contracted dimensions in GetEntitlements; pay-as-you-go dimensions of a contract have no
   * entitlement), so all its usage is billable. Without any term the contract is unknown to us and
   * the usage is held (issue 13, item 5).
   */
  const underContract = (c: { productCode: string; customer: string; hour: number }): boolean =>
    termAt(entByCustomer.get(`${c.productCode}|${c.customer}`) ?? [], c.hour) !== undefined;
  const contractHours = [...candidates, ...waiting].filter((c) => isContract(c.productCode));
  const contractProducts = [...new Set(contractHours.map((c) => c.productCode))];
  let contractUsage: UsageWindow[] = [];
  if (contractProducts.length > 0) {
    // Only the terms of the hours being planned are read from their start, not every term ever.
    const starts = contractHours.flatMap((c) => {
      const t = termOf(keyOf(c), c.hour);
      return t ? [t.periodStart] : [];
    });
    const from = starts.length > 0 ? Math.min(...starts) : fromHour;
    contractUsage = await ctx.store.windowsBetween(contractProducts, from, nowMs + HOUR_MS);
  }
  const usageByKey = new Map<string, UsageWindow[]>();
  for (const w of contractUsage) {
    const list = usageByKey.get(keyOf(w)) ?? [];
    list.push(w);
    usageByKey.set(keyOf(w), list);
  }
  /** Billable of a contract key-hour: only usage beyond its term's entitlement, from the term's start. */
  const overage = (key: string, term: Entitlement, hour: number, usage: bigint): bigint => {
    const before = (usageByKey.get(key) ?? [])
      .filter((w) => w.hour >= term.periodStart && w.hour < hour)
      .reduce((sum, w) => sum + w.quantityMicros, 0n);
    return overageMicros(term.quantity * MICROS, before, usage);
  };
  const missing = new Set<string>();
  const missingReason = (c: { customer: string; dimension: string; hour: number }): string =>
    heldReason(
      'missing_entitlement',
      `no contract term of ${c.customer} covers ${iso(c.hour)}, neither for ${c.dimension} nor for another dimension; the usage is held, never billed as overage, until an entitlement sync brings the contract`,
    );
  const behindReason = (hour: number): string =>
    heldReason(
      'missing_entitlement',
      `an earlier hour of this key (${iso(hour)}) is held for a missing entitlement; this one waits for it, so the fractional carry chains exactly`,
    );

  // Re-plan the records held for a missing entitlement, key by key in hour order (ADR 0006). Their
  // hold passed the carry through unchanged (carry out = carry in) and no record after them was
  // planned (later hours of the key wait behind them), so every record from the first re-planned
  // one on may take a new carry. The first that still has no term stops the chain: it and every
  // later one stay held, with the carry the re-planned ones left.
  const frozen: LedgerRecord[] = [];
  const rewritten: LedgerRecord[] = [];
  /** Keys whose latest record stays held for a missing entitlement: later hours wait behind it. */
  const heldTail = new Map<string, number>();
  const waitingByKey = new Map<string, LedgerRecord[]>();
  for (const r of waiting) {
    const list = waitingByKey.get(keyOf(r)) ?? [];
    list.push(r);
    waitingByKey.set(keyOf(r), list);
  }
  for (const [key, list] of waitingByKey) {
    list.sort((a, b) => a.hour - b.hour);
    let carry = (list[0] as LedgerRecord).carryInMicros;
    /** Hour of the previous record of the key once one stays held (later ones wait behind it). */
    let blocked: number | undefined;
    for (const r of list) {
      // A plan that is no longer a contract bills all usage, as any subscription does.
      const term = isContract(r.productCode) ? termOf(key, r.hour) : undefined;
      const billable =
        blocked !== undefined
          ? undefined
          : !isContract(r.productCode)
            ? r.usageMicros
            : term
              ? overage(key, term, r.hour, r.usageMicros)
              : underContract(r)
                ? r.usageMicros
                : undefined;
      if (billable === undefined) {
        if (blocked === undefined) missing.add(r.productCode);
        // Behind: named after the key's previous record, as when the hour was first held.
        const reason = blocked === undefined ? missingReason(r) : behindReason(blocked);
        blocked = r.hour;
        if (r.carryInMicros !== carry || r.carryOutMicros !== carry || r.reason !== reason) {
          rewritten.push(
            transition(
              r,
              'held',
              { carryInMicros: carry, carryOutMicros: carry, reason, runId: ctx.runId },
              ctx.clock,
            ),
          );
        }
        heldTail.set(key, r.hour);
        continue;
      }
      const { quantity, carryOutMicros, aboveMax } = settle(carry, billable);
      frozen.push(
        transition(
          r,
          aboveMax ? 'held' : 'frozen',
          {
            quantity,
            billableMicros: billable,
            carryInMicros: carry,
            carryOutMicros,
            reason: aboveMax ?? '',
            runId: ctx.runId,
            instanceId: ctx.instanceId,
          },
          ctx.clock,
        ),
      );
      carry = carryOutMicros;
    }
    const last = list.at(-1) as LedgerRecord;
    const known = latest.get(key);
    if (!known || known.hour <= last.hour)
      latest.set(key, { hour: last.hour, carryOutMicros: carry });
  }

  const byKey = new Map<string, Candidate[]>();
  for (const c of candidates) {
    const list = byKey.get(keyOf(c)) ?? [];
    list.push(c);
    byKey.set(keyOf(c), list);
  }
  // A key idle for longer than the bounded read above still has its carry in its latest record,
  // however old (invariant 5: rounding loses nothing). Only keys about to be frozen without a
  // recent record are looked up, so the usual run reads nothing more.
  const idle = [...byKey.entries()].flatMap(([k, l]) => (latest.has(k) ? [] : l.slice(0, 1)));
  if (idle.length > 0) {
    const older = await ctx.store.latestPerKeyOf(idle, latestFrom);
    for (const [k, v] of older) latest.set(k, v);
  }

  let deferred = 0;
  const deferredHours = new Set<number>();
  const nowVersionMs = ctx.clock.nowMs();
  for (const [key, list] of byKey) {
    list.sort((a, b) => a.hour - b.hour);
    let chain = latest.get(key);
    for (let i = 0; i < list.length; i++) {
      const c = list[i] as Candidate;
      const prev = c.hour - HOUR_MS;
      // The previous hour is settled when its record exists, when it is frozen topic-wide, or
      // when it lies before the first frozen hour we know of (before the aggregator's history).
      const settled = (chain && chain.hour >= prev) || prev < firstFrozen || fully.has(prev);
      if (!settled) {
        deferred += list.length - i;
        for (const d of list.slice(i)) deferredHours.add(d.hour);
        break;
      }
      const carryIn = chain?.carryOutMicros ?? 0n;
      let billable = c.usageMicros;
      // A held contract hour passes its carry through and holds its whole usage: its billable is
      // not known until its term is (billable = usage here, so the audit sees nothing consumed).
      let hold: string | undefined;
      if (isContract(c.productCode)) {
        const tail = heldTail.get(key);
        const term = termOf(key, c.hour);
        if (tail !== undefined && chain?.hour === tail) {
          hold = behindReason(tail);
        } else if (term) {
          billable = overage(key, term, c.hour, c.usageMicros);
        } else if (underContract(c)) {
          billable = c.usageMicros;
        } else if (c.usageMicros > 0n) {
          // Without its term, the hour's usage cannot be split into included and overage units;
          // billing it all (entitlement 0) would bill included units (issue 13, item 5).
          hold = missingReason(c);
          missing.add(c.productCode);
        } else {
          billable = 0n;
        }
      }
      const { quantity, carryOutMicros, aboveMax } = hold
        ? { quantity: 0, carryOutMicros: carryIn, aboveMax: undefined }
        : settle(carryIn, billable);
      const reason = hold ?? aboveMax ?? '';
      const dim = planDimensionOf(ctx.plans, c);
      frozen.push({
        productCode: c.productCode,
        customer: c.customer,
        customerKind: c.customerKind,
        dimension: c.dimension,
        hour: c.hour,
        version: ctx.clock.next(),
        state: reason ? 'held' : 'frozen',
        quantity,
        usageMicros: c.usageMicros,
        billableMicros: billable,
        carryInMicros: carryIn,
        carryOutMicros,
        meteringRecordId: '',
        awsStatus: '',
        reason,
        attempts: 0,
        batchId: '',
        runId: ctx.runId,
        instanceId: ctx.instanceId,
        workPartition: bucket(c.productCode, c.customer),
        licenseArn: c.licenseArn,
        pricePerUnit: dim?.pricePerUnit ?? '0',
        deadline: deadlineOf(c.hour),
        updatedAt: nowVersionMs,
        usageFromHour: c.usageFromHour,
      });
      chain = { hour: c.hour, carryOutMicros };
      if (hold) heldTail.set(key, c.hour);
    }
  }
  // The frozen versions are durable before any send and before the fills are marked: a crash in
  // between re-runs the fill, which skips keys that already have a record for the hour.
  await ctx.store.writeLedger([...frozen, ...rewritten]);
  const filled = fillsDone.filter((f) => !deferredHours.has(f.hour));
  if (filled.length > 0) await ctx.store.markHourFills(filled, ctx.instanceId);
  return { frozen, rewritten, deferred, missingEntitlements: [...missing] };
}
