import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { MarketplaceAgreementClient } from '@aws-sdk/client-marketplace-agreement';
import { MarketplaceEntitlementServiceClient } from '@aws-sdk/client-marketplace-entitlement-service';
import { MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../start.js';

/** An emulator on port 0 with a temp state file, plus real SDK clients pointed at it. */
export interface TestStack {
  emulator: RunningEmulator;
  stateFile: string;
  dir: string;
  metering: MarketplaceMeteringClient;
  entitlement: MarketplaceEntitlementServiceClient;
  cloudTrail: CloudTrailClient;
  agreement: MarketplaceAgreementClient;
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  close(): Promise<void>;
}

/** Client options for the emulator: dummy credentials, us-east-1, no retries unless asked. */
export function clientConfig(
  url: string,
  maxAttempts = 1,
): {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  maxAttempts: number;
} {
  return {
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    maxAttempts,
  };
}

/** Starts an isolated emulator for one test. */
export async function startTestStack(
  options: EmulatorOptions = {},
  dir?: string,
): Promise<TestStack> {
  const root = dir ?? mkdtempSync(join(tmpdir(), 'aws-emu-'));
  const stateFile = join(root, 'state.json');
  const emulator = await startEmulator({ port: 0, stateFile, cloudTrailDelayMs: 0, ...options });
  const cfg = clientConfig(emulator.url);
  const metering = new MarketplaceMeteringClient(cfg);
  const entitlement = new MarketplaceEntitlementServiceClient(cfg);
  const cloudTrail = new CloudTrailClient(cfg);
  const agreement = new MarketplaceAgreementClient(cfg);
  return {
    emulator,
    stateFile,
    dir: root,
    metering,
    entitlement,
    cloudTrail,
    agreement,
    async admin(method, path, body) {
      const res = await fetch(`${emulator.url}${path}`, {
        method,
        ...(body === undefined
          ? {}
          : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
    },
    async close() {
      metering.destroy();
      entitlement.destroy();
      cloudTrail.destroy();
      agreement.destroy();
      await emulator.close();
      if (!dir) rmSync(root, { recursive: true, force: true });
    },
  };
}
