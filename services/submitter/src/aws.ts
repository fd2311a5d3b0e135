import {
  BatchMeterUsageCommand,
  MarketplaceMeteringClient,
  type UsageRecord,
  type UsageRecordResult,
} from '@aws-sdk/client-marketplace-metering';
import { MarketplaceEntitlementServiceClient } from '@aws-sdk/client-marketplace-entitlement-service';
import { MeterstreamError } from '@meterstream/errors';
import { classifyAwsError } from '@meterstream/runtime';
import type { SubmitterEnv } from './env.js';
import type { HeldReason } from './ledger.js';

/** How the submitter reaches AWS (or the emulator). */
export interface AwsConfig {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  timeoutMs: number;
}

/** The submitter's AWS settings from its environment (the service and the CLI). */
export function awsConfigFromEnv(env: SubmitterEnv): AwsConfig {
  return {
    endpoint: env.MS_AWS_ENDPOINT,
    region: env.MS_AWS_REGION,
    accessKeyId: env.MS_AWS_ACCESS_KEY_ID,
    secretAccessKey: env.MS_AWS_SECRET_ACCESS_KEY,
    timeoutMs: env.MS_AWS_TIMEOUT_MS,
  };
}

function clientConfig(c: AwsConfig): Record<string, unknown> {
  return {
    region: c.region,
    ...(c.endpoint ? { endpoint: c.endpoint } : {}),
    ...(c.accessKeyId
      ? { credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey } }
      : {}),
    // Retries are ours: each one is decided and counted by the sender, never hidden in the SDK.
    maxAttempts: 1,
    requestHandler: { requestTimeout: c.timeoutMs, connectionTimeout: Math.min(c.timeoutMs, 5000) },
  };
}

/** A Metering client with SDK retries off and a bounded request time. */
export function meteringClient(c: AwsConfig): MarketplaceMeteringClient {
  return new MarketplaceMeteringClient(clientConfig(c));
}

/** An Entitlement Service client (us-east-1), SDK retries off. */
export function entitlementClient(c: AwsConfig): MarketplaceEntitlementServiceClient {
  return new MarketplaceEntitlementServiceClient(clientConfig(c));
}

/** What a failed call means for the records in it. */
export type CallFailure =
  | {
      kind: 'retry';
      /** As classified; an unknown rejection is retried too (see {@link classifyCallFailure}). */
      code: 'AWS_THROTTLED' | 'AWS_TRANSIENT' | 'AWS_REJECTED';
      awsError: string;
      message: string;
    }
  | { kind: 'expired'; awsError: string; message: string }
  | { kind: 'rejected'; awsError: string; message: string }
  | {
      kind: 'held';
      /**
       * `account`: the error is about the account or product, not a record: every record of the
       * call is held. `record`: one record of the call is the cause (found by bisecting).
       */
      scope: 'account' | 'record';
      reason: HeldReason;
      awsError: string;
      message: string;
    };

// Errors about what a record says that no fix of the seller's can make AWS accept as sent.
const REJECTING = new Set([
  'InvalidCustomerIdentifierException',
  'InvalidTagException',
  'InvalidUsageAllocationsException',
  'ValidationException',
  'SerializationException',
]);

/**
 * Errors the seller can fix (DESIGN invariant 7): the records are held and sent again every run
 * until their deadline. The account-level ones say nothing about a record, so splitting the batch
 * to find a culprit would only multiply calls that fail the same way.
 */
const HOLDING: Readonly<Record<string, { scope: 'account' | 'record'; reason: HeldReason }>> = {
  DisabledApiException: { scope: 'account', reason: 'aws_api_disabled' },
  // A dimension the AWS listing lacks: the seller adds it to the listing (or it was our plan that
  // still named a dimension the listing dropped); nothing was billed, so a later send is safe.
  InvalidUsageDimensionException: { scope: 'record', reason: 'aws_invalid_dimension' },
  // A license AWS does not know (stale or wrong in the registry): nothing was billed under it; a
  // subscription sync that brings the right one lets the record go again (issue 13, item 4).
  InvalidLicenseException: { scope: 'record', reason: 'aws_invalid_license' },
  InvalidEndpointRegionException: { scope: 'account', reason: 'aws_wrong_region' },
  InvalidProductCodeException: { scope: 'account', reason: 'aws_invalid_product' },
};

/**
 * What an error of one BatchMeterUsage call means for its records. The error is classified once,
 * by the shared rule ({@link classifyAwsError}); on top of it, the named errors above hold or
 * reject. Everything else is retried, a rejection AWS gave for an unknown reason included (an
 * expired credential, a denied IAM policy): it names no record, and ending the records as
 * `rejected` would lose them for good, while resending an identical frozen record is always safe
 * and the deadline (TimestampOutOfBounds) ends the retries of a record that never gets through.
 */
export function classifyCallFailure(err: unknown): CallFailure {
  const c = classifyAwsError(err);
  const failure = { awsError: c.name, message: c.message };
  if (c.code === 'AWS_TIMESTAMP_OUT_OF_BOUNDS') return { kind: 'expired', ...failure };
  const hold = HOLDING[c.name];
  if (hold) return { kind: 'held', ...hold, ...failure };
  if (REJECTING.has(c.name)) return { kind: 'rejected', ...failure };
  return { kind: 'retry', code: c.code, ...failure };
}

/** The outcome of one call: results per record and the records AWS did not process. */
export interface CallOutcome {
  results: UsageRecordResult[];
  unprocessed: UsageRecord[];
}

/** Sends one batch; throws a MeterstreamError carrying the classified failure. */
export async function batchMeterUsage(
  client: MarketplaceMeteringClient,
  productCode: string,
  records: UsageRecord[],
): Promise<CallOutcome> {
  if (records.length === 0 || records.length > 25) {
    throw new MeterstreamError(
      'INTERNAL',
      `a batch must have 1..25 records, not ${records.length}`,
    );
  }
  try {
    const out = await client.send(
      new BatchMeterUsageCommand({ ProductCode: productCode, UsageRecords: records }),
    );
    return { results: out.Results ?? [], unprocessed: out.UnprocessedRecords ?? [] };
  } catch (err) {
    const f = classifyCallFailure(err);
    const code =
      f.kind === 'retry'
        ? f.code
        : f.kind === 'expired'
          ? 'AWS_TIMESTAMP_OUT_OF_BOUNDS'
          : 'AWS_REJECTED';
    throw new MeterstreamError(code, `BatchMeterUsage failed: ${f.awsError}`, {
      cause: err,
      retriable: f.kind === 'retry',
      details: { failure: f },
    });
  }
}

/** The classified failure inside an error thrown by {@link batchMeterUsage}. */
export function failureOf(err: unknown): CallFailure {
  const d = (err as { details?: { failure?: CallFailure } }).details;
  return d?.failure ?? classifyCallFailure(err);
}
