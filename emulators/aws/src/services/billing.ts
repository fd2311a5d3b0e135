import type { EmulatorContext } from '../context.js';
import type { BillingRecord } from '../state.js';

/** One record's billing outcome. */
export interface Billed {
  status: 'Success' | 'CustomerNotSubscribed' | 'DuplicateRecord';
  meteringRecordId?: string;
}

/**
 * The AWS dedup key of a billed record. A record with a LicenseArn is keyed by account (or legacy
 * customer), license, dimension and hour (Concurrent Agreements: two licenses of one account are
 * billed apart); one without by product, customer, dimension and hour, as before.
 */
export function billingKey(
  b: Pick<BillingRecord, 'productCode' | 'customerKey' | 'licenseArn' | 'dimension' | 'hour'>,
): string {
  return b.licenseArn
    ? `lic\u0000${b.customerKey}\u0000${b.licenseArn}\u0000${b.dimension}\u0000${b.hour}`
    : `${b.productCode}\u0000${b.customerKey}\u0000${b.dimension}\u0000${b.hour}`;
}

/** A billed record before AWS assigned its id and time of receipt. */
export type NewBilling = Omit<BillingRecord, 'meteringRecordId' | 'receivedAt'>;

/**
 * What AWS billed (`state.billing`), with the first-quantity-wins rule: the first quantity per key
 * is billed; the same quantity (compared by value) again is Success with the same MeteringRecordId;
 * another is DuplicateRecord and the first stays billed. Looked up through an index rebuilt when the
 * array was replaced or changed behind its back (reset, reload).
 */
export class Ledger {
  private index: { of: BillingRecord[]; size: number; map: Map<string, BillingRecord> } | undefined;

  constructor(private readonly ctx: EmulatorContext) {}

  /** Bills `record` unless its key is billed already. */
  bill(record: NewBilling): Billed {
    const lookup = this.lookup();
    const key = billingKey(record);
    const existing = lookup.get(key);
    if (existing) {
      return existing.quantity === record.quantity
        ? { status: 'Success', meteringRecordId: existing.meteringRecordId }
        : { status: 'DuplicateRecord' };
    }
    const billed: BillingRecord = {
      ...record,
      meteringRecordId: this.ctx.nextId('mr'),
      receivedAt: new Date(this.ctx.now()).toISOString(),
    };
    this.ctx.state.billing.push(billed);
    lookup.set(key, billed);
    if (this.index) this.index.size = this.ctx.state.billing.length;
    return { status: 'Success', meteringRecordId: billed.meteringRecordId };
  }

  private lookup(): Map<string, BillingRecord> {
    const billing = this.ctx.state.billing;
    if (this.index?.of !== billing || this.index.size !== billing.length) {
      const map = new Map<string, BillingRecord>();
      for (const b of billing) {
        const k = billingKey(b);
        if (!map.has(k)) map.set(k, b);
      }
      this.index = { of: billing, size: billing.length, map };
    }
    return this.index.map;
  }
}
