import { resolve } from 'node:path';
import { z } from 'zod';
import { loadEnvOrExit, logLevel, nonNegInt, port } from '@meterstream/config';
import type { EmulatorConfig } from './start.js';

/** The emulator's whole configuration; parsed once at start. */
export const envSchema = z.object({
  MS_AWS_PORT: port(4566).describe('Port of the AWS endpoint and admin API'),
  MS_AWS_HOST: z.string().min(1).default('127.0.0.1').describe('Interface to listen on'),
  MS_AWS_STATE_FILE: z
    .string()
    .min(1)
    .default('.stack/data/aws/state.json')
    .describe('Where the ledger, CloudTrail events, products and faults persist (relative to cwd)'),
  MS_AWS_CLOUDTRAIL_DELAY_MS: nonNegInt(2000).describe(
    'Delay before a CloudTrail event is visible to LookupEvents (AWS: usually < 5 min)',
  ),
  MS_AWS_SEED: z.coerce.number().int().default(1).describe('Seed of the fault injector'),
  MS_AWS_ACCOUNT_ID: z
    .string()
    .regex(/^\d{12}$/, 'must be a 12-digit AWS account id')
    .default('111122223333')
    .describe('Seller account id recorded in CloudTrail events'),
  MS_AWS_METERING_RPS: nonNegInt(0).describe(
    'BatchMeterUsage/MeterUsage requests per second per account and region before ThrottlingException (AWS: 10; 0 = no quota)',
  ),
  MS_AWS_EVENTS_URL: z
    .union([z.url(), z.literal('')])
    .default('')
    .describe('Where lifecycle events (EventBridge-shaped) are posted; empty = none'),
  MS_AWS_EVENTS_HEADER: z
    .string()
    .min(1)
    .default('x-api-key')
    .describe('Header carrying the shared secret of lifecycle event posts (API-key connection)'),
  MS_AWS_EVENTS_SECRET: z
    .string()
    .default('')
    .describe('Shared secret sent with lifecycle event posts; empty = no header'),
  MS_LOG_LEVEL: logLevel.describe('pino log level'),
});

/** Parsed configuration. */
export type AwsEmulatorEnv = z.infer<typeof envSchema>;

/** Reads the process environment; on bad config names every broken key and exits 78. */
export function loadEmulatorEnv(): AwsEmulatorEnv {
  const env = loadEnvOrExit('aws-emulator', envSchema, process.env);
  // `npm run emulator -w …` runs in the workspace directory; a relative state file is meant
  // relative to where the user typed the command (npm's INIT_CWD), i.e. the repo root.
  return {
    ...env,
    MS_AWS_STATE_FILE: resolve(process.env.INIT_CWD ?? process.cwd(), env.MS_AWS_STATE_FILE),
  };
}

/** The emulator's configuration from its environment. */
export function emulatorConfigFromEnv(env: AwsEmulatorEnv): EmulatorConfig {
  return {
    port: env.MS_AWS_PORT,
    host: env.MS_AWS_HOST,
    stateFile: env.MS_AWS_STATE_FILE,
    seed: env.MS_AWS_SEED,
    cloudTrailDelayMs: env.MS_AWS_CLOUDTRAIL_DELAY_MS,
    accountId: env.MS_AWS_ACCOUNT_ID,
    meteringRps: env.MS_AWS_METERING_RPS,
    events: {
      url: env.MS_AWS_EVENTS_URL,
      headerName: env.MS_AWS_EVENTS_HEADER,
      secret: env.MS_AWS_EVENTS_SECRET,
    },
  };
}
