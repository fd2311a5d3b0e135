// Tables `entitlement_terms` (every contract term: one per renewal; read by the submitter's planner
// and the auditor) and `entitlements` (the current term per key, read by the console). Owner: the
// submitter, which writes both on every entitlement sync.
import {
  batchVersion,
  bigint,
  defineTable,
  fromSeconds,
  text,
  toSeconds,
  type Row,
} from './table.js';

/**
 * Units included in one contract term [periodStart, periodEnd) of a (product, customer, dimension).
 */
export interface Entitlement {
  productCode: string;
  customer: string;
  dimension: string;
  /** Whole units. */
  quantity: bigint;
  /** Epoch ms. */
  periodStart: number;
  /** Epoch ms. */
  periodEnd: number;
}

const KEY_COLUMNS = ['product_code String', 'customer String', 'dimension String'];

/** A ReplacingMergeTree of terms per key: its own columns in creation order, its period columns. */
function termTable(name: string, columns: string[], period: [string, string], orderBy: string) {
  return {
    ...defineTable({
      name,
      columns: [...KEY_COLUMNS, ...columns, 'version UInt64'],
      engine: 'ReplacingMergeTree',
      engineArgs: ['version'],
      orderBy,
    }),
    /** The select list {@link entitlementFromRow} reads. */
    select: `product_code, customer, dimension, toString(quantity) AS q, toUnixTimestamp(${period[0]}) AS ps,
    toUnixTimestamp(${period[1]}) AS pe`,
  } as const;
}

/**
 * Table `entitlement_terms` (submitter migration 2): `entitlements` is ordered by key only, so a
 * renewal replaced the first term; terms are kept apart here.
 */
export const ENTITLEMENT_TERMS = termTable(
  'entitlement_terms',
  ['term_start DateTime', 'term_end DateTime', 'quantity UInt64'],
  ['term_start', 'term_end'],
  '(product_code, customer, dimension, term_start)',
);

/** Table `entitlements`: the term written last per key (the current one after a sync). */
export const ENTITLEMENTS = termTable(
  'entitlements',
  ['quantity UInt64', 'period_start DateTime', 'period_end DateTime'],
  ['period_start', 'period_end'],
  '(product_code, customer, dimension)',
);

/** Submitter migration 2 copies the current terms into `entitlement_terms` (re-applies harmlessly). */
export function copyEntitlementsToTerms(database: string): string {
  return `INSERT INTO ${database}.${ENTITLEMENT_TERMS.name} (product_code, customer, dimension, term_start, term_end, quantity, version)
       SELECT product_code, customer, dimension, period_start, period_end, quantity, version FROM ${database}.${ENTITLEMENTS.name} FINAL`;
}

/** A row read with either table's `select`. */
export function entitlementFromRow(r: Row): Entitlement {
  return {
    productCode: text(r.product_code),
    customer: text(r.customer),
    dimension: text(r.dimension),
    quantity: bigint(r.q),
    periodStart: fromSeconds(r.ps),
    periodEnd: fromSeconds(r.pe),
  };
}

/** The rows of one sync written at `nowMs`: the terms, and the same as current terms. */
export function entitlementRows(
  ents: readonly Entitlement[],
  nowMs: number,
): { terms: Row[]; current: Row[] } {
  const base = ents.map((e, i) => ({
    product_code: e.productCode,
    customer: e.customer,
    dimension: e.dimension,
    quantity: e.quantity.toString(),
    version: batchVersion(nowMs, i),
  }));
  return {
    terms: ents.map((e, i) => ({
      ...base[i],
      term_start: toSeconds(e.periodStart),
      term_end: toSeconds(e.periodEnd),
    })),
    current: ents.map((e, i) => ({
      ...base[i],
      period_start: toSeconds(e.periodStart),
      period_end: toSeconds(e.periodEnd),
    })),
  };
}
