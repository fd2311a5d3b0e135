import { AwsError } from './aws-error.js';
import type { EmulatorContext } from './context.js';
import { stillMeterable } from './services/licenses.js';
import type { Entitlement, Product, Subscription } from './state.js';
import { str, type Json } from './wire.js';

interface SubscriptionIndex {
  of: Subscription[];
  size: number;
  /** `product|id|x` / `product|acct|x` → the customer's subscriptions, in registration order. */
  byCustomer: Map<string, Subscription[]>;
  byLicense: Map<string, Subscription>;
}

/** Whether two subscriptions are the same customer of the same product. */
function sameCustomer(a: Subscription, b: Subscription): boolean {
  return (
    a.productCode === b.productCode &&
    ((a.customerIdentifier !== undefined && a.customerIdentifier === b.customerIdentifier) ||
      (a.customerAwsAccountId !== undefined && a.customerAwsAccountId === b.customerAwsAccountId))
  );
}

/**
 * What an admin registered: products, subscriptions (licenses) and contract entitlements.
 * Subscriptions are looked up through an index (metering a record is O(1), not a scan; 500 000
 * records an hour made the emulator quadratic), rebuilt whenever the array was replaced or changed
 * size behind its back (reset, reload, admin edits); lifecycle changes edit a subscription in place
 * and never change its keys.
 */
export class Registry {
  private index: SubscriptionIndex | undefined;

  constructor(private readonly ctx: EmulatorContext) {}

  /** The registered product, or undefined. */
  product(productCode: string | undefined): Product | undefined {
    return productCode ? this.ctx.state.products[productCode] : undefined;
  }

  putProduct(p: Product): Product {
    this.ctx.state.products[p.productCode] = p;
    this.ctx.touch();
    return p;
  }

  /**
   * Registers a subscription. With a LicenseArn it is one license: it replaces only the
   * subscription holding the same license (the same customer may hold several: Concurrent
   * Agreements). Without one it replaces the same customer's subscriptions that have no license.
   * Returns the subscriptions it replaced.
   */
  addSubscription(s: Subscription): Subscription[] {
    const state = this.ctx.state;
    if (!state.products[s.productCode]) {
      throw new AwsError('NotFound', `product ${s.productCode} is not registered`, 404);
    }
    const replaced = (x: Subscription): boolean =>
      s.licenseArn !== undefined
        ? x.licenseArn === s.licenseArn
        : x.licenseArn === undefined && sameCustomer(x, s);
    const gone = state.subscriptions.filter(replaced);
    state.subscriptions = state.subscriptions.filter((x) => !replaced(x));
    state.subscriptions.push(s);
    this.ctx.touch();
    return gone;
  }

  addEntitlement(e: Entitlement): Entitlement {
    const state = this.ctx.state;
    state.entitlements = state.entitlements.filter(
      (x) =>
        !(
          x.productCode === e.productCode &&
          x.dimension === e.dimension &&
          x.customerIdentifier === e.customerIdentifier &&
          x.customerAwsAccountId === e.customerAwsAccountId
        ),
    );
    state.entitlements.push(e);
    this.ctx.touch();
    return e;
  }

  /** The subscription holding a license, or undefined. */
  license(licenseArn: string): Subscription | undefined {
    return this.subscriptionIndex().byLicense.get(licenseArn);
  }

  /**
   * The subscription a usage record's customer fields name, among those AWS still meters at `now`
   * (first registered wins).
   */
  findSubscription(productCode: string, rec: Json, now = this.ctx.now()): Subscription | undefined {
    const id = str(rec.CustomerIdentifier);
    const acct = str(rec.CustomerAWSAccountId);
    const idx = this.subscriptionIndex().byCustomer;
    const candidates = [
      ...(id !== undefined ? (idx.get(`${productCode}|id|${id}`) ?? []) : []),
      ...(acct !== undefined ? (idx.get(`${productCode}|acct|${acct}`) ?? []) : []),
    ];
    return candidates.find((s) => stillMeterable(s, now));
  }

  private subscriptionIndex(): SubscriptionIndex {
    const subs = this.ctx.state.subscriptions;
    if (this.index?.of === subs && this.index.size === subs.length) return this.index;
    const byCustomer = new Map<string, Subscription[]>();
    const byLicense = new Map<string, Subscription>();
    const add = (k: string, s: Subscription): void => {
      const list = byCustomer.get(k);
      if (list) list.push(s);
      else byCustomer.set(k, [s]);
    };
    for (const s of subs) {
      if (s.customerIdentifier !== undefined) add(`${s.productCode}|id|${s.customerIdentifier}`, s);
      if (s.customerAwsAccountId !== undefined)
        add(`${s.productCode}|acct|${s.customerAwsAccountId}`, s);
      if (s.licenseArn && !byLicense.has(s.licenseArn)) byLicense.set(s.licenseArn, s);
    }
    this.index = { of: subs, size: subs.length, byCustomer, byLicense };
    return this.index;
  }
}
