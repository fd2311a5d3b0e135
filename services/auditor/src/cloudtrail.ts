import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import type { LookupEventsApi } from './reader.js';

/** Options of {@link cloudTrailApi}. */
export interface CloudTrailApiOptions {
  region: string;
  endpoint?: string | undefined;
  /** Static credentials (tests against the emulator); the SDK's default chain otherwise. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/**
 * The real CloudTrail client. The SDK's own retries are off (maxAttempts 1): the reader paces
 * and retries itself, so throttling shows in our metrics and respects our limiter.
 */
export function cloudTrailApi(o: CloudTrailApiOptions): LookupEventsApi & { destroy(): void } {
  const client = new CloudTrailClient({
    region: o.region,
    maxAttempts: 1,
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
  });
  return {
    lookupEvents: (input) => client.send(new LookupEventsCommand(input)),
    destroy: () => client.destroy(),
  };
}
