import type { Entitlement, FindingKind, LedgerRecord } from '@meterstream/contracts';
import { HOUR_MS, MICROS, formatMicros } from '@meterstream/runtime';
import { findingId, type Finding } from './reconcile.js';

/**
 * Conservation audit (DESIGN invariant 7, ADR 0007): per product, customer, dimension and billing
 * hour, in micro-units, usage is followed from the raw events through the windows into the ledger.
 * This module is the pure arithmetic; `conserveRange` in store.ts loads its inputs.
 */

/** Unique accepted events of one key and billing hour (each identity once, in its first hour). */
export interface EventTotal extends HourKey {
  /** Events not too old for AWS. */
  micros: bigint;
  /** Events too old for AWS in their own hour, carried to this one (their own explained bucket). */
  tooOldMicros: bigint;
  events: number;
}

/** Windows of one key and hour: the latest window of each partition, summed over partitions. */
export interface WindowTotal extends HourKey {
  micros: bigint;
  partitions: number;
}

/** One (product, customer, dimension, hour) as the conservation arithmetic keys it. */
export interface HourKey {
  productCode: string;
  customer: string;
  dimension: string;
  hourMs: number;
}

/** The key of a ledger record (whose hour is `hour`, the ledger contract's name). */
export const ledgerKey = (l: LedgerRecord): HourKey => ({
  productCode: l.productCode,
  customer: l.customer,
  dimension: l.dimension,
  hourMs: l.hour,
});

/** What `window_freezes` says about the hours of the range. */
export interface FreezeState {
  /** Every partition has frozen every hour up to and including this one (0: none). */
  closedThroughMs: number;
  /** When each hour was frozen by its last partition (absent: unknown). */
  closedAtMs: ReadonlyMap<number, number>;
}

/** Inputs of {@link conserve} for hours in [fromMs, toMs). */
export interface ConservationInput {
  events: readonly EventTotal[];
  windows: readonly WindowTotal[];
  /** The latest version of each ledger record of the range. */
  ledger: readonly LedgerRecord[];
  /** Carry out of each key's latest ledger record before the range (key: {@link chainKey}). */
  carryBefore: ReadonlyMap<string, { hourMs: number; carryOutMicros: bigint }>;
  freeze: FreezeState;
}

/** Options of {@link conserve}. */
export interface ConservationOptions {
  nowMs: number;
  /**
   * How long after an hour is frozen on every partition the planner has had its chance: a window
   * still without a ledger record after that is unexplained, before it is `awaiting_planner`.
   */
  settleMs: number;
}

/** Totals of the events → windows stage, in micro-units. */
export interface EventsWindowsTotals {
  /** Unique events (not too old) of closed hours. */
  eventsMicros: bigint;
  /** Too-old events of closed hours, carried into a later billing hour. */
  tooOldMicros: bigint;
  /** Windows of closed hours. */
  windowsMicros: bigint;
  /** Events of hours not yet frozen on every partition (not windowed yet; not compared). */
  openEventsMicros: bigint;
  /** Σ |events + too old − windows| over closed key-hours. */
  unexplainedMicros: bigint;
}

/** Totals of the windows → ledger stage, in micro-units. */
export interface WindowsLedgerTotals {
  windowsMicros: bigint;
  /** Carry out of each key's latest record before the range (carried in, with its origin). */
  carryInMicros: bigint;
  /**
   * Where the usage went: `billed` (accepted), `aws_duplicate`, `not_subscribed`, `in_flight`
   * (frozen / sending), `held:<reason>`, `expired:<reason>`, `rejected:<reason>`, `entitlement`
   * (contract units within the entitlement), `awaiting_planner`, `pending_carry` (fraction carried
   * out of each key's last record of the range).
   */
  buckets: Record<string, bigint>;
  /** Σ |unexplained| over key-hours. */
  unexplainedMicros: bigint;
  /**
   * Units that ended `rejected` or `expired`: accounted for (their bucket says why) but never
   * billed, and not by an AWS final answer (CustomerNotSubscribed, DuplicateRecord are states of
   * their own). Each is a finding: revenue lost, which the seller must see (DESIGN invariant 7).
   */
  unbilledMicros: bigint;
}

/** Result of {@link conserve}. */
export interface Conservation {
  findings: Finding[];
  eventsWindows: EventsWindowsTotals;
  windowsLedger: WindowsLedgerTotals;
}

