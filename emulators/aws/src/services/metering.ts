import { HOUR_MS, hourStart } from '@meterstream/runtime';
import { AwsError } from '../aws-error.js';
import { timestampOutOfBounds } from '../clock.js';
import type { EmulatorContext } from '../context.js';
import type { FaultInjector } from '../faults.js';
import { fromMicros, recordQuantity } from '../quantity.js';
import type { Registry } from '../registry.js';
import type { BillingRecord, Product } from '../state.js';
import { parseTimestamp, str, validate, type CallContext, type Json } from '../wire.js';
import type { CloudTrail } from './cloudtrail.js';
import { checkAllocations } from './allocations.js';

/** What a metering call's fault draw decided before the call was applied. */
export interface AppliedCall<T> {
  output: T;
  /** The call was applied (and logged to CloudTrail) but its response must be dropped. */
  dropResponse: boolean;
}

/** One record's billing outcome. */
interface Billed {
  status: 'Success' | 'CustomerNotSubscribed' | 'DuplicateRecord';
  meteringRecordId?: string;
}

/** The AWS dedup key: product, customer, dimension and hour. */
function billingKey(
  productCode: string,
  customerKey: string,
  dimension: string,
  hour: string,
): string {
  return `${productCode}\u0000${customerKey}\u0000${dimension}\u0000${hour}`;
}

function requireProduct(product: Product | undefined): Product {
  if (!product) throw new AwsError('InvalidProductCodeException', 'The product code is not valid');
  return product;
}

function checkDimension(product: Product, dim: string): void {
  if (!product.dimensions.includes(dim)) {
    throw new AwsError(
      'InvalidUsageDimensionException',
      `The usage dimension ${dim} is not valid for the product`,
    );
  }
}

/**
 * The Metering Service: BatchMeterUsage and MeterUsage. The first quantity per (product,
 * customer, dimension, hour) is billed; the same quantity again is Success with the same
 * MeteringRecordId, another is DuplicateRecord. Every call, rejected or not, is logged to CloudTrail.
 */
export class Metering {
  /** Index over `state.billing` (see {@link Registry} for why), rebuilt when it changed. */
  private billingIndex:
    { of: BillingRecord[]; size: number; map: Map<string, BillingRecord> } | undefined;

  constructor(
    private readonly ctx: EmulatorContext,
    private readonly registry: Registry,
    private readonly faults: FaultInjector,
    private readonly trail: CloudTrail,
  ) {}

  /** BatchMeterUsage. Faults were drawn by the caller; validation errors are logged to CloudTrail. */
  batchMeterUsage(input: Json, ctx: CallContext): AppliedCall<Json> {
    return this.logged('BatchMeterUsage', input, ctx, () => {
      validate('meteringmarketplace', 'BatchMeterUsageRequest', input);
      const records = (input.UsageRecords as Json[] | undefined) ?? [];
      const product = this.checkBatch(str(input.ProductCode), records);
      const results: Json[] = [];
      const unprocessed: Json[] = [];
      for (const rec of records) {
        if (this.faults.unprocessed()) {
          unprocessed.push(rec);
          continue;
        }
        const r = this.bill(product, rec, 'BatchMeterUsage');
        results.push({
          UsageRecord: rec,
          ...(r.meteringRecordId ? { MeteringRecordId: r.meteringRecordId } : {}),
          Status: r.status,
        });
      }
      return { Results: results, UnprocessedRecords: unprocessed };
    });
  }

  /** MeterUsage: one record for the calling account (AMI/container products); 6-hour window. */
  meterUsage(input: Json, ctx: CallContext): AppliedCall<Json> {
    return this.logged('MeterUsage', input, ctx, () => {
      validate('meteringmarketplace', 'MeterUsageRequest', input);
      const product = requireProduct(this.registry.product(str(input.ProductCode) ?? ''));
      const why = timestampOutOfBounds(
        parseTimestamp(input.Timestamp),
        this.ctx.now(),
        6 * HOUR_MS,
      );
      if (why) throw new AwsError('TimestampOutOfBoundsException', `The ${why}`);
      const dim = str(input.UsageDimension) ?? '';
      checkDimension(product, dim);
      const quantity = recordQuantity(
        input.UsageQuantity,
        input.UsageQuantityAsDecimal,
        'UsageQuantity',
      );
      const rec: Json = {
        Timestamp: input.Timestamp,
        Dimension: dim,
        Quantity: input.UsageQuantity,
        QuantityAsDecimal: input.UsageQuantityAsDecimal,
        UsageAllocations: input.UsageAllocations,
        // MeterUsage meters the calling account: an all-digit access key id stands for an account
        // id (so tests can act as several buyers); any other key is the configured account.
        CustomerAWSAccountId: /^[0-9]+$/.test(ctx.accessKeyId)
          ? ctx.accessKeyId
          : this.ctx.settings.accountId,
      };
      checkAllocations(rec, quantity);
      if (input.DryRun === true)
        throw new AwsError('DryRunOperation', 'Request would have succeeded');
      const r = this.bill(product, rec, 'MeterUsage');
      if (r.status === 'CustomerNotSubscribed') {
        throw new AwsError(
          'CustomerNotEntitledException',
          'The caller is not subscribed to the product',
        );
      }
      if (r.status === 'DuplicateRecord') {
        throw new AwsError(
          'DuplicateRequestException',
          'A record for this hour exists with another quantity',
        );
      }
      return { MeteringRecordId: r.meteringRecordId };
    });
  }

