import { HOUR_MS, hourStart } from '@meterstream/runtime';
import { AwsError } from '../aws-error.js';
import { timestampOutOfBounds } from '../clock.js';
import type { EmulatorContext } from '../context.js';
import type { FaultInjector } from '../faults.js';
import { fromMicros, readQuantity, recordQuantity } from '../quantity.js';
import type { Registry } from '../registry.js';
import type { BillingRecord, Product } from '../state.js';
import { parseTimestamp, str, validate, type CallContext, type Json } from '../wire.js';
import { checkAllocations } from './allocations.js';
import { Ledger, type Billed } from './billing.js';
import type { CloudTrail } from './cloudtrail.js';
import { checkLicense, stillMeterable } from './licenses.js';

/** What a metering call's fault draw decided before the call was applied. */
export interface AppliedCall<T> {
  output: T;
  /** The call was applied (and logged to CloudTrail) but its response must be dropped. */
  dropResponse: boolean;
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

/** Exactly one customer id; and no CustomerIdentifier for a new integration. */
function checkCustomer(product: Product, rec: Json): void {
  const hasId = rec.CustomerIdentifier !== undefined;
  if (hasId === (rec.CustomerAWSAccountId !== undefined)) {
    throw new AwsError(
      'InvalidCustomerIdentifierException',
      'Exactly one of CustomerIdentifier and CustomerAWSAccountId must be set',
    );
  }
  // The model: "CustomerIdentifier is not supported for new SaaS product integrations"; the
  // modeled error for a CustomerIdentifier that does not exist is this one.
  if (hasId && product.newIntegration) {
    throw new AwsError(
      'InvalidCustomerIdentifierException',
      'CustomerIdentifier is not supported for this product; use CustomerAWSAccountId and LicenseArn',
    );
  }
}

/** A record's quantity, in millionths, as billed (and as AWS compares it: by value). */
function quantityOf(rec: Json): string {
  return fromMicros(recordQuantity(rec.Quantity, rec.QuantityAsDecimal, 'Quantity'));
}

/**
 * The Metering Service: BatchMeterUsage and MeterUsage, billed through the {@link Ledger}
 * (first quantity per key wins). Every call, rejected or not, is logged to CloudTrail.
 */
export class Metering {
  private readonly ledger: Ledger;

  constructor(
    private readonly ctx: EmulatorContext,
    private readonly registry: Registry,
    private readonly faults: FaultInjector,
    private readonly trail: CloudTrail,
  ) {
    this.ledger = new Ledger(ctx);
  }

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
      const quantity = readQuantity(
        input.UsageQuantity,
        input.UsageQuantityAsDecimal,
        'UsageQuantity',
      );
      checkAllocations(input.UsageAllocations, quantity);
      const rec: Json = {
        Timestamp: input.Timestamp,
        Dimension: dim,
        Quantity: input.UsageQuantity,
        QuantityAsDecimal: input.UsageQuantityAsDecimal,
        UsageAllocations: input.UsageAllocations,
        CustomerAWSAccountId: callerAccount(ctx, this.ctx.settings.accountId),
      };
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

  /**
   * The batch's product: its ProductCode, or (new integrations send none) the product of the
   * records' licenses, which must all be one product ("Each BatchMeterUsage request is for only
   * one product") and must each name a LicenseArn.
   */
  private batchProduct(productCode: string | undefined, records: Json[]): Product {
    if (productCode !== undefined) return requireProduct(this.registry.product(productCode));
    const codes = new Set<string>();
    for (const rec of records) {
      const license = str(rec.LicenseArn);
      if (license === undefined) {
        throw new AwsError(
          'InvalidProductCodeException',
          'ProductCode is required for records without a LicenseArn',
        );
      }
      const sub = this.registry.license(license);
      if (!sub) throw new AwsError('InvalidLicenseException', 'The LicenseArn is not valid');
      codes.add(sub.productCode);
    }
    if (codes.size > 1) {
      throw new AwsError(
        'InvalidLicenseException',
        'The LicenseArns of one request must belong to one product',
      );
    }
    return requireProduct(this.registry.product([...codes][0]));
  }

  /** Checks that reject the whole batch, in AWS's order: product, timestamps, then each record. */
  private checkBatch(productCode: string | undefined, records: Json[]): Product {
    const product = this.batchProduct(productCode, records);
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
    checkCustomer(product, rec);
    const license = str(rec.LicenseArn);
    if ((product.licenseArn || product.newIntegration) && !license) {
      throw new AwsError(
        'InvalidLicenseException',
        'This product requires a LicenseArn on every record',
      );
    }
    if (license) {
      const hour = hourStart(parseTimestamp(rec.Timestamp));
      checkLicense(this.registry.license(license), product.productCode, rec, hour);
    }
    const quantity = readQuantity(rec.Quantity, rec.QuantityAsDecimal, 'Quantity');
    checkAllocations(rec.UsageAllocations, quantity);
  }

  /**
   * Bills one record against its license (a record with a LicenseArn) or its customer's
   * subscription; CustomerNotSubscribed when there is none that AWS still meters.
   */
  private bill(product: Product, rec: Json, operation: BillingRecord['operation']): Billed {
    const now = this.ctx.now();
    const license = str(rec.LicenseArn);
    const found = license
      ? this.registry.license(license)
      : this.registry.findSubscription(product.productCode, rec, now);
    const sub = found && stillMeterable(found, now) ? found : undefined;
    if (!sub) return { status: 'CustomerNotSubscribed' };
    const ts = parseTimestamp(rec.Timestamp);
    return this.ledger.bill({
      productCode: product.productCode,
      customerKey: sub.customerAwsAccountId
        ? `acct:${sub.customerAwsAccountId}`
        : `id:${sub.customerIdentifier}`,
      customerIdentifier: sub.customerIdentifier,
      customerAwsAccountId: sub.customerAwsAccountId,
      licenseArn: license,
      dimension: str(rec.Dimension) ?? '',
      hour: new Date(hourStart(ts)).toISOString(),
      timestamp: new Date(ts).toISOString(),
      quantity: quantityOf(rec),
      operation,
    });
  }
}

/**
 * The account a call is made from: an all-digit access key id stands for an account id (so tests
 * can act as several accounts); any other key is the configured account.
 */
export function callerAccount(ctx: CallContext, defaultAccount: string): string {
  return /^[0-9]+$/.test(ctx.accessKeyId) ? ctx.accessKeyId : defaultAccount;
}
