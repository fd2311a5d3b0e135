import type { LedgerRecord } from '@meterstream/contracts';
import { HOUR_MS } from '@meterstream/runtime';

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