  /**
   * Runs a metering call and logs it to CloudTrail, with its output or with the AWS error it
   * failed with; then draws whether its response is lost. The state changed either way.
   */
  private logged(
    name: string,
    input: Json,
    ctx: CallContext,
    apply: () => Json,
  ): AppliedCall<Json> {
    try {
      const output = apply();
      this.trail.record({ name, input, ctx, output, err: undefined });
      const dropResponse = this.faults.dropResponse();
      this.ctx.touch();
      return { output, dropResponse };
    } catch (err) {
      if (err instanceof AwsError) this.trail.record({ name, input, ctx, output: undefined, err });
      this.ctx.touch();
      throw err;
    }
  }

  /** Checks that reject the whole batch, in AWS's order: product, timestamps, then each record. */
  private checkBatch(productCode: string | undefined, records: Json[]): Product {
    const product = requireProduct(this.registry.product(productCode));
    const now = this.ctx.now();
    for (const rec of records) {
      const why = timestampOutOfBounds(parseTimestamp(rec.Timestamp), now);
      if (why) throw new AwsError('TimestampOutOfBoundsException', `A usage record's ${why}`);
    }
    for (const rec of records) this.checkRecord(product, rec);
    return product;
  }

  private checkRecord(product: Product, rec: Json): void {
    checkDimension(product, str(rec.Dimension) ?? '');
    const hasId = rec.CustomerIdentifier !== undefined;
    const hasAcct = rec.CustomerAWSAccountId !== undefined;
    if (hasId === hasAcct) {
      throw new AwsError(
        'InvalidCustomerIdentifierException',
        'Exactly one of CustomerIdentifier and CustomerAWSAccountId must be set',
      );
    }
    const license = str(rec.LicenseArn);
    if (product.licenseArn && !license) {
      throw new AwsError(
        'InvalidLicenseException',
        'This product requires a LicenseArn on every record',
      );
    }
    if (license) {
      const sub = this.registry.findSubscription(product.productCode, rec);
      const known = this.registry.knowsLicense(product.productCode, license);
      if (!known || (sub && sub.licenseArn !== license)) {
        throw new AwsError(
          'InvalidLicenseException',
          'The LicenseArn is not valid for this customer and product',
        );
      }
    }
    checkAllocations(rec, recordQuantity(rec.Quantity, rec.QuantityAsDecimal, 'Quantity'));
  }

  /** Bills one record: the first quantity per (product, customer, dimension, hour) wins. */
  private bill(product: Product, rec: Json, operation: BillingRecord['operation']): Billed {
    const sub = this.registry.findSubscription(product.productCode, rec);
    if (!sub) return { status: 'CustomerNotSubscribed' };
    const customerKey = sub.customerAwsAccountId
      ? `acct:${sub.customerAwsAccountId}`
      : `id:${sub.customerIdentifier}`;
    const ts = parseTimestamp(rec.Timestamp);
    const hour = new Date(hourStart(ts)).toISOString();
    const dimension = str(rec.Dimension) ?? '';
    const quantity = fromMicros(recordQuantity(rec.Quantity, rec.QuantityAsDecimal, 'Quantity'));
    const lookup = this.billingLookup();
    const key = billingKey(product.productCode, customerKey, dimension, hour);
    const existing = lookup.get(key);
    if (existing) {
      return existing.quantity === quantity
        ? { status: 'Success', meteringRecordId: existing.meteringRecordId }
        : { status: 'DuplicateRecord' };
    }
    const meteringRecordId = this.ctx.nextId('mr');
    const billed: BillingRecord = {
      productCode: product.productCode,
      customerKey,
      customerIdentifier: sub.customerIdentifier,
      customerAwsAccountId: sub.customerAwsAccountId,
      licenseArn: str(rec.LicenseArn),
      dimension,
      hour,
      timestamp: new Date(ts).toISOString(),
      quantity,
      meteringRecordId,
      receivedAt: new Date(this.ctx.now()).toISOString(),
      operation,
    };
    this.ctx.state.billing.push(billed);
    lookup.set(key, billed);
    if (this.billingIndex) this.billingIndex.size = this.ctx.state.billing.length;
    return { status: 'Success', meteringRecordId };
  }

  private billingLookup(): Map<string, BillingRecord> {
    const billing = this.ctx.state.billing;
    if (this.billingIndex?.of !== billing || this.billingIndex.size !== billing.length) {
      const map = new Map<string, BillingRecord>();
      for (const b of billing) {
        const k = billingKey(b.productCode, b.customerKey, b.dimension, b.hour);
        if (!map.has(k)) map.set(k, b);
      }
      this.billingIndex = { of: billing, size: billing.length, map };
    }
    return this.billingIndex.map;
  }
}
