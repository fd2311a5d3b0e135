import { AwsError } from './aws-error.js';
import type { EmulatorContext } from './context.js';
import type { Entitlement, Product, Subscription } from './state.js';
import { str, type Json } from './wire.js';

interface SubscriptionIndex {
  of: Subscription[];
  size: number;
  byCustomer: Map<string, Subscription>;
  licenses: Set<string>;
}

/**
 * What an admin registered: products, subscriptions and contract entitlements. Subscriptions are
 * looked up through an index (metering a record is O(1), not a scan; 500 000 records an hour made
 * the emulator quadratic), rebuilt whenever the array was replaced or changed behind its back
 * (reset, reload, admin edits).
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

  addSubscription(s: Subscription): Subscription {
    const state = this.ctx.state;
    if (!state.products[s.productCode]) {
      throw new AwsError('NotFound', `product ${s.productCode} is not registered`, 404);
    }
    // Replace any subscription of the same customer to the product.
    state.subscriptions = state.subscriptions.filter(
      (x) =>
        x.productCode !== s.productCode ||
        !(
          (s.customerIdentifier && x.customerIdentifier === s.customerIdentifier) ||
          (s.customerAwsAccountId && x.customerAwsAccountId === s.customerAwsAccountId)
        ),
    );
    state.subscriptions.push(s);
    this.ctx.touch();
    return s;
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

  /** The subscription a usage record's customer fields name (first registered wins). */
  findSubscription(productCode: string, rec: Json): Subscription | undefined {
    const id = str(rec.CustomerIdentifier);
    const acct = str(rec.CustomerAWSAccountId);
    const idx = this.subscriptionIndex().byCustomer;
    return (
      (id !== undefined ? idx.get(`${productCode}|id|${id}`) : undefined) ??
      (acct !== undefined ? idx.get(`${productCode}|acct|${acct}`) : undefined)
    );
  }

  /** Whether any subscription of the product holds this license. */
  knowsLicense(productCode: string, licenseArn: string): boolean {
    return this.subscriptionIndex().licenses.has(`${productCode}|${licenseArn}`);
  }

  private subscriptionIndex(): SubscriptionIndex {
    const subs = this.ctx.state.subscriptions;
    if (this.index?.of === subs && this.index.size === subs.length) return this.index;
    const byCustomer = new Map<string, Subscription>();
    const licenses = new Set<string>();
    const first = (k: string, s: Subscription): void => {
      // First match wins, as the scan it replaces did.
      if (!byCustomer.has(k)) byCustomer.set(k, s);
    };
    for (const s of subs) {
      if (s.customerIdentifier !== undefined)
        first(`${s.productCode}|id|${s.customerIdentifier}`, s);
      if (s.customerAwsAccountId !== undefined)
        first(`${s.productCode}|acct|${s.customerAwsAccountId}`, s);
      if (s.licenseArn) licenses.add(`${s.productCode}|${s.licenseArn}`);
    }
    this.index = { of: subs, size: subs.length, byCustomer, licenses };
    return this.index;
  }
}
