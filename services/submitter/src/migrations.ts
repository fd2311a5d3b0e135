import type { Migration } from '@meterstream/clickhouse';
import {
  ENTITLEMENTS,
  ENTITLEMENT_TERMS,
  LEDGER,
  SUBMITTER_HOUR_FILLS,
  SUBSCRIPTIONS,
  USAGE_WINDOWS,
  WINDOW_FREEZES,
  copyEntitlementsToTerms,
} from '@meterstream/contracts';

/**
 * Tables the submitter owns (ADR 0001) and the aggregator tables it reads; their names, DDL and
 * row codecs are their contracts in @meterstream/contracts.
 */
export const TABLES = {
  ledger: LEDGER,
  subscriptions: SUBSCRIPTIONS,
  entitlements: ENTITLEMENTS,
  entitlementTerms: ENTITLEMENT_TERMS,
  hourFills: SUBMITTER_HOUR_FILLS,
  usageWindows: USAGE_WINDOWS,
  windowFreezes: WINDOW_FREEZES,
} as const;

/** The submitter's migrations (idempotent DDL, ClickHouse 18.16 and current). */
export const SUBMITTER_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'ledger, subscriptions, entitlements, hour fills',
    up: (ctx) =>
      [LEDGER, SUBSCRIPTIONS, ENTITLEMENTS, SUBMITTER_HOUR_FILLS].flatMap((t) => t.create(ctx)),
  },
  {
    // Contract terms, several per key (issue 13, item 5): `entitlements` is ordered by
    // (product, customer, dimension), so a renewal replaced the first term and old-term usage ate
    // the new term's entitlement. `entitlements` stays (the current term per key, which the
    // console reads); the planner reads every term from here. The copy re-applies harmlessly: it
    // writes the same rows with the same versions, which the ReplacingMergeTree collapses.
    version: 2,
    name: 'entitlement terms',
    up: (ctx) => [...ENTITLEMENT_TERMS.create(ctx), copyEntitlementsToTerms(ctx.database)],
  },
  {
    version: 3,
    name: 'ledger.usage_from_hour: the origin of late usage carried into a record',
    up: LEDGER.addUsageFromHour,
  },
];
