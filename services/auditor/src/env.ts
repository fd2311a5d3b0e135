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
