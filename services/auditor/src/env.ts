import { z } from 'zod';
import {
  bool,
  clickhouseEnv,
  loadEnvOrExit,
  nonNegInt,
  observabilityEnv,
  port,
  posInt,
  type Env,
} from '@meterstream/config';
import { DAY_MS, MINUTE_MS } from '@meterstream/runtime';
import type { AuditorConfig } from './auditor.js';
import type { CloudTrailApiOptions } from './cloudtrail.js';

/** The auditor's configuration: parsed once at start, every broken key named. */
export const auditorEnvSchema = z.object({
  ...clickhouseEnv,
  ...observabilityEnv,
  MS_AUDITOR_PORT: port(9103).describe('Ops port: /metrics, /healthz, /readyz'),
  MS_AWS_REGION: z.string().min(1).default('us-east-1').describe('AWS region of CloudTrail'),
  MS_AWS_ENDPOINT: z
    .string()
    .default('')
    .refine((v) => v === '' || /^https?:\/\/\S+$/.test(v), 'must be empty or an http(s) URL')
    .describe('CloudTrail endpoint override (the local AWS emulator); empty = real AWS'),
  MS_AWS_ACCESS_KEY_ID: z
    .string()
    .default('')
    .describe('Static AWS key (emulator); empty = SDK chain'),
  MS_AWS_SECRET_ACCESS_KEY: z.string().default('').describe('Static AWS secret (emulator)'),
  MS_AUDITOR_INTERVAL_MS: posInt(60_000).describe('Time between audit runs'),
  MS_AUDITOR_DELIVERY_GRACE_MS: nonNegInt(15 * 60_000).describe(
    'How long CloudTrail may take to deliver an event; reads overlap by this much',
  ),
  MS_AUDITOR_INITIAL_LOOKBACK_MS: posInt(48 * 3_600_000).describe(
    'How far back the first read starts',
  ),
  MS_AUDITOR_RECONCILE_LOOKBACK_MS: posInt(48 * 3_600_000).describe(
    'Hours reconciled on every run',
  ),
  MS_AUDITOR_RESCAN_EVERY_MS: nonNegInt(6 * 3_600_000).describe(
    'How often to re-read the whole reconciled range for events delivered after the grace (0: never)',
  ),
  MS_AUDITOR_PAGE_SIZE: z.coerce
    .number()
    .int()
    .min(1)
    .max(50)
    .default(50)
    .describe('LookupEvents MaxResults'),
  MS_AUDITOR_LOOKUP_BY: z
    .enum(['EventSource', 'EventName'])
    .default('EventSource')
    .describe('The one LookupEvents attribute selecting metering events'),
  MS_AUDITOR_LOOKUP_RATE: posInt(2).describe('LookupEvents requests per second (AWS allows 2)'),
  MS_AUDITOR_MAX_RETRIES: nonNegInt(8).describe('Retries of a throttled LookupEvents request'),
  MS_AUDITOR_CHECKPOINT: z
    .string()
    .regex(/^[A-Za-z0-9:._-]{1,100}$/)
    .default('cloudtrail')
    .describe('Checkpoint name (one per audited account and region)'),
  MS_AUDITOR_SLACK_WEBHOOK_URL: z
    .string()
    .refine((v) => /^https?:\/\/[^\s]+$/.test(v), 'must be an http(s) URL')
    .optional()
    .describe('Slack incoming webhook for new findings (secret); unset to only log'),
  MS_SMTP_HOST: z
    .string()
    .default('')
    .describe('SMTP host for finding digests; empty disables email'),
  MS_SMTP_PORT: port(587).describe('SMTP port'),
  MS_SMTP_SECURE: bool(false).describe('SMTP over TLS'),
  MS_SMTP_USER: z.string().default('').describe('SMTP user'),
  MS_SMTP_PASSWORD: z.string().default('').describe('SMTP password (secret)'),
  MS_SMTP_FROM: z.string().default('meterstream@localhost').describe('Sender address of digests'),
  MS_AUDITOR_ALERT_EMAILS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x.length > 0),
    )
    .describe('Comma-separated recipients of finding digests (with MS_SMTP_HOST)'),
});

/** Parsed auditor configuration. */
export type AuditorEnv = z.infer<typeof auditorEnvSchema>;

/** Reads the process environment (the only place the auditor does). */
export function loadAuditorEnv(env: Env = process.env): AuditorEnv {
  return loadEnvOrExit('auditor', auditorEnvSchema, env);
}

/** The audit loop's configuration from the parsed environment. */
export function auditorConfigFromEnv(env: AuditorEnv): AuditorConfig {
  return {
    database: env.MS_CLICKHOUSE_DATABASE,
    topology:
      env.MS_CLICKHOUSE_TOPOLOGY === 'cluster'
        ? { kind: 'cluster', cluster: env.MS_CLICKHOUSE_CLUSTER }
        : { kind: 'single' },
    deliveryGraceMs: env.MS_AUDITOR_DELIVERY_GRACE_MS,
    initialLookbackMs: env.MS_AUDITOR_INITIAL_LOOKBACK_MS,
    reconcileLookbackMs: env.MS_AUDITOR_RECONCILE_LOOKBACK_MS,
    intervalMs: env.MS_AUDITOR_INTERVAL_MS,
    pageSize: env.MS_AUDITOR_PAGE_SIZE,
    lookupBy: env.MS_AUDITOR_LOOKUP_BY,
    lookupRatePerSecond: env.MS_AUDITOR_LOOKUP_RATE,
    maxRetries: env.MS_AUDITOR_MAX_RETRIES,
    checkpointName: env.MS_AUDITOR_CHECKPOINT,
    rescanEveryMs: env.MS_AUDITOR_RESCAN_EVERY_MS,
    conservation: conservationFromEnv(),
  };
}

/**
 * The conservation audit's bounds (ADR 0007). Constants for now: an environment key each would
 * change the generated configuration reference (docs/configuration.md).
 */
export const CONSERVATION_DEFAULTS = {
  /** After an hour is frozen on every partition, the planner (every minute) has had its chance. */
  settleMs: 30 * MINUTE_MS,
  /** Longer than the aggregator's 168-hour dedup horizon, so an id it counted twice shows up. */
  dedupLookbackMs: 8 * DAY_MS,
  /** A key idle this long still has its previous record's carry checked. */
  carryLookbackMs: 35 * DAY_MS,
} as const;

/** The conservation audit's bounds (the defaults; no environment key yet). */
export function conservationFromEnv(): {
  settleMs: number;
  dedupLookbackMs: number;
  carryLookbackMs: number;
} {
  return { ...CONSERVATION_DEFAULTS };
}

/** CloudTrail client options from the parsed environment. */
export function awsOptionsFromEnv(env: AuditorEnv): CloudTrailApiOptions {
  return {
    region: env.MS_AWS_REGION,
    ...(env.MS_AWS_ENDPOINT ? { endpoint: env.MS_AWS_ENDPOINT } : {}),
    ...(env.MS_AWS_ACCESS_KEY_ID
      ? {
          credentials: {
            accessKeyId: env.MS_AWS_ACCESS_KEY_ID,
            secretAccessKey: env.MS_AWS_SECRET_ACCESS_KEY,
          },
        }
      : {}),
  };
}