/** The conservation kinds of finding (members of FINDING_KINDS). */
export const CONSERVATION_KINDS = [
  'conservation_events_windows',
  'conservation_windows_ledger',
  'conservation_unbilled',
  'conservation_entitlement',
] as const satisfies readonly FindingKind[];

/**
 * Checks what the ledger billed of contract keys against their terms (issue 13, item 5): within a
 * term, each hour's billable must be exactly the usage beyond the term's entitlement given the
 * usage of the term's earlier hours; and a record of a contract product billed with no term of its
 * customer covering its hour is a finding (the contract is unknown: included units may have been
 * billed as overage). `ledger` holds the records of the contract products from `ledgerFromMs` on;
 * findings are reported for hours in [fromMs, toMs) only.
 */
export function checkContractTerms(
  terms: readonly Entitlement[],
  ledger: readonly LedgerRecord[],
  fromMs: number,
  toMs: number,
  /** Where `ledger` starts: a term that began earlier has unknown usage before; not checked. */
  ledgerFromMs: number = Number.NEGATIVE_INFINITY,
): { findings: Finding[]; unexplainedMicros: bigint } {
  const findings: Finding[] = [];
  /** Σ |billed − what the terms leave| over the findings. */
  let unexplainedMicros = 0n;
  const products = new Set(terms.map((t) => t.productCode));
  const byKey = new Map<string, Entitlement[]>();
  const byCustomer = new Map<string, Entitlement[]>();
  for (const t of terms) {
    byKey.set(chainKey(t), [...(byKey.get(chainKey(t)) ?? []), t]);
    const c = JSON.stringify([t.productCode, t.customer]);
    byCustomer.set(c, [...(byCustomer.get(c) ?? []), t]);
  }
  const covers = (ts: readonly Entitlement[] | undefined, h: number): Entitlement | undefined =>
    (ts ?? []).find((t) => t.periodStart <= h && h < t.periodEnd);
  // Held for a missing entitlement: nothing decided yet (billable = usage by design).
  const decided = (l: LedgerRecord): boolean =>
    !(l.state === 'held' || l.state === 'expired') || !l.reason.includes('missing_entitlement');
  const records = [...ledger]
    .filter((l) => products.has(l.productCode))
    .sort((a, b) => a.hour - b.hour);
  const usedBefore = new Map<string, bigint>();
  for (const l of records) {
    const term = covers(byKey.get(chainKey(l)), l.hour);
    const inRange = l.hour >= fromMs && l.hour < toMs;
    if (!term) {
      if (!decided(l)) continue;
      const known = covers(byCustomer.get(JSON.stringify([l.productCode, l.customer])), l.hour);
      if (!known && inRange && l.billableMicros > 0n && l.state === 'accepted') {
        unexplainedMicros += l.billableMicros;
        findings.push(
          finding(
            'conservation_entitlement',
            ledgerKey(l),
            `billed ${formatMicros(l.billableMicros)} of a contract product with no term of ${l.customer} covering the hour: included units may have been billed as overage`,
            { billable_micros: l.billableMicros, usage_micros: l.usageMicros, entitled_micros: 0n },
            l,
          ),
        );
      }
      continue;
    }
    if (term.periodStart < ledgerFromMs) continue;
    const tk = `${chainKey(l)}|${term.periodStart}`;
    const before = usedBefore.get(tk) ?? 0n;
    usedBefore.set(tk, before + l.usageMicros);
    const entitled = term.quantity * MICROS;
    const remaining = entitled > before ? entitled - before : 0n;
    const expected = l.usageMicros > remaining ? l.usageMicros - remaining : 0n;
    if (!inRange || !decided(l) || expected === l.billableMicros) continue;
    unexplainedMicros += abs(l.billableMicros - expected);
    findings.push(
      finding(
        'conservation_entitlement',
        ledgerKey(l),
        `billable ${formatMicros(l.billableMicros)} but the term from ${new Date(term.periodStart).toISOString()} (${formatMicros(entitled)} included, ${formatMicros(before)} used before) leaves ${formatMicros(expected)} billable: ${formatMicros(l.billableMicros - expected)} unexplained`,
        {
          billable_micros: l.billableMicros,
          expected_billable_micros: expected,
          usage_micros: l.usageMicros,
          used_before_micros: before,
          entitled_micros: entitled,
        },
        l,
      ),
    );
  }
  return { findings, unexplainedMicros };
}

/** Key of a (product, customer, dimension) chain. */
export const chainKey = (x: { productCode: string; customer: string; dimension: string }): string =>
  JSON.stringify([x.productCode, x.customer, x.dimension]);

