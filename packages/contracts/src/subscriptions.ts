// Table `subscriptions` (owner: submitter; read by the console): one row per version of a
// customer's subscription or contract of a product; the latest version (FINAL) is current.
import { customerKindOf, type CustomerKind } from './ledger.js';
import { batchVersion, defineTable, fromSeconds, text, toSeconds, type Row } from './table.js';

/** A customer's subscription or contract (ADR 0001 `subscriptions`). */
export interface Subscription {
  productCode: string;
  customer: string;
  customerKind: CustomerKind;
  licenseArn: string;
  buyerName: string;
  agreementId: string;
  status: 'active' | 'cancelled';
  /** Epoch ms. */
  periodStart: number;
  /** Epoch ms. */
  periodEnd: number;
  source: string;
}

/** Table `subscriptions`. */
export const SUBSCRIPTIONS = {
  ...defineTable({
    name: 'subscriptions',
    columns: [
      'product_code String',
      'customer String',
      'customer_kind String',
      'license_arn String',
      'buyer_name String',
      'agreement_id String',
      'status String',
      'period_start DateTime',
      'period_end DateTime',
      'source String',
      'updated_at DateTime',
      'version UInt64',
    ],
    engine: 'ReplacingMergeTree',
    engineArgs: ['version'],
    orderBy: '(product_code, customer)',
  }),
  /** The select list {@link subscriptionFromRow} reads. */
  select: `product_code, customer, customer_kind, license_arn, buyer_name, agreement_id, status,
    toUnixTimestamp(period_start) AS ps, toUnixTimestamp(period_end) AS pe, source`,
} as const;

/** A row read with {@link SUBSCRIPTIONS}.select. */
export function subscriptionFromRow(r: Row): Subscription {
  return {
    productCode: text(r.product_code),
    customer: text(r.customer),
    customerKind: customerKindOf(r.customer_kind),
    licenseArn: text(r.license_arn),
    buyerName: text(r.buyer_name),
    agreementId: text(r.agreement_id),
    status: r.status === 'cancelled' ? 'cancelled' : 'active',
    periodStart: fromSeconds(r.ps),
    periodEnd: fromSeconds(r.pe),
    source: text(r.source),
  };
}

/** The row of one subscription written at `nowMs` as the `index`-th of its batch. */
export function subscriptionToRow(x: Subscription, nowMs: number, index: number): Row {
  return {
    product_code: x.productCode,
    customer: x.customer,
    customer_kind: x.customerKind,
    license_arn: x.licenseArn,
    buyer_name: x.buyerName,
    agreement_id: x.agreementId,
    status: x.status,
    period_start: toSeconds(x.periodStart),
    period_end: toSeconds(x.periodEnd),
    source: x.source,
    updated_at: toSeconds(nowMs),
    version: batchVersion(nowMs, index),
  };
}
