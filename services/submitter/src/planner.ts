import type { PlanCatalog, PlanDimension } from '@meterstream/plans';
import { AWS_MAX_QUANTITY, HOUR_MS, MICROS, hourStart } from '@meterstream/runtime';
import {
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

/** The latest record of a key: its hour and the carry it passes on. */
interface Latest {
  hour: number;
  carryOutMicros: bigint;
}

/** Groups `xs` by `key`, keeping their order. */
function groupBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    const list = out.get(k);
    if (list) list.push(x);
    else out.set(k, [x]);
  }
  return out;
}

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

/** What one freeze step reads before it plans. */
interface FreezeInput {
  fromHour: number;
  /** Lower bound of the bounded read of each key's latest record. */
  latestFrom: number;
  fullyFrozen: number[];
  windows: UsageWindow[];
  subs: Subscription[];
  ents: Entitlement[];
  fills: Set<string>;
  latest: Map<string, Latest>;
  /** Records held for a missing entitlement, never sent, of the owned buckets: to re-plan. */
  waiting: LedgerRecord[];
}

async function readFreezeInput(
  ctx: FreezeContext,
  owned: ReadonlySet<number>,
  fromHour: number,
): Promise<FreezeInput> {
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
  // they may still be planned; the planner re-plans them once their term is known.
  const waiting = held.filter(
    (r) =>
      heldReasonOf(r.reason) === 'missing_entitlement' &&
      r.attempts === 0 &&
      owned.has(r.workPartition),
  );
  return { fromHour, latestFrom, fullyFrozen, windows, subs, ents, fills, latest, waiting };
}

/** Which bucket a (product, customer) is in, and whether this instance owns it. */
interface Buckets {
  of(productCode: string, customer: string): number;
  owned: ReadonlySet<number>;
}

/**
 * The key-hours to freeze: the owned windows, plus a zero record for every active subscription ×
 * dimension of a fully frozen hour whose bucket has not been filled yet (and the fills that
 * writes, to mark once the records are durable).
 */