const hourKey = (x: HourKey): string =>
  JSON.stringify([x.productCode, x.customer, x.dimension, x.hourMs]);

const abs = (x: bigint): bigint => (x < 0n ? -x : x);

/** The explained bucket a ledger record's units belong to, by state and reason code. */
export function ledgerBucket(state: string, reason: string): string {
  const code = (s: string): string => /^([a-z][a-z_]*):/.exec(s)?.[1] ?? '';
  switch (state) {
    case 'accepted':
      return 'billed';
    case 'duplicate':
      return 'aws_duplicate';
    case 'not_subscribed':
      return 'not_subscribed';
    case 'frozen':
    case 'sending':
      return 'in_flight';
    case 'held':
      return `held:${code(reason) || 'unknown'}`;
    case 'expired':
      return `expired:${/it was held: ([a-z][a-z_]*)/.exec(reason)?.[1] ?? 'deadline'}`;
    case 'rejected':
      return `rejected:${/^([A-Za-z][A-Za-z_]*)/.exec(reason)?.[1] ?? 'unknown'}`;
    default:
      return `state:${state}`;
  }
}

/** Buckets of usage that ended without being billed and without an AWS final answer. */
export const isUnbilledEnd = (bucket: string): boolean =>
  bucket.startsWith('rejected:') || bucket.startsWith('expired:');

/**
 * Buckets whose record withholds units by design (ADR 0006), so carry in + billable − quantity −
 * carry out is explained, not lost: an hour above AWS's maximum (whole units held, only the
 * fraction chains) and a contract hour without an entitlement term (its whole usage is held with
 * billable = usage, and the carry passes through), whether still held or expired held.
 */
const WITHHELD_REASONS = ['quantity_above_max', 'missing_entitlement'];
const isWithheld = (bucket: string): boolean =>
  WITHHELD_REASONS.some((r) => bucket === `held:${r}` || bucket === `expired:${r}`);

/**
 * The arithmetic of one ledger record against its window and the carry the previous record of
 * its key left. Every part is in micro-units; `unexplained` is their sum (signed: positive means
 * usage that went nowhere, negative usage that came from nowhere).
 */
export function ledgerBalance(
  windowMicros: bigint,
  expectedCarryInMicros: bigint,
  l: LedgerRecord,
): {
  bucket: string;
  units: bigint;
  entitlement: bigint;
  /** Window quantity the ledger did not take as usage. */
  windowGap: bigint;
  /** Carry the previous record left that this one did not take in. */
  carryGap: bigint;
  /** carry in + billable − (quantity + carry out), outside an explained withheld hour. */
  roundingGap: bigint;
  unexplained: bigint;
} {
  const bucket = ledgerBucket(l.state, l.reason);
  const billed = BigInt(l.quantity) * MICROS;
  const rest = l.carryInMicros + l.billableMicros - billed - l.carryOutMicros;
  const withheld = isWithheld(bucket) ? rest : 0n;
  const entitlementRaw = l.usageMicros - l.billableMicros;
  // Billable above usage is not an entitlement; it is usage from nowhere.
  const entitlement = entitlementRaw >= 0n ? entitlementRaw : 0n;
  const windowGap = windowMicros - l.usageMicros;
  const carryGap = expectedCarryInMicros - l.carryInMicros;
  const roundingGap = rest - withheld + (entitlementRaw < 0n ? entitlementRaw : 0n);
  return {
    bucket,
    units: billed + withheld,
    entitlement,
    windowGap,
    carryGap,
    roundingGap,
    unexplained: windowGap + carryGap + roundingGap,
  };
}

function finding(
  kind: FindingKind,
  k: HourKey,
  detail: string,
  amounts: Record<string, bigint>,
  ledger?: LedgerRecord,
): Finding {
  return {
    id: findingId(kind, [k.productCode, k.customer, k.dimension, k.hourMs]),
    kind,
    productCode: k.productCode,
    customer: k.customer,
    customerKind: '',
    dimension: k.dimension,
    hourMs: k.hourMs,
    ledgerQuantity: ledger ? ledger.quantity : null,
    ledgerState: ledger?.state ?? '',
    cloudTrailQuantities: [],
    cloudTrailStatuses: [],
    eventIds: [],
    meteringRecordIds: [],
    ledger: null,
    detail,
    // The amounts on each side, exact, as evidence (raw_event column; micro-units as strings).
    raw: JSON.stringify(
      Object.fromEntries(Object.entries(amounts).map(([n, v]) => [n, v.toString()])),
    ),
  };
}

