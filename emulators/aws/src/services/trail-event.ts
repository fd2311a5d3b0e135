import type { AwsError } from '../aws-error.js';
import type { TrailEvent } from '../state.js';
import { parseTimestamp, type CallContext, type Json } from '../wire.js';

/** The `eventSource` of every metering call in CloudTrail. */
export const METERING_SOURCE = 'metering-marketplace.amazonaws.com';

/** A metering call as CloudTrail logs it. */
export interface MeteringCall {
  name: string;
  input: Json;
  ctx: CallContext;
  output: Json | undefined;
  err: AwsError | undefined;
}

/** Where and when the event is logged. */
export interface TrailStamp {
  now: number;
  eventId: string;
  accountId: string;
  deliveryDelayMs: number;
}

/** A usage record in CloudTrail's lower camelCase. */
export function lowerRecord(rec: Json): Json {
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

/** {@link lowerRecord} of whatever a caller sent; `{}` for what is not a usage record. */
function safeLower(rec: Json | undefined): Json {
  if (!rec || typeof rec !== 'object') return {};
  try {
    return lowerRecord(rec);
  } catch {
    return {};
  }
}

/** `requestParameters` and `responseElements` of a metering call. */
function callElements(call: MeteringCall): { request: Json; response: Json | null } {
  const { input, output } = call;
  if (call.name === 'BatchMeterUsage') {
    const recs = Array.isArray(input.UsageRecords) ? (input.UsageRecords as Json[]) : [];
    const request = { productCode: input.ProductCode, usageRecords: recs.map(safeLower) };
    if (!output) return { request, response: null };
    return {
      request,
      response: {
        results: (output.Results as Json[]).map((r) => ({
          usageRecord: safeLower(r.UsageRecord as Json),
          ...(r.MeteringRecordId ? { meteringRecordId: r.MeteringRecordId } : {}),
          status: r.Status,
        })),
        unprocessedRecords: (output.UnprocessedRecords as Json[]).map(safeLower),
      },
    };
  }
  const request = {
    productCode: input.ProductCode,
    timestamp: safeLower({ Timestamp: input.Timestamp }).timestamp,
    usageDimension: input.UsageDimension,
    usageQuantity: input.UsageQuantity,
    usageQuantityAsDecimal: input.UsageQuantityAsDecimal,
    dryRun: input.DryRun,
  };
  return { request, response: output ? { meteringRecordId: output.MeteringRecordId } : null };
}

/** The CloudTrail event of one metering call, successful or not. */
export function meteringTrailEvent(call: MeteringCall, stamp: TrailStamp): TrailEvent {
  const { ctx, err } = call;
  const { now, eventId, accountId } = stamp;
  const { request, response } = callElements(call);
  const record: Json = {
    eventVersion: '1.08',
    userIdentity: {
      type: 'IAMUser',
      principalId: `AIDA${ctx.accessKeyId.slice(0, 16).toUpperCase()}`,
      arn: `arn:aws:iam::${accountId}:user/meterstream`,
      accountId,
      accessKeyId: ctx.accessKeyId,
      userName: 'meterstream',
    },
    eventTime: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    eventSource: METERING_SOURCE,
    eventName: call.name,
    awsRegion: ctx.region,
    sourceIPAddress: ctx.sourceIp,
    userAgent: ctx.userAgent,
    ...(err ? { errorCode: err.type, errorMessage: err.message } : {}),
    requestParameters: JSON.parse(JSON.stringify(request)) as Json,
    responseElements: response,
    requestID: ctx.requestId,
    eventID: eventId,
    readOnly: false,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: accountId,
    eventCategory: 'Management',
  };
  return {
    eventId,
    eventName: call.name,
    eventSource: METERING_SOURCE,
    eventTime: now,
    deliverAt: now + stamp.deliveryDelayMs,
    username: 'meterstream',
    accessKeyId: ctx.accessKeyId,
    readOnly: false,
    record,
  };
}