function candidatesOf(
  ctx: FreezeContext,
  input: FreezeInput,
  buckets: Buckets,
): { candidates: Candidate[]; fillsDone: { hour: number; partition: number }[] } {
  const subByCustomer = new Map<string, Subscription>();
  for (const s of input.subs) subByCustomer.set(`${s.productCode}|${s.customer}`, s);
  const candidates: Candidate[] = [];
  const windowKeys = new Set<string>();
  for (const w of input.windows) {
    if (!buckets.owned.has(buckets.of(w.productCode, w.customer))) continue;
    windowKeys.add(`${keyOf(w)}|${w.hour}`);
    const sub = subByCustomer.get(`${w.productCode}|${w.customer}`);
    candidates.push({ ...w, usageMicros: w.quantityMicros, licenseArn: sub?.licenseArn ?? '' });
  }
  const activeByBucket = new Map<number, Subscription[]>();
  for (const s of input.subs) {
    if (s.status !== 'active') continue;
    const b = buckets.of(s.productCode, s.customer);
    if (!buckets.owned.has(b)) continue;
    activeByBucket.set(b, [...(activeByBucket.get(b) ?? []), s]);
  }
  const fillsDone: { hour: number; partition: number }[] = [];
  for (const hour of input.fullyFrozen) {
    for (const b of buckets.owned) {
      if (input.fills.has(`${hour}|${b}`)) continue;
      fillsDone.push({ hour, partition: b });
      for (const s of activeByBucket.get(b) ?? []) {
        if (hour < s.periodStart || hour >= s.periodEnd) continue;
        const version = ctx.plans.versionAt(s.productCode, new Date(hour));
        for (const d of version?.dimensions ?? []) {
          const k = { productCode: s.productCode, customer: s.customer, dimension: d.name };
          if (windowKeys.has(`${keyOf(k)}|${hour}`)) continue;
          const last = input.latest.get(keyOf(k));
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
  return { candidates, fillsDone };
}

/**
 * Contract terms per key, and the usage of each term before an hour (cumulative overage), for the
 * key-hours being planned. Collects the contract products with usage held for a missing
 * entitlement (`missing`: the caller syncs them).
 */
class ContractPricing {
  readonly missing = new Set<string>();

  private constructor(
    private readonly plans: PlanCatalog,
    private readonly entByKey: ReadonlyMap<string, Entitlement[]>,
    private readonly entByCustomer: ReadonlyMap<string, Entitlement[]>,
    private readonly usageByKey: ReadonlyMap<string, UsageWindow[]>,
  ) {}

  /** Reads the contract usage the `hours` being planned need: from their terms' starts on. */
  static async load(
    ctx: FreezeContext,
    input: FreezeInput,
    hours: readonly Candidate[],
    nowMs: number,
  ): Promise<ContractPricing> {
    const entByKey = groupBy(input.ents, keyOf);
    const entByCustomer = groupBy(input.ents, (e) => `${e.productCode}|${e.customer}`);
    const pricing = new ContractPricing(ctx.plans, entByKey, entByCustomer, new Map());
    const contractHours = [...hours, ...input.waiting].filter((c) =>
      pricing.isContract(c.productCode),
    );
    const contractProducts = [...new Set(contractHours.map((c) => c.productCode))];
    if (contractProducts.length === 0) return pricing;
    // Only the terms of the hours being planned are read from their start, not every term ever.
    const starts = contractHours.flatMap((c) => {
      const t = pricing.termOf(keyOf(c), c.hour);
      return t ? [t.periodStart] : [];
    });
    const from = starts.length > 0 ? Math.min(...starts) : input.fromHour;
    const usage = await ctx.store.windowsBetween(contractProducts, from, nowMs + HOUR_MS);
    return new ContractPricing(ctx.plans, entByKey, entByCustomer, groupBy(usage, keyOf));
  }

  isContract(productCode: string): boolean {
    return this.plans.resolveProduct(productCode)?.pricingModel === 'contract';
  }

  termOf(key: string, hour: number): Entitlement | undefined {
    return termAt(this.entByKey.get(key) ?? [], hour);
  }

  /**
   * Whether the customer's contract is known at `hour`: a term of any of its dimensions covers it.
   * A dimension without a term of its own is then one the contract includes nothing of (AWS lists
   * only contracted dimensions in GetEntitlements; pay-as-you-go dimensions of a contract have no
   * entitlement), so all its usage is billable. Without any term the contract is unknown to us and
   * the usage is held (issue 13, item 5).
   */
  private underContract(c: { productCode: string; customer: string; hour: number }): boolean {
    return (
      termAt(this.entByCustomer.get(`${c.productCode}|${c.customer}`) ?? [], c.hour) !== undefined
    );
  }

  /** Billable of a contract key-hour: only usage beyond its term's entitlement, from the term's start. */
  private overage(key: string, term: Entitlement, hour: number, usage: bigint): bigint {
    const before = (this.usageByKey.get(key) ?? [])
      .filter((w) => w.hour >= term.periodStart && w.hour < hour)
      .reduce((sum, w) => sum + w.quantityMicros, 0n);
    return overageMicros(term.quantity * MICROS, before, usage);
  }

  /**
   * The billable usage of a key-hour: all of it outside contracts (a plan that is no longer a
   * contract bills all usage, as any subscription does), the overage of its term, or all of it for
   * a dimension the known contract has no term of; undefined when no term of the customer covers
   * the hour (its usage cannot be split into included and overage units).
   */
  billable(
    key: string,
    c: { productCode: string; customer: string; hour: number; usageMicros: bigint },
  ): bigint | undefined {
    if (!this.isContract(c.productCode)) return c.usageMicros;
    const term = this.termOf(key, c.hour);
    if (term) return this.overage(key, term, c.hour, c.usageMicros);
    return this.underContract(c) ? c.usageMicros : undefined;
  }
}

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

/** What re-planning the waiting records changed. */
interface Replanned {
  frozen: LedgerRecord[];
  rewritten: LedgerRecord[];
  /** Keys whose latest record stays held for a missing entitlement: later hours wait behind it. */
  heldTail: Map<string, number>;
}

/**
 * Re-plans the records held for a missing entitlement, key by key in hour order (ADR 0006). Their
 * hold passed the carry through unchanged (carry out = carry in) and no record after them was
 * planned (later hours of the key wait behind them), so every record from the first re-planned
 * one on may take a new carry. The first that still has no term stops the chain: it and every
 * later one stay held, with the carry the re-planned ones left. Moves `latest` on past them.
 */
function replanWaiting(
  ctx: FreezeContext,
  waiting: readonly LedgerRecord[],
  pricing: ContractPricing,
  latest: Map<string, Latest>,
): Replanned {
  const out: Replanned = { frozen: [], rewritten: [], heldTail: new Map() };
  for (const [key, list] of groupBy(waiting, keyOf)) {
    list.sort((a, b) => a.hour - b.hour);
    let carry = (list[0] as LedgerRecord).carryInMicros;
    /** Hour of the previous record of the key once one stays held (later ones wait behind it). */
    let blocked: number | undefined;
    for (const r of list) {
      const billable = blocked === undefined ? pricing.billable(key, r) : undefined;
      if (billable === undefined) {
        if (blocked === undefined) pricing.missing.add(r.productCode);
        // Behind: named after the key's previous record, as when the hour was first held.
        const reason = blocked === undefined ? missingReason(r) : behindReason(blocked);
        blocked = r.hour;
        if (r.carryInMicros !== carry || r.carryOutMicros !== carry || r.reason !== reason) {
          const changes = { carryInMicros: carry, carryOutMicros: carry, reason, runId: ctx.runId };
          out.rewritten.push(transition(r, 'held', changes, ctx.clock));
        }
        out.heldTail.set(key, r.hour);
        continue;
      }
      const { quantity, carryOutMicros, aboveMax } = settle(carry, billable);
      const changes = {
        quantity,
        billableMicros: billable,
        carryInMicros: carry,
        carryOutMicros,
        reason: aboveMax ?? '',
        runId: ctx.runId,
        instanceId: ctx.instanceId,
      };
      out.frozen.push(transition(r, aboveMax ? 'held' : 'frozen', changes, ctx.clock));
      carry = carryOutMicros;
    }
    const last = list.at(-1) as LedgerRecord;
    const known = latest.get(key);
    if (!known || known.hour <= last.hour)
      latest.set(key, { hour: last.hour, carryOutMicros: carry });
  }
  return out;
}

/** A new ledger record of a candidate key-hour. */
function newRecord(
  ctx: FreezeContext,
  c: Candidate,
  planned: {
    state: 'frozen' | 'held';
    quantity: number;
    billableMicros: bigint;
    carryInMicros: bigint;
    carryOutMicros: bigint;
    reason: string;
    workPartition: number;
    updatedAt: number;
  },
): LedgerRecord {
  return {
    productCode: c.productCode,
    customer: c.customer,
    customerKind: c.customerKind,
    dimension: c.dimension,
    hour: c.hour,
    version: ctx.clock.next(),
    state: planned.state,
    quantity: planned.quantity,
    usageMicros: c.usageMicros,
    billableMicros: planned.billableMicros,
    carryInMicros: planned.carryInMicros,
    carryOutMicros: planned.carryOutMicros,
    meteringRecordId: '',
    awsStatus: '',
    reason: planned.reason,
    attempts: 0,
    batchId: '',
    runId: ctx.runId,
    instanceId: ctx.instanceId,
    workPartition: planned.workPartition,
    licenseArn: c.licenseArn,
    pricePerUnit: planDimensionOf(ctx.plans, c)?.pricePerUnit ?? '0',
    deadline: deadlineOf(c.hour),
    updatedAt: planned.updatedAt,
    usageFromHour: c.usageFromHour,
  };
}

/** What planning the candidates wrote and what it left for a later run. */
interface Planned {
  frozen: LedgerRecord[];
  deferred: number;
  deferredHours: Set<number>;
}

/**
 * Plans the candidates of each key in hour order, each taking the carry of the key's previous
 * record. The previous hour is settled when its record exists, when it is frozen topic-wide, or
 * when it lies before the first frozen hour we know of (before the aggregator's history); an hour
 * whose previous hour is not settled waits, with every later one of its key.
 */
function planCandidates(
  ctx: FreezeContext,
  byKey: ReadonlyMap<string, Candidate[]>,
  state: { latest: ReadonlyMap<string, Latest>; fullyFrozen: readonly number[] },
  pricing: ContractPricing,
  heldTail: Map<string, number>,
  bucket: (productCode: string, customer: string) => number,
): Planned {
  const fully = new Set(state.fullyFrozen);
  const firstFrozen =
    state.fullyFrozen.length > 0 ? Math.min(...state.fullyFrozen) : Number.POSITIVE_INFINITY;
  const out: Planned = { frozen: [], deferred: 0, deferredHours: new Set() };
  const nowVersionMs = ctx.clock.nowMs();
  for (const [key, list] of byKey) {
    list.sort((a, b) => a.hour - b.hour);
    let chain = state.latest.get(key);
    for (let i = 0; i < list.length; i++) {
      const c = list[i] as Candidate;
      const prev = c.hour - HOUR_MS;
      const settled = (chain && chain.hour >= prev) || prev < firstFrozen || fully.has(prev);
      if (!settled) {
        out.deferred += list.length - i;
        for (const d of list.slice(i)) out.deferredHours.add(d.hour);
        break;
      }
      const carryIn = chain?.carryOutMicros ?? 0n;
      const { billable, hold } = billableOrHold(key, c, chain, pricing, heldTail);
      const { quantity, carryOutMicros, aboveMax } = hold
        ? { quantity: 0, carryOutMicros: carryIn, aboveMax: undefined }
        : settle(carryIn, billable);
      const reason = hold ?? aboveMax ?? '';
      out.frozen.push(
        newRecord(ctx, c, {
          state: reason ? 'held' : 'frozen',
          quantity,
          billableMicros: billable,
          carryInMicros: carryIn,
          carryOutMicros,
          reason,
          workPartition: bucket(c.productCode, c.customer),
          updatedAt: nowVersionMs,
        }),
      );
      chain = { hour: c.hour, carryOutMicros };
      if (hold) heldTail.set(key, c.hour);
    }
  }
  return out;
}

/**
 * The billable usage of a candidate, or why it is held: a held contract hour passes its carry
 * through and holds its whole usage, since its billable is not known until its term is (billable
 * = usage here, so the audit sees nothing consumed).
 */
function billableOrHold(
  key: string,
  c: Candidate,
  chain: Latest | undefined,
  pricing: ContractPricing,
  heldTail: ReadonlyMap<string, number>,
): { billable: bigint; hold?: string } {
  if (!pricing.isContract(c.productCode)) return { billable: c.usageMicros };
  const tail = heldTail.get(key);
  if (tail !== undefined && chain?.hour === tail)
    return { billable: c.usageMicros, hold: behindReason(tail) };
  const billable = pricing.billable(key, c);
  if (billable !== undefined) return { billable };
  if (c.usageMicros === 0n) return { billable: 0n };
  // Without its term, the hour's usage cannot be split into included and overage units;
  // billing it all (entitlement 0) would bill included units (issue 13, item 5).
  pricing.missing.add(c.productCode);
  return { billable: c.usageMicros, hold: missingReason(c) };
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
  const buckets: Buckets = {
    of: (productCode, customer) => workPartitionOf(productCode, customer, ctx.workPartitions),
    owned,
  };
  const input = await readFreezeInput(ctx, owned, hourStart(nowMs) - ctx.lookbackHours * HOUR_MS);
  const { candidates, fillsDone } = candidatesOf(ctx, input, buckets);
  const pricing = await ContractPricing.load(ctx, input, candidates, nowMs);
  const replanned = replanWaiting(ctx, input.waiting, pricing, input.latest);
  const byKey = groupBy(candidates, keyOf);
  // A key idle for longer than the bounded read above still has its carry in its latest record,
  // however old (invariant 5: rounding loses nothing). Only keys about to be frozen without a
  // recent record are looked up, so the usual run reads nothing more.
  const idle = [...byKey.entries()].flatMap(([k, l]) => (input.latest.has(k) ? [] : l.slice(0, 1)));
  if (idle.length > 0) {
    const older = await ctx.store.latestPerKeyOf(idle, input.latestFrom);
    for (const [k, v] of older) input.latest.set(k, v);
  }
  const planned = planCandidates(ctx, byKey, input, pricing, replanned.heldTail, buckets.of);
  const frozen = [...replanned.frozen, ...planned.frozen];
  // The frozen versions are durable before any send and before the fills are marked: a crash in
  // between re-runs the fill, which skips keys that already have a record for the hour.
  await ctx.store.writeLedger([...frozen, ...replanned.rewritten]);
  const filled = fillsDone.filter((f) => !planned.deferredHours.has(f.hour));
  if (filled.length > 0) await ctx.store.markHourFills(filled, ctx.instanceId);
  return {
    frozen,
    rewritten: replanned.rewritten,
    deferred: planned.deferred,
    missingEntitlements: [...pricing.missing],
  };
}
