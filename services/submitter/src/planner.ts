import type { PlanCatalog, PlanDimension } from '@meterstream/plans';
import {
  AWS_MAX_QUANTITY,
  MICROS,
  applyCarry,
  heldReason,
  deadlineOf,
  overageMicros,
  workPartitionOf,
  type LedgerRecord,
  type VersionClock,
} from './ledger.js';
import type { Entitlement, Store, Subscription, UsageWindow } from './store.js';

const HOUR_MS = 3_600_000;

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
  frozen: LedgerRecord[];
  deferred: number;
}

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
  if (owned.size === 0) return { frozen: [], deferred: 0 };
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
  const [windows, subs, ents, fills, latest] = await Promise.all([
    ctx.store.pendingWindows(fromHour, ctx.usagePartitions),
    ctx.store.subscriptions(),
    ctx.store.entitlements(),
    ctx.store.hourFills(fromHour),
    ctx.store.latestPerKey(latestFrom),
  ]);
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

  // Contract usage before each hour, within the entitlement's period.
  const contractProducts = [...new Set(candidates.map((c) => c.productCode))].filter(
    (p) => ctx.plans.resolveProduct(p)?.pricingModel === 'contract',
  );
  const entByKey = new Map<string, Entitlement[]>();
  for (const e of ents) {
    const list = entByKey.get(keyOf(e)) ?? [];
    list.push(e);
    entByKey.set(keyOf(e), list);
  }
  let contractUsage: UsageWindow[] = [];
  if (contractProducts.length > 0) {
    const starts = ents
      .filter((e) => contractProducts.includes(e.productCode))
      .map((e) => e.periodStart);
    const from = starts.length > 0 ? Math.min(...starts) : fromHour;
    contractUsage = await ctx.store.windowsBetween(contractProducts, from, nowMs + HOUR_MS);
  }
  const usageByKey = new Map<string, UsageWindow[]>();
  for (const w of contractUsage) {
    const list = usageByKey.get(keyOf(w)) ?? [];
    list.push(w);
    usageByKey.set(keyOf(w), list);
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

  const frozen: LedgerRecord[] = [];
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
      const plan = ctx.plans.resolveProduct(c.productCode);
      let billable = c.usageMicros;
      if (plan?.pricingModel === 'contract') {
        const ent = (entByKey.get(key) ?? []).find(
          (e) => e.periodStart <= c.hour && c.hour < e.periodEnd,
        );
        const entitled = (ent?.quantity ?? 0n) * MICROS;
        const periodStart = ent?.periodStart ?? fromHour;
        const before = (usageByKey.get(key) ?? [])
          .filter((w) => w.hour >= periodStart && w.hour < c.hour)
          .reduce((sum, w) => sum + w.quantityMicros, 0n);
        billable = overageMicros(entitled, before, c.usageMicros);
      }
      // One key-hour above AWS's maximum is held on its own (ADR 0006): throwing here would fail
      // the whole run and stop every other key. It cannot be split (AWS keeps one record per
      // key-hour, first quantity wins), so the whole units are held until the deadline, and only
      // the fraction carries on, as it would have after a send.
      const total = carryIn + billable;
      const overMax = total / MICROS > AWS_MAX_QUANTITY;
      const { quantity, carryOutMicros } = overMax
        ? { quantity: 0, carryOutMicros: total % MICROS }
        : applyCarry(carryIn, billable);
      const dim = planDimensionOf(ctx.plans, c);
      frozen.push({
        productCode: c.productCode,
        customer: c.customer,
        customerKind: c.customerKind,
        dimension: c.dimension,
        hour: c.hour,
        version: ctx.clock.next(),
        state: overMax ? 'held' : 'frozen',
        quantity,
        usageMicros: c.usageMicros,
        billableMicros: billable,
        carryInMicros: carryIn,
        carryOutMicros,
        meteringRecordId: '',
        awsStatus: '',
        reason: overMax
          ? heldReason(
              'quantity_above_max',
              `${(total / MICROS).toString()} units in one hour; AWS accepts at most ${AWS_MAX_QUANTITY.toString()} per record`,
            )
          : '',
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
    }
  }
  // The frozen versions are durable before any send and before the fills are marked: a crash in
  // between re-runs the fill, which skips keys that already have a record for the hour.
  await ctx.store.writeLedger(frozen);
  const filled = fillsDone.filter((f) => !deferredHours.has(f.hour));
  if (filled.length > 0) await ctx.store.markHourFills(filled, ctx.instanceId);
  return { frozen, deferred };
}
