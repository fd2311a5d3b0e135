import {
  GetEntitlementsCommand,
  type MarketplaceEntitlementServiceClient,
  type Entitlement as AwsEntitlement,
} from '@aws-sdk/client-marketplace-entitlement-service';
import { MeterstreamError, toMeterstreamError } from '@meterstream/errors';
import type { Logger } from '@meterstream/observability';
import { classifyAwsError, retry } from '@meterstream/runtime';
import type { SubmitterMetrics } from './metrics.js';
import type { Entitlement, Store, Subscription } from './store.js';

/** A contract with no ExpirationDate runs "forever" (the same far end the registry uses). */
export const OPEN_END_MS = Date.UTC(2100, 0, 1);

/** Start of the UTC month of `ms`. */
export function monthStartOf(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** The term of a key that covers `hourMs` (terms of one key never overlap), if any. */
export function termAt(terms: readonly Entitlement[], hourMs: number): Entitlement | undefined {
  return terms.find((t) => t.periodStart <= hourMs && hourMs < t.periodEnd);
}

/**
 * The contract term to write for one entitlement GetEntitlements returned, given the terms already
 * stored for its (product, customer, dimension); undefined when nothing changes.
 *
 * GetEntitlements says how many units a contract includes and when it expires, never when the
 * term began, and it stops returning a term once it has expired. So terms are kept per key, one
 * row each, and derived from the expiration dates as they change:
 * - no stored term: the first term starts at the subscription's start when the registry knows it
 *   (> 0; the CLI's "no start given" is 1970), else at the start of the sync time's UTC month;
 * - a later ExpirationDate than the latest term's end is a renewal: a new term from the previous
 *   term's end to the new expiration, with the new quantity (usage of the old term no longer
 *   counts against it);
 * - the same end: the same term, its quantity amended if it changed;
 * - an earlier end inside the latest term: the term was ended early (its end moves);
 *   one before the latest term's start is ignored (it cannot be placed).
 */
export function termFor(
  stored: readonly Entitlement[],
  subscription: Pick<Subscription, 'periodStart'> | undefined,
  e: {
    productCode: string;
    customer: string;
    dimension: string;
    quantity: bigint;
    expirationMs: number | undefined;
  },
  nowMs: number,
): Entitlement | undefined {
  const end = e.expirationMs ?? OPEN_END_MS;
  const key = { productCode: e.productCode, customer: e.customer, dimension: e.dimension };
  const latest = [...stored].sort((a, b) => a.periodEnd - b.periodEnd).at(-1);
  if (!latest) {
    const known = subscription && subscription.periodStart > 0 ? subscription.periodStart : 0;
    const start = known > 0 && known < end ? known : monthStartOf(nowMs);
    if (start >= end) return undefined;
    return { ...key, quantity: e.quantity, periodStart: start, periodEnd: end };
  }
  if (end > latest.periodEnd) {
    return { ...key, quantity: e.quantity, periodStart: latest.periodEnd, periodEnd: end };
  }
  if (end === latest.periodEnd) {
    return latest.quantity === e.quantity ? undefined : { ...latest, quantity: e.quantity };
  }
  if (end > latest.periodStart) return { ...latest, quantity: e.quantity, periodEnd: end };
  return undefined;
}

/** How to retry a throttled or failed GetEntitlements page. */
export interface EntitlementFetchOptions {
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Retries of one page before giving up (default 8). */
  maxAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Pulls every page of GetEntitlements for a product. A page that fails for a reason that may pass
 * (throttling, a transient error: the shared rule) is tried again up to `maxAttempts` more times
 * with full-jitter backoff; the first retry waits up to 2 · `backoffBaseMs`, as the sender's do.
 */
export async function fetchEntitlements(
  client: MarketplaceEntitlementServiceClient,
  productCode: string,
  options: EntitlementFetchOptions,
): Promise<AwsEntitlement[]> {
  const out: AwsEntitlement[] = [];
  let token: string | undefined;
  do {
    const input = {
      ProductCode: productCode,
      MaxResults: 25,
      ...(token ? { NextToken: token } : {}),
    };
    try {
      const page = await retry(() => client.send(new GetEntitlementsCommand(input)), {
        attempts: (options.maxAttempts ?? 8) + 1,
        baseMs: 2 * options.backoffBaseMs,
        maxMs: options.backoffMaxMs,
        jitter: 1,
        retriable: (err) => classifyAwsError(err).retriable,
        ...(options.sleep ? { sleep: options.sleep } : {}),
      });
      out.push(...(page.Entitlements ?? []));
      token = page.NextToken;
    } catch (err) {
      throw new MeterstreamError(
        'AWS_REJECTED',
        `GetEntitlements failed: ${classifyAwsError(err).name}`,
        { cause: err },
      );
    }
  } while (token !== undefined);
  return out;
}

/** What one product's sync found and wrote. */
export interface EntitlementSyncResult {
  productCode: string;
  /** Entitlements GetEntitlements returned. */
  entitlements: number;
  /** Terms written (new, renewed, amended or ended early). */
  terms: number;
}

/**
 * Syncs the contracts of `productCodes` from GetEntitlements into the registry: the contract
 * terms (see {@link termFor}) and a subscription per customer (with the entitlement's LicenseArn,
 * so an account-style contract customer new to the registry can be sent). Used by the CLI
 * (`entitlements sync`) and by the submitter when usage is held for a missing entitlement.
 */
export async function syncEntitlements(
  deps: {
    store: Store;
    client: MarketplaceEntitlementServiceClient;
    fetch: EntitlementFetchOptions;
  },
  productCodes: readonly string[],
  nowMs: number,
): Promise<EntitlementSyncResult[]> {
  const { store } = deps;
  const results: EntitlementSyncResult[] = [];
  if (productCodes.length === 0) return results;
  const subsByCustomer = new Map(
    (await store.subscriptions()).map((s) => [`${s.productCode}|${s.customer}`, s]),
  );
  const termsByKey = new Map<string, Entitlement[]>();
  for (const t of await store.entitlements()) {
    const k = `${t.productCode}|${t.customer}|${t.dimension}`;
    termsByKey.set(k, [...(termsByKey.get(k) ?? []), t]);
  }
  for (const productCode of productCodes) {
    const ents = await fetchEntitlements(deps.client, productCode, deps.fetch);
    const terms: Entitlement[] = [];
    const subs = new Map<string, Subscription>();
    for (const e of ents) {
      const customer = e.CustomerAWSAccountId ?? e.CustomerIdentifier;
      if (!customer || !e.Dimension) continue;
      const k = `${productCode}|${customer}|${e.Dimension}`;
      const stored = termsByKey.get(k) ?? [];
      const prior = subsByCustomer.get(`${productCode}|${customer}`);
      const term = termFor(
        stored,
        prior,
        {
          productCode,
          customer,
          dimension: e.Dimension,
          quantity: BigInt(Math.floor(e.Value?.IntegerValue ?? e.Value?.DoubleValue ?? 0)),
          expirationMs: e.ExpirationDate ? new Date(e.ExpirationDate).getTime() : undefined,
        },
        nowMs,
      );
      const after = term
        ? [...stored.filter((t) => t.periodStart !== term.periodStart), term]
        : stored;
      if (term) {
        terms.push(term);
        termsByKey.set(k, after);
      }
      const first = Math.min(...after.map((t) => t.periodStart));
      const last = Math.max(...after.map((t) => t.periodEnd));
      if (after.length === 0) continue;
      const sub: Subscription = {
        productCode,
        customer,
        customerKind: e.CustomerAWSAccountId ? 'account' : 'identifier',
        licenseArn: e.LicenseArn ?? prior?.licenseArn ?? '',
        buyerName: prior?.buyerName ?? '',
        agreementId: prior?.agreementId ?? '',
        status: last > nowMs ? 'active' : 'cancelled',
        periodStart: prior ? prior.periodStart : first,
        periodEnd: Math.max(last, subs.get(customer)?.periodEnd ?? 0),
        source: 'entitlements',
      };
      subs.set(customer, sub);
      subsByCustomer.set(`${productCode}|${customer}`, sub);
    }
    if (terms.length > 0) await store.upsertEntitlements(terms);
    if (subs.size > 0) await store.upsertSubscriptions([...subs.values()]);
    results.push({ productCode, entitlements: ents.length, terms: terms.length });
  }
  return results;
}

/** What {@link missingEntitlementSync} needs. */
export interface MissingEntitlementSyncDeps {
  store: Store;
  client: MarketplaceEntitlementServiceClient;
  fetch: EntitlementFetchOptions;
  /** Least time between two syncs of one product (MS_SUBMITTER_ENTITLEMENT_SYNC_MIN_INTERVAL_MS). */
  minIntervalMs: number;
  now: () => number;
  metrics: SubmitterMetrics;
  logger: Logger;
}

/**
 * Usage held for a missing entitlement triggers a GetEntitlements sync of its product, at most
 * once per `minIntervalMs` per product (this instance's clock). A failed sync is logged and
 * counted; the records stay held and the next due run tries again. The returned function syncs
 * the due products and returns the terms written.
 */
export function missingEntitlementSync(
  deps: MissingEntitlementSyncDeps,
): (products: readonly string[], runId: string) => Promise<number> {
  const { metrics: m, logger } = deps;
  /** When this instance last synced each product's entitlements. */
  const lastSync = new Map<string, number>();
  return async (products, runId) => {
    const at = deps.now();
    const due = products.filter((p) => at - (lastSync.get(p) ?? -Infinity) >= deps.minIntervalMs);
    let terms = 0;
    for (const p of due) {
      lastSync.set(p, at);
      try {
        const [r] = await syncEntitlements(deps, [p], at);
        terms += r?.terms ?? 0;
        m.entitlementSyncs.inc({ outcome: 'ok' });
        logger.info(
          { runId, product: p, entitlements: r?.entitlements ?? 0, terms: r?.terms ?? 0 },
          'entitlements synced for usage held without an entitlement',
        );
      } catch (err) {
        m.entitlementSyncs.inc({ outcome: 'failed' });
        logger.warn(
          { err: toMeterstreamError(err).toJSON(), runId, product: p },
          'entitlement sync failed; the usage stays held',
        );
      }
    }
    return terms;
  };
}
