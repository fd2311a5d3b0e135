/** What the console knows about a product's contracts at an instant, read from the other services' tables. */
import type { PlanCatalog } from '@meterstream/plans';
import {
  cdKey,
  type ConsoleData,
  type Entitlement,
  type RecordStatus,
  type Subscription,
} from './model.js';
import { isActive } from './validate.js';
import type { ContractRow } from './views/contracts.js';
import type { ListingRow } from './views/listings.js';

/** A product's contracts, their entitlements, latest statuses and usage so far, at `at`. */
export interface ContractState {
  subs: Subscription[];
  ents: Entitlement[];
  /** Latest ledger status per customer. */
  statuses: Map<string, RecordStatus>;
  /** Usage so far (micros) per `customer|dimension`. */
  usage: Map<string, bigint>;
  at: Date;
}

/** Whether an entitlement of `customer` is in its period at `at`. */
function entitlementAt(e: Entitlement, customer: string, at: Date): boolean {
  return e.customer === customer && e.periodStart <= at.getTime() && at.getTime() < e.periodEnd;
}

/** Reads a product's {@link ContractState}. */
export async function loadContracts(
  data: ConsoleData,
  productCode: string,
  at: Date,
): Promise<ContractState> {
  const [subs, ents, statuses] = await Promise.all([
    data.subscriptions(productCode),
    data.entitlements(productCode),
    data.lastStatuses(productCode),
  ]);
  // Usage counts against an entitlement within the entitlement's period (as the submitter
  // computes overage); without one, within the contract's period.
  const usage = await data.usageMicros(
    productCode,
    subs.map((s) => {
      const ent = ents.find((e) => entitlementAt(e, s.customer, at));
      const period = ent ?? s;
      return {
        customer: s.customer,
        from: new Date(period.periodStart),
        to: new Date(period.periodEnd),
      };
    }),
  );
  return { subs, ents, statuses, usage, at };
}

/** The rows of the contracts page: one per contract, its entitlements and usage per dimension. */
export function contractRows(
  state: ContractState,
  dimensions: readonly { name: string }[],
): ContractRow[] {
  const { at } = state;
  return state.subs.map((sub) => ({
    sub,
    active: isActive(sub, at),
    entitlements: new Map(
      state.ents
        .filter((e) => entitlementAt(e, sub.customer, at))
        .map((e) => [e.dimension, e.quantity]),
    ),
    usage: new Map(
      dimensions.map((d) => [d.name, state.usage.get(cdKey(sub.customer, d.name)) ?? 0n]),
    ),
    lastStatus: state.statuses.get(sub.customer),
  }));
}

/** The rows of the listings page: every plan with its dimensions in force and active subscribers. */
export async function listingRows(
  data: ConsoleData,
  catalog: PlanCatalog,
  at: Date,
): Promise<ListingRow[]> {
  const [subs, statuses] = await Promise.all([data.subscriptions(), data.lastStatuses()]);
  return catalog.plans.map((plan) => ({
    plan,
    dimensions: catalog.versionAt(plan.productCode, at)?.dimensions.map((d) => d.name) ?? [],
    subscribers: subs.filter((s) => s.productCode === plan.productCode && isActive(s, at)).length,
    lastStatus: statuses.get(plan.productCode),
  }));
}
