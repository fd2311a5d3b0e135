import type { LedgerRecord } from '@meterstream/contracts';
import { HOUR_MS } from '@meterstream/runtime';
import type { AuditorConfig } from './auditor.js';
import { cloudTrailApi } from './cloudtrail.js';

/** A CloudTrail client of the auditor's own (test) identity against the emulator at `url`. */
export function testCloudTrail(url: string): ReturnType<typeof cloudTrailApi> {
  return cloudTrailApi({
    region: 'us-east-1',
    endpoint: url,
    credentials: { accessKeyId: 'AKIDAUDITOR', secretAccessKey: 'secret' },
  });
}

/** Auditor settings for tests: short grace and interval, `lookbackHours` of CloudTrail. */
export function testAuditorConfig(
  database: string,
  lookbackHours: number,
  over: Partial<AuditorConfig> = {},
): AuditorConfig {
  return {
    database,
    topology: { kind: 'single' },
    deliveryGraceMs: 2_500,
    initialLookbackMs: lookbackHours * HOUR_MS,
    reconcileLookbackMs: lookbackHours * HOUR_MS,
    intervalMs: 1000,
    pageSize: 50,
    lookupBy: 'EventSource',
    lookupRatePerSecond: 2,
    maxRetries: 10,
    backoffMs: 100,
    checkpointName: 'cloudtrail',
    ...over,
  };
}

/**
 * A ledger record of `key` for tests: accepted, nothing billed, no usage, carry or AWS answer,
 * written at its hour; `over` sets what a test is about.
 */
export function ledgerRecord(
  key: Pick<LedgerRecord, 'productCode' | 'customer' | 'dimension' | 'hour'>,
  over: Partial<LedgerRecord> = {},
): LedgerRecord {
  return {
    ...key,
    customerKind: 'identifier',
    version: 1n,
    state: 'accepted',
    quantity: 0,
    usageMicros: 0n,
    billableMicros: 0n,
    carryInMicros: 0n,
    carryOutMicros: 0n,
    meteringRecordId: '',
    awsStatus: '',
    reason: '',
    attempts: 0,
    batchId: '',
    runId: '',
    instanceId: '',
    workPartition: 0,
    licenseArn: '',
    pricePerUnit: '',
    deadline: key.hour + 6 * HOUR_MS,
    updatedAt: key.hour,
    usageFromHour: key.hour,
    ...over,
  };
}