/**
 * Checks conservation over a range of hours. Pure: the caller loads the events, windows and ledger
 * of the range (and the carry each key had before it).
 *
 * (a) events → windows, for hours frozen on every partition: Σ unique events + Σ too-old events
 *     carried into the hour = Σ windows over partitions.
 * (b) windows → ledger, per record: window + carry in (= the carry out of the key's previous
 *     record) = quantity × 10^6 (in the bucket of its state and reason) + withheld units +
 *     entitlement consumed + carry out. A window without a ledger record is `awaiting_planner`
 *     until its hour is frozen everywhere and `settleMs` passed, then unexplained.
 */
export function conserve(input: ConservationInput, options: ConservationOptions): Conservation {
  const findings: Finding[] = [];
  const closed = (hourMs: number): boolean => hourMs <= input.freeze.closedThroughMs;

  // (a) events → windows
  const ew: EventsWindowsTotals = {
    eventsMicros: 0n,
    tooOldMicros: 0n,
    windowsMicros: 0n,
    openEventsMicros: 0n,
    unexplainedMicros: 0n,
  };
  const windowByHour = new Map(input.windows.map((w) => [hourKey(w), w]));
  const eventsByHour = new Map(input.events.map((e) => [hourKey(e), e]));
  const keysA = [...new Set([...windowByHour.keys(), ...eventsByHour.keys()])].sort();
  for (const k of keysA) {
    const e = eventsByHour.get(k);
    const w = windowByHour.get(k);
    const key = (e ?? w) as WindowTotal | EventTotal;
    if (!closed(key.hourMs)) {
      ew.openEventsMicros += (e?.micros ?? 0n) + (e?.tooOldMicros ?? 0n);
      continue;
    }
    const ev = e?.micros ?? 0n;
    const old = e?.tooOldMicros ?? 0n;
    const win = w?.micros ?? 0n;
    ew.eventsMicros += ev;
    ew.tooOldMicros += old;
    ew.windowsMicros += win;
    const diff = ev + old - win;
    if (diff === 0n) continue;
    ew.unexplainedMicros += abs(diff);
    findings.push(
      finding(
        'conservation_events_windows',
        key,
        `unique events ${formatMicros(ev)} + too old ${formatMicros(old)} (${e?.events ?? 0} event(s)) ≠ windows ${formatMicros(win)} (${w?.partitions ?? 0} partition(s)): ${formatMicros(diff)} unexplained`,
        { events_micros: ev, too_old_micros: old, windows_micros: win, unexplained_micros: diff },
      ),
    );
  }

  // (b) windows → ledger, key by key in hour order so the carry chains.
  const wl: WindowsLedgerTotals = {
    windowsMicros: 0n,
    carryInMicros: 0n,
    buckets: {},
    unexplainedMicros: 0n,
    unbilledMicros: 0n,
  };
  const add = (bucket: string, v: bigint): void => {
    if (v !== 0n) wl.buckets[bucket] = (wl.buckets[bucket] ?? 0n) + v;
  };
  const ledgerByHour = new Map(input.ledger.map((l) => [hourKey(ledgerKey(l)), l]));
  const chains = new Map<string, HourKey[]>();
  for (const x of [...input.windows, ...input.ledger.map(ledgerKey)]) {
    const c = chains.get(chainKey(x)) ?? [];
    c.push(x);
    chains.set(chainKey(x), c);
  }
  for (const ck of [...chains.keys()].sort()) {
    const before = input.carryBefore.get(ck);
    let carry = before?.carryOutMicros ?? 0n;
    wl.carryInMicros += carry;
    const hours = [...new Set((chains.get(ck) ?? []).map((x) => x.hourMs))].sort((a, b) => a - b);
    for (const hourMs of hours) {
      const [productCode, customer, dimension] = JSON.parse(ck) as [string, string, string];
      const key = { productCode, customer, dimension, hourMs };
      const w = windowByHour.get(hourKey(key));
      const l = ledgerByHour.get(hourKey(key));
      const win = w?.micros ?? 0n;
      wl.windowsMicros += win;
      if (!l) {
        if (win === 0n) continue;
        const closedAt = input.freeze.closedAtMs.get(hourMs) ?? hourMs + HOUR_MS;
        if (!closed(hourMs) || options.nowMs < closedAt + options.settleMs) {
          add('awaiting_planner', win);
          continue;
        }
        wl.unexplainedMicros += win;
        findings.push(
          finding(
            'conservation_windows_ledger',
            key,
            `window ${formatMicros(win)} has no ledger record though its hour is frozen on every partition: ${formatMicros(win)} unexplained`,
            { windows_micros: win, ledger_usage_micros: 0n, unexplained_micros: win },
          ),
        );
        continue;
      }
      const b = ledgerBalance(win, carry, l);
      add(b.bucket, b.units);
      if (isUnbilledEnd(b.bucket) && b.units > 0n) {
        wl.unbilledMicros += b.units;
        findings.push(
          finding(
            'conservation_unbilled',
            key,
            `${formatMicros(b.units)} unit(s) ended ${l.state} without being billed (${b.bucket}): ${l.reason || 'no reason recorded'}`,
            { unbilled_micros: b.units, windows_micros: win },
            l,
          ),
        );
      }
      add('entitlement', b.entitlement);
      carry = l.carryOutMicros;
      if (b.unexplained === 0n && b.windowGap === 0n && b.carryGap === 0n && b.roundingGap === 0n)
        continue;
      wl.unexplainedMicros += abs(b.windowGap) + abs(b.carryGap) + abs(b.roundingGap);
      const parts = [
        b.windowGap !== 0n
          ? `window ${formatMicros(win)} but ledger usage ${formatMicros(l.usageMicros)}`
          : '',
        b.carryGap !== 0n
          ? `carry in ${formatMicros(l.carryInMicros)} but the previous record carried out ${formatMicros(b.carryGap + l.carryInMicros)}`
          : '',
        b.roundingGap !== 0n
          ? `carry in ${formatMicros(l.carryInMicros)} + billable ${formatMicros(l.billableMicros)} ≠ quantity ${l.quantity} + carry out ${formatMicros(l.carryOutMicros)}`
          : '',
      ].filter((s) => s);
      findings.push(
        finding(
          'conservation_windows_ledger',
          key,
          `${parts.join('; ')} (ledger ${l.state}): ${formatMicros(b.unexplained)} unexplained`,
          {
            windows_micros: win,
            expected_carry_in_micros: b.carryGap + l.carryInMicros,
            ledger_usage_micros: l.usageMicros,
            ledger_billable_micros: l.billableMicros,
            ledger_carry_in_micros: l.carryInMicros,
            ledger_carry_out_micros: l.carryOutMicros,
            ledger_quantity_micros: BigInt(l.quantity) * MICROS,
            unexplained_micros: b.unexplained,
          },
          l,
        ),
      );
    }
    add('pending_carry', carry);
  }
  return { findings, eventsWindows: ew, windowsLedger: wl };
}

