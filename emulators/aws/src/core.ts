import { createHash } from 'node:crypto';
import { AwsError, fromMicros, toMicros } from './aws-error.js';
import { Rng, hourStart, timestampOutOfBounds, type Clock } from './clock.js';
import { MODELS } from './model/shapes.js';
import { validateShape, validationMessage } from './model/validator.js';
import {
  emptyState,
  faultsSchema,
  type BillingRecord,
  type Entitlement,
  type Faults,
  type Product,
  type State,
  type Subscription,
  type TrailEvent,
} from './state.js';

/** Who called and from where (from the request's headers and SigV4 credential scope). */
export interface CallContext {
  accessKeyId: string;
  region: string;
  sourceIp: string;
  userAgent: string;
  requestId: string;
}

/** What a metering call's fault draw decided before the call was applied. */
export interface AppliedCall<T> {
  output: T;
  /** The call was applied (and logged to CloudTrail) but its response must be dropped. */
  dropResponse: boolean;
}

type Json = Record<string, unknown>;

const METERING_SOURCE = 'metering-marketplace.amazonaws.com';
const NINETY_DAYS_MS = 90 * 24 * 3_600_000;

/** AWS JSON 1.1 timestamps are epoch seconds (number); boto3 may also send ISO strings. */
function parseTimestamp(v: unknown): number {
  if (typeof v === 'number') return Math.round(v * 1000);
  if (typeof v === 'string') {
    const ms = Date.parse(v);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new AwsError('SerializationException', 'Timestamp must be epoch seconds');
}

function validate(service: keyof typeof MODELS, shape: string, input: unknown): void {
  const v = validateShape(MODELS[service].shapes, shape, input);
  if (v.length === 0) return;
  // AWS answers its modeled InvalidTag / InvalidUsageAllocations errors for bad tags and
  // allocations ("the tag is invalid, or the number of tags is greater than 5"), and the generic
  // ValidationException for every other constraint of the model.
  const type = v.some((x) => x.path.includes('.tags'))
    ? 'InvalidTagException'
    : v.some((x) => x.path.includes('usageAllocations'))
      ? 'InvalidUsageAllocationsException'
      : 'ValidationException';
  throw new AwsError(type, validationMessage(v));
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A record's quantity as a decimal string; `Quantity` and `QuantityAsDecimal` must agree. */
function recordQuantity(intQ: unknown, decQ: unknown, what: string): bigint {
  const fromInt = typeof intQ === 'number' ? BigInt(intQ) * 1_000_000n : undefined;
  const fromDec = typeof decQ === 'string' ? toMicros(decQ) : undefined;
  if (typeof decQ === 'string' && fromDec === undefined) {
    throw new AwsError(
      'ValidationException',
      `${what}AsDecimal is not a decimal with at most 6 fraction digits`,
    );
  }
  if (fromInt !== undefined && fromDec !== undefined && fromInt !== fromDec) {
    throw new AwsError('ValidationException', `${what} and ${what}AsDecimal disagree`);
  }
  // AWS: "Quantity defaults to 0 if not specified".
  return fromDec ?? fromInt ?? 0n;
}

const TAG_RE = /^[a-zA-Z0-9+ -=._:/@]+$/;

/**
 * The emulated services over one in-memory {@link State}. Every mutation calls `changed()` so the
 * caller can persist. Faults are drawn from a seeded PRNG whose position is part of the state.
 */
/** The AWS dedup key: product, customer, dimension and hour. */
function billingKey(
  productCode: string,
  customerKey: string,
  dimension: string,
  hour: string,
): string {
  return `${productCode}\u0000${customerKey}\u0000${dimension}\u0000${hour}`;
}

export class EmulatorCore {
  state: State;
  private rng: Rng;
  private lookupCalls: number[] = [];
  /**
   * Lookup indexes over `state.billing` and `state.subscriptions`, so that metering a record is
   * O(1) instead of a scan (500 000 records an hour made the emulator quadratic). Rebuilt whenever
   * the arrays were replaced or changed behind our back (reset, reload, admin edits).
   */
  private billingIndex:
    { of: BillingRecord[]; size: number; map: Map<string, BillingRecord> } | undefined;
  private subIndex:
    | {
        of: Subscription[];
        size: number;
        byCustomer: Map<string, Subscription>;
        licenses: Set<string>;
      }
    | undefined;

  constructor(
    state: State,
    private readonly baseClock: Clock,
    private readonly options: { accountId: string; cloudTrailDelayMs: number; seed: number },
    private readonly changed: () => void,
  ) {
    this.state = state;
    this.rng = new Rng(state.rngState);
  }

  /** The emulated "now": the injected clock plus the admin offset. */
  now(): number {
    return this.baseClock.now() + this.state.clockOffsetMs;
  }

  private touch(): void {
    this.state.rngState = this.rng.state;
    this.changed();
  }

  private nextId(prefix: string): string {
    this.state.sequence += 1;
    const h = createHash('sha256')
      .update(`${this.options.seed}:${prefix}:${this.state.sequence}`)
      .digest('hex');
    // UUID-shaped, like AWS's MeteringRecordIds and CloudTrail eventIDs.
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }

  // ---- faults ---------------------------------------------------------------------------------

  get faults(): Faults {
    return this.state.faults;
  }

  /** Throttling / InternalServiceError faults, drawn before the call is applied. */
  preCallFaults(kind: 'metering' | 'entitlement' | 'lookup'): void {
    const f = this.state.faults;
    if (kind === 'lookup') {
      if (this.rng.chance(f.lookupThrottlingRate)) {
        this.touch();
        throw new AwsError('ThrottlingException', 'Rate exceeded');
      }
      return;
    }
    if (this.rng.chance(f.throttlingRate)) {
      this.touch();
      throw new AwsError('ThrottlingException', 'Rate exceeded');
    }
    if (this.rng.chance(f.internalErrorRate)) {
      this.touch();
      throw new AwsError('InternalServiceErrorException', 'An internal error occurred', 500);
    }
  }

  setFaults(input: unknown): Faults {
    const faults = faultsSchema.parse(input);
    this.state.faults = faults;
    if (faults.seed !== undefined) this.rng = new Rng(faults.seed >>> 0);
    this.touch();
    return faults;
  }

  setClockOffset(offsetMs: number): void {
    this.state.clockOffsetMs = offsetMs;
    this.touch();
  }

  reset(): void {
    this.state = emptyState(this.options.seed);
    this.rng = new Rng(this.state.rngState);
    this.lookupCalls = [];
    this.touch();
  }

  // ---- admin ----------------------------------------------------------------------------------

  putProduct(p: Product): Product {
    this.state.products[p.productCode] = p;
    this.touch();
    return p;
  }

  addSubscription(s: Subscription): Subscription {
    if (!this.state.products[s.productCode]) {
      throw new AwsError('NotFound', `product ${s.productCode} is not registered`, 404);
    }
    // Replace any subscription of the same customer to the product.
    this.state.subscriptions = this.state.subscriptions.filter(
      (x) =>
        x.productCode !== s.productCode ||
        !(
          (s.customerIdentifier && x.customerIdentifier === s.customerIdentifier) ||
          (s.customerAwsAccountId && x.customerAwsAccountId === s.customerAwsAccountId)
        ),
    );
    this.state.subscriptions.push(s);
    this.touch();
    return s;
  }

  addEntitlement(e: Entitlement): Entitlement {
    this.state.entitlements = this.state.entitlements.filter(
      (x) =>
        !(
          x.productCode === e.productCode &&
          x.dimension === e.dimension &&
          x.customerIdentifier === e.customerIdentifier &&
          x.customerAwsAccountId === e.customerAwsAccountId
        ),
    );
    this.state.entitlements.push(e);
    this.touch();
    return e;
  }

  // ---- metering -------------------------------------------------------------------------------

  private subscriptionIndex(): NonNullable<EmulatorCore['subIndex']> {
    const subs = this.state.subscriptions;
    if (this.subIndex?.of === subs && this.subIndex.size === subs.length) return this.subIndex;
    const byCustomer = new Map<string, Subscription>();
    const licenses = new Set<string>();
    for (const s of subs) {
      // First match wins, as the scan it replaces did.
      if (s.customerIdentifier !== undefined) {
        const k = `${s.productCode}|id|${s.customerIdentifier}`;
        if (!byCustomer.has(k)) byCustomer.set(k, s);
      }
      if (s.customerAwsAccountId !== undefined) {
        const k = `${s.productCode}|acct|${s.customerAwsAccountId}`;
        if (!byCustomer.has(k)) byCustomer.set(k, s);
      }
      if (s.licenseArn) licenses.add(`${s.productCode}|${s.licenseArn}`);
    }
    this.subIndex = { of: subs, size: subs.length, byCustomer, licenses };
    return this.subIndex;
  }

  private findSubscription(productCode: string, rec: Json): Subscription | undefined {
    const id = str(rec.CustomerIdentifier);
    const acct = str(rec.CustomerAWSAccountId);
    const idx = this.subscriptionIndex().byCustomer;
    return (
      (id !== undefined ? idx.get(`${productCode}|id|${id}`) : undefined) ??
      (acct !== undefined ? idx.get(`${productCode}|acct|${acct}`) : undefined)
    );
  }

  private billingLookup(): Map<string, BillingRecord> {
    const billing = this.state.billing;
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

  private checkAllocations(rec: Json, quantity: bigint): void {
    const allocations = rec.UsageAllocations;
    if (!Array.isArray(allocations)) return;
    let sum = 0n;
    const tagSets = new Set<string>();
    for (const a of allocations as Json[]) {
      sum += recordQuantity(
        a.AllocatedUsageQuantity,
        a.AllocatedUsageQuantityAsDecimal,
        'AllocatedUsageQuantity',
      );
      const tags = (Array.isArray(a.Tags) ? a.Tags : []) as Json[];
      const keys = new Set<string>();
      for (const t of tags) {
        const k = str(t.Key) ?? '';
        const v = str(t.Value) ?? '';
        if (!TAG_RE.test(k) || k.length > 100 || !TAG_RE.test(v) || v.length > 256) {
          throw new AwsError(
            'InvalidTagException',
            'A tag key or value has invalid characters or length',
          );
        }
        if (keys.has(k))
          throw new AwsError('InvalidTagException', `Tag key ${k} appears twice in one allocation`);
        keys.add(k);
      }
      const set = JSON.stringify(tags.map((t) => [t.Key, t.Value]).sort());
      if (tagSets.has(set)) {
        throw new AwsError(
          'InvalidUsageAllocationsException',
          'Two usage allocations have the same tags',
        );
      }
      tagSets.add(set);
    }
    if (sum !== quantity) {
      throw new AwsError(
        'InvalidUsageAllocationsException',
        'The sum of the allocated quantities does not equal the record quantity',
      );
    }
  }

  /** Checks that reject the whole batch, in AWS's order: product, timestamps, then each record. */
  private checkBatch(productCode: string | undefined, records: Json[]): Product {
    const product = productCode ? this.state.products[productCode] : undefined;
    if (!product)
      throw new AwsError('InvalidProductCodeException', 'The product code is not valid');
    const now = this.now();
    for (const rec of records) {
      const why = timestampOutOfBounds(parseTimestamp(rec.Timestamp), now);
      if (why) throw new AwsError('TimestampOutOfBoundsException', `A usage record's ${why}`);
    }
    for (const rec of records) {
      const dim = str(rec.Dimension) ?? '';
      if (!product.dimensions.includes(dim)) {
        throw new AwsError(
          'InvalidUsageDimensionException',
          `The usage dimension ${dim} is not valid for the product`,
        );
      }
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
        const sub = this.findSubscription(product.productCode, rec);
        const known = this.subscriptionIndex().licenses.has(`${product.productCode}|${license}`);
        if (!known || (sub && sub.licenseArn !== license)) {
          throw new AwsError(
            'InvalidLicenseException',
            'The LicenseArn is not valid for this customer and product',
          );
        }
      }
      this.checkAllocations(rec, recordQuantity(rec.Quantity, rec.QuantityAsDecimal, 'Quantity'));
    }
    return product;
  }

  /**
   * Bills one record: first quantity per (product, customer, dimension, hour) wins; the same
   * quantity again is Success with the same MeteringRecordId, another is DuplicateRecord.
   */
  private bill(
    product: Product,
    rec: Json,
    operation: BillingRecord['operation'],
  ): {
    status: 'Success' | 'CustomerNotSubscribed' | 'DuplicateRecord';
    meteringRecordId?: string;
  } {
    const sub = this.findSubscription(product.productCode, rec);
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
    const meteringRecordId = this.nextId('mr');
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
      receivedAt: new Date(this.now()).toISOString(),
      operation,
    };
    this.state.billing.push(billed);
    lookup.set(key, billed);
    if (this.billingIndex) this.billingIndex.size = this.state.billing.length;
    return { status: 'Success', meteringRecordId };
  }

  /** BatchMeterUsage. Faults were drawn by the caller; validation errors are logged to CloudTrail. */
  batchMeterUsage(input: Json, ctx: CallContext): AppliedCall<Json> {
    try {
      validate('meteringmarketplace', 'BatchMeterUsageRequest', input);
      const records = (input.UsageRecords as Json[] | undefined) ?? [];
      const product = this.checkBatch(str(input.ProductCode), records);
      const results: Json[] = [];
      const unprocessed: Json[] = [];
      for (const rec of records) {
        if (this.rng.chance(this.state.faults.unprocessedRate)) {
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
      const output = { Results: results, UnprocessedRecords: unprocessed };
      this.logMetering('BatchMeterUsage', input, ctx, output, undefined);
      const dropResponse = this.rng.chance(this.state.faults.dropResponseRate);
      this.touch();
      return { output, dropResponse };
    } catch (err) {
      if (err instanceof AwsError) this.logMetering('BatchMeterUsage', input, ctx, undefined, err);
      this.touch();
      throw err;
    }
  }

  /** MeterUsage: one record for the calling account (AMI/container products); 6-hour window. */
  meterUsage(input: Json, ctx: CallContext): AppliedCall<Json> {
    try {
      validate('meteringmarketplace', 'MeterUsageRequest', input);
      const product = this.state.products[str(input.ProductCode) ?? ''];
      if (!product)
        throw new AwsError('InvalidProductCodeException', 'The product code is not valid');
      const ts = parseTimestamp(input.Timestamp);
      const why = timestampOutOfBounds(ts, this.now(), 6 * 3_600_000);
      if (why) throw new AwsError('TimestampOutOfBoundsException', `The ${why}`);
      const dim = str(input.UsageDimension) ?? '';
      if (!product.dimensions.includes(dim)) {
        throw new AwsError(
          'InvalidUsageDimensionException',
          `The usage dimension ${dim} is not valid for the product`,
        );
      }
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
          : this.options.accountId,
      };
      this.checkAllocations(rec, quantity);
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
      const output = { MeteringRecordId: r.meteringRecordId };
      this.logMetering('MeterUsage', input, ctx, output, undefined);
      const dropResponse = this.rng.chance(this.state.faults.dropResponseRate);
      this.touch();
      return { output, dropResponse };
    } catch (err) {
      if (err instanceof AwsError) this.logMetering('MeterUsage', input, ctx, undefined, err);
      this.touch();
      throw err;
    }
  }

  // ---- CloudTrail -----------------------------------------------------------------------------

  private lowerRecord(rec: Json): Json {
    const out: Json = { timestamp: new Date(parseTimestamp(rec.Timestamp)).toISOString() };
    if (rec.CustomerIdentifier !== undefined) out.customerIdentifier = rec.CustomerIdentifier;
    if (rec.CustomerAWSAccountId !== undefined) out.customerAWSAccountId = rec.CustomerAWSAccountId;
    out.dimension = rec.Dimension;
    out.quantity = rec.Quantity ?? (rec.QuantityAsDecimal === undefined ? 0 : undefined);
    if (rec.QuantityAsDecimal !== undefined) out.quantityAsDecimal = rec.QuantityAsDecimal;
    if (rec.LicenseArn !== undefined) out.licenseArn = rec.LicenseArn;
    if (Array.isArray(rec.UsageAllocations)) {
      out.usageAllocations = (rec.UsageAllocations as Json[]).map((a) => ({
        ...(a.AllocatedUsageQuantity !== undefined
          ? { allocatedUsageQuantity: a.AllocatedUsageQuantity }
          : {}),
        ...(a.AllocatedUsageQuantityAsDecimal !== undefined
          ? { allocatedUsageQuantityAsDecimal: a.AllocatedUsageQuantityAsDecimal }
          : {}),
        ...(Array.isArray(a.Tags)
          ? { tags: (a.Tags as Json[]).map((t) => ({ key: t.Key, value: t.Value })) }
          : {}),
      }));
    }
    return JSON.parse(JSON.stringify(out)) as Json;
  }

  /** Records a metering call as CloudTrail would, then applies any CloudTrail tamper fault. */
  private logMetering(
    name: string,
    input: Json,
    ctx: CallContext,
    output: Json | undefined,
    err: AwsError | undefined,
  ): void {
    const now = this.now();
    let requestParameters: Json;
    let responseElements: Json | null = null;
    if (name === 'BatchMeterUsage') {
      const recs = Array.isArray(input.UsageRecords) ? (input.UsageRecords as Json[]) : [];
      requestParameters = {
        productCode: input.ProductCode,
        usageRecords: recs.map((r) => this.safeLower(r)),
      };
      if (output) {
        responseElements = {
          results: (output.Results as Json[]).map((r) => ({
            usageRecord: this.safeLower(r.UsageRecord as Json),
            ...(r.MeteringRecordId ? { meteringRecordId: r.MeteringRecordId } : {}),
            status: r.Status,
          })),
          unprocessedRecords: (output.UnprocessedRecords as Json[]).map((r) => this.safeLower(r)),
        };
      }
    } else {
      requestParameters = {
        productCode: input.ProductCode,
        timestamp: this.safeLower({ Timestamp: input.Timestamp }).timestamp,
        usageDimension: input.UsageDimension,
        usageQuantity: input.UsageQuantity,
        usageQuantityAsDecimal: input.UsageQuantityAsDecimal,
        dryRun: input.DryRun,
      };
      if (output) responseElements = { meteringRecordId: output.MeteringRecordId };
    }
    const eventId = this.nextId('ev');
    const record: Json = {
      eventVersion: '1.08',
      userIdentity: {
        type: 'IAMUser',
        principalId: `AIDA${ctx.accessKeyId.slice(0, 16).toUpperCase()}`,
        arn: `arn:aws:iam::${this.options.accountId}:user/meterstream`,
        accountId: this.options.accountId,
        accessKeyId: ctx.accessKeyId,
        userName: 'meterstream',
      },
      eventTime: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      eventSource: METERING_SOURCE,
      eventName: name,
      awsRegion: ctx.region,
      sourceIPAddress: ctx.sourceIp,
      userAgent: ctx.userAgent,
      ...(err ? { errorCode: err.type, errorMessage: err.message } : {}),
      requestParameters: JSON.parse(JSON.stringify(requestParameters)) as Json,
      responseElements,
      requestID: ctx.requestId,
      eventID: eventId,
      readOnly: false,
      eventType: 'AwsApiCall',
      managementEvent: true,
      recipientAccountId: this.options.accountId,
      eventCategory: 'Management',
    };
    const event: TrailEvent = {
      eventId,
      eventName: name,
      eventSource: METERING_SOURCE,
      eventTime: now,
      deliverAt: now + this.options.cloudTrailDelayMs,
      username: 'meterstream',
      accessKeyId: ctx.accessKeyId,
      readOnly: false,
      record,
    };
    this.tamper(event);
  }

  private safeLower(rec: Json | undefined): Json {
    if (!rec || typeof rec !== 'object') return {};
    try {
      return this.lowerRecord(rec);
    } catch {
      return {};
    }
  }

  /** CloudTrail tamper faults: what the auditor must catch. Only successful results are tampered. */
  private tamper(event: TrailEvent): void {
    const ct = this.state.faults.cloudTrail;
    const results =
      ((event.record.responseElements as Json | null)?.results as Json[] | undefined) ?? [];
    const billed = results.filter((r) => r.status === 'Success');
    if (billed.length > 0 && this.rng.chance(ct.dropRate)) return; // AWS billed it; the trail lost it.
    this.state.cloudTrail.push(event);
    if (billed.length === 0) return;
    const first = billed[0] as Json;
    if (this.rng.chance(ct.alterQuantityRate)) {
      const ur = first.usageRecord as Json;
      ur.quantity = typeof ur.quantity === 'number' ? ur.quantity + 1 : 1;
      event.tampered = 'alterQuantity';
    }
    if (this.rng.chance(ct.duplicateOtherQuantityRate)) {
      const copy = JSON.parse(JSON.stringify(event)) as TrailEvent;
      copy.eventId = this.nextId('ev');
      copy.record.eventID = copy.eventId;
      const res = ((copy.record.responseElements as Json).results as Json[]).find(
        (r) => r.status === 'Success',
      );
      const ur = res?.usageRecord as Json | undefined;
      if (ur) ur.quantity = (typeof ur.quantity === 'number' ? ur.quantity : 0) + 7;
      copy.tampered = 'duplicateOtherQuantity';
      this.state.cloudTrail.push(copy);
    }
    if (this.rng.chance(ct.injectForeignRate)) {
      const copy = JSON.parse(JSON.stringify(event)) as TrailEvent;
      copy.eventId = this.nextId('ev');
      copy.record.eventID = copy.eventId;
      const ts = (first.usageRecord as Json).timestamp;
      const foreign = {
        timestamp: ts,
        customerIdentifier: 'foreign-customer',
        dimension: 'foreign',
        quantity: 42,
      };
      copy.record.requestParameters = {
        productCode: (event.record.requestParameters as Json).productCode,
        usageRecords: [foreign],
      };
      copy.record.responseElements = {
        results: [{ usageRecord: foreign, meteringRecordId: this.nextId('mr'), status: 'Success' }],
        unprocessedRecords: [],
      };
      copy.tampered = 'injectForeign';
      this.state.cloudTrail.push(copy);
    }
  }

  /** LookupEvents: one attribute, time range, newest first, pages of ≤ 50, 2 requests a second. */
  lookupEvents(input: Json): Json {
    validate('cloudtrail', 'LookupEventsRequest', input);
    const now = this.now();
    const limit = this.state.faults.lookupRatePerSecond;
    if (limit > 0) {
      this.lookupCalls = this.lookupCalls.filter((t) => now - t < 1000);
      if (this.lookupCalls.length >= limit)
        throw new AwsError('ThrottlingException', 'Rate exceeded');
      this.lookupCalls.push(now);
    }
    const attrs = (input.LookupAttributes as Json[] | undefined) ?? [];
    if (attrs.length > 1) {
      throw new AwsError(
        'InvalidLookupAttributesException',
        'You can specify only one lookup attribute',
      );
    }
    const maxResults = typeof input.MaxResults === 'number' ? input.MaxResults : 50;
    if (maxResults < 1 || maxResults > 50) {
      throw new AwsError('InvalidMaxResultsException', 'MaxResults must be between 1 and 50');
    }
    const start =
      input.StartTime !== undefined ? parseTimestamp(input.StartTime) : now - NINETY_DAYS_MS;
    const end = input.EndTime !== undefined ? parseTimestamp(input.EndTime) : now;
    if (start > end)
      throw new AwsError('InvalidTimeRangeException', 'StartTime must be before EndTime');
    if (input.EventCategory !== undefined && input.EventCategory !== 'insight') {
      throw new AwsError('InvalidEventCategoryException', 'EventCategory must be insight');
    }
    const query = createHash('sha256')
      .update(JSON.stringify([attrs, input.StartTime, input.EndTime, input.EventCategory]))
      .digest('hex')
      .slice(0, 16);
    let after: { t: number; id: string } | undefined;
    if (input.NextToken !== undefined) {
      after = decodeToken(str(input.NextToken) ?? '', query);
    }
    const attr = attrs[0];
    const matches = (e: TrailEvent): boolean => {
      if (!attr) return true;
      const v = attr.AttributeValue;
      switch (attr.AttributeKey) {
        case 'EventId':
          return e.eventId === v;
        case 'EventName':
          return e.eventName === v;
        case 'EventSource':
          return e.eventSource === v;
        case 'ReadOnly':
          return String(e.readOnly) === v;
        case 'Username':
          return e.username === v;
        case 'AccessKeyId':
          return e.accessKeyId === v;
        default:
          return false; // Metering events name no resources.
      }
    };
    const visible = this.state.cloudTrail
      .filter(
        (e) =>
          input.EventCategory === undefined &&
          e.deliverAt <= now &&
          e.eventTime >= Math.max(start, now - NINETY_DAYS_MS) &&
          e.eventTime <= end &&
          matches(e),
      )
      .sort((a, b) => b.eventTime - a.eventTime || (a.eventId < b.eventId ? 1 : -1))
      .filter(
        (e) => !after || e.eventTime < after.t || (e.eventTime === after.t && e.eventId < after.id),
      );
    const page = visible.slice(0, maxResults);
    const last = page[page.length - 1];
    return {
      Events: page.map((e) => ({
        EventId: e.eventId,
        EventName: e.eventName,
        ReadOnly: String(e.readOnly),
        AccessKeyId: e.accessKeyId,
        EventTime: e.eventTime / 1000,
        EventSource: e.eventSource,
        Username: e.username,
        Resources: [],
        CloudTrailEvent: JSON.stringify(e.record),
      })),
      ...(visible.length > maxResults && last
        ? { NextToken: encodeToken(last.eventTime, last.eventId, query) }
        : {}),
    };
  }

  // ---- Entitlement Service --------------------------------------------------------------------

  getEntitlements(input: Json): Json {
    validate('marketplace-entitlement', 'GetEntitlementsRequest', input);
    const productCode = str(input.ProductCode) ?? '';
    const filter = (input.Filter as Record<string, string[]> | undefined) ?? {};
    const maxResults = typeof input.MaxResults === 'number' ? input.MaxResults : 25;
    const query = createHash('sha256')
      .update(JSON.stringify([productCode, filter]))
      .digest('hex')
      .slice(0, 16);
    let offset = 0;
    if (input.NextToken !== undefined) {
      const t = decodeToken(str(input.NextToken) ?? '', query, 'InvalidParameterException');
      offset = t.t;
    }
    const now = this.now();
    const pass = (values: string[] | undefined, v: string | undefined): boolean =>
      values === undefined || (v !== undefined && values.includes(v));
    const all = this.state.entitlements.filter(
      (e) =>
        e.productCode === productCode &&
        (!e.expirationDate || Date.parse(e.expirationDate) > now) &&
        pass(filter.CUSTOMER_IDENTIFIER, e.customerIdentifier) &&
        pass(filter.CUSTOMER_AWS_ACCOUNT_ID, e.customerAwsAccountId) &&
        pass(filter.DIMENSION, e.dimension) &&
        pass(filter.LICENSE_ARN, e.licenseArn),
    );
    const page = all.slice(offset, offset + maxResults);
    return {
      Entitlements: page.map((e) => ({
        ProductCode: e.productCode,
        Dimension: e.dimension,
        ...(e.customerIdentifier ? { CustomerIdentifier: e.customerIdentifier } : {}),
        ...(e.customerAwsAccountId ? { CustomerAWSAccountId: e.customerAwsAccountId } : {}),
        ...(e.licenseArn ? { LicenseArn: e.licenseArn } : {}),
        Value: e.value,
        ...(e.expirationDate ? { ExpirationDate: Date.parse(e.expirationDate) / 1000 } : {}),
      })),
      ...(offset + maxResults < all.length
        ? { NextToken: encodeToken(offset + maxResults, '', query) }
        : {}),
    };
  }
}

function encodeToken(t: number, id: string, query: string): string {
  return Buffer.from(JSON.stringify({ t, id, q: query })).toString('base64url');
}

function decodeToken(
  token: string,
  query: string,
  errorType = 'InvalidNextTokenException',
): { t: number; id: string } {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      t: unknown;
      id: unknown;
      q: unknown;
    };
    if (typeof v.t === 'number' && typeof v.id === 'string' && v.q === query)
      return { t: v.t, id: v.id };
  } catch {
    // fall through
  }
  throw new AwsError(errorType, 'The NextToken is invalid or belongs to a different query');
}
