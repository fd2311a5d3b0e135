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