/** The stages of the chain, as the `stage` label of `meterstream_auditor_unexplained_units`. */
export const CHAIN_STAGES = [
  'events_windows',
  'windows_ledger',
  'ledger_unbilled',
  'ledger_cloudtrail',
] as const;
export type ChainStage = (typeof CHAIN_STAGES)[number];

/**
 * Units of one ledger ↔ CloudTrail finding (stage c, the existing reconciliation): what the ledger
 * and AWS disagree on. Approximate where the finding is about a status, not a quantity.
 */
export function reconciliationFindingUnits(f: Finding): number {
  const cts = f.cloudTrailQuantities;
  const maxCt = cts.length > 0 ? Math.max(...cts) : 0;
  switch (f.kind) {
    case 'missing_in_cloudtrail':
      return f.ledgerQuantity ?? 0;
    case 'unknown_to_ledger':
      return maxCt;
    case 'quantity_mismatch':
    case 'conflicting_duplicate':
      return cts.length > 0
        ? Math.min(...cts.map((q) => Math.abs(q - (f.ledgerQuantity ?? 0))))
        : 0;
    case 'status_mismatch':
      // Billed although the ledger says it was not (or the other way round).
      return f.ledgerState === 'accepted' ? 0 : maxCt;
    default:
      return 0;
  }
}

/** Unexplained units per stage of one run, for the gauge. */
export function unexplainedUnits(
  reconciliation: { findings: readonly Finding[] },
  conservation: Conservation | undefined,
): Record<ChainStage, number> {
  const units = (micros: bigint): number => Number(micros) / 1e6;
  return {
    events_windows: conservation ? units(conservation.eventsWindows.unexplainedMicros) : 0,
    windows_ledger: conservation ? units(conservation.windowsLedger.unexplainedMicros) : 0,
    ledger_unbilled: conservation ? units(conservation.windowsLedger.unbilledMicros) : 0,
    ledger_cloudtrail: reconciliation.findings.reduce(
      (n, f) => n + reconciliationFindingUnits(f),
      0,
    ),
  };
}
