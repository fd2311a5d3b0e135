import { z } from 'zod';
import {
  bool,
  clickhouseEnv,
  kafkaClientEnv,
  kafkaEnv,
  loadEnvOrExit,
  nonNegInt,
  observabilityEnv,
  parseEnv,
  port,
  posInt,
  type Env,
} from '@meterstream/config';

/** The submitter's environment: parsed once at start, every broken key named. */
export const submitterEnvSchema = z.object({
  ...clickhouseEnv,
  ...observabilityEnv,
  ...kafkaClientEnv,
  MS_USAGE_TOPIC: kafkaEnv.MS_USAGE_TOPIC,
  MS_USAGE_TOPIC_PARTITIONS: posInt(6).describe(
    'Partitions of usage.events: an hour is frozen topic-wide when window_freezes has all of them; must equal the partition count of the topic (checked at start)',
  ),
  MS_AWS_ENDPOINT: z
    .string()
    .default('')
    .refine((v) => v === '' || /^https?:\/\/\S+$/.test(v), 'must be empty or an http(s) URL')
    .describe('AWS endpoint override (the local emulator); empty = real AWS'),
  MS_AWS_REGION: z.literal('us-east-1').default('us-east-1').describe('AWS Marketplace region'),
  MS_AWS_ACCESS_KEY_ID: z
    .string()
    .default('')
    .describe('Static AWS key (emulator); empty = SDK chain'),
  MS_AWS_SECRET_ACCESS_KEY: z.string().default('').describe('Static AWS secret (emulator)'),
  MS_AWS_TIMEOUT_MS: posInt(10_000).describe('Timeout of one AWS call (bounds an in-flight send)'),
  MS_PLANS_DIR: z
    .string()
    .min(1)
    .default('plans')
    .describe(
      'Directory of metering plan YAML files; re-read by the next run when its content changes (an invalid change keeps the previous plans)',
    ),
  MS_SUBMITTER_CLOCK_OFFSET_MS: z.coerce
    .number()
    .int()
    .default(0)
    .describe(
      'Shifts the clock that decides deadlines and which hours are due; for tests and replays only',
    ),
  MS_SUBMITTER_TICK_MS: nonNegInt(15_000).describe(
    'Interval between submission runs; 0 = only on demand',
  ),
  MS_SUBMITTER_BATCH_SIZE: posInt(25)
    .pipe(z.number().max(25, 'BatchMeterUsage takes at most 25 records'))
    .describe('Records per BatchMeterUsage call'),
  MS_SUBMITTER_WAVE_SIZE: posInt(2500).describe(
    'Records marked sending in one ledger insert before their calls go out',
  ),
  MS_SUBMITTER_CONCURRENCY: posInt(4).describe(
    'BatchMeterUsage calls in flight at once (their rate is bounded by MS_SUBMITTER_AWS_RPS)',
  ),
  MS_SUBMITTER_AWS_RPS: nonNegInt(10).describe(
    "BatchMeterUsage calls a second of the AWS account and region, shared by all instances by their share of the work buckets (ADR 0008); AWS's quota is 10; 0 = no limit",
  ),
  MS_SUBMITTER_LOOKBACK_HOURS: posInt(30).describe('How many past hours a run looks at'),
  MS_SUBMITTER_MAX_ATTEMPTS_PER_RUN: posInt(6).describe('Retries of one batch within one run'),
  MS_SUBMITTER_BACKOFF_BASE_MS: posInt(200).describe('First retry delay (doubles, full jitter)'),
  MS_SUBMITTER_BACKOFF_MAX_MS: posInt(10_000).describe('Largest retry delay'),
  MS_SUBMITTER_DEADLINE_ALERT_MINUTES: posInt(120).describe(
    'Alert when an unsent record is this close to its AWS deadline',
  ),
  MS_SUBMITTER_ENTITLEMENT_SYNC_MIN_INTERVAL_MS: nonNegInt(300_000).describe(
    'Least time between two GetEntitlements syncs of one product that the submitter starts itself, when usage is held for a missing entitlement',
  ),
  MS_SUBMITTER_INSTANCE_ID: z
    .string()
    .min(1)
    .max(64)
    .default('')
    .describe('Instance id; empty = host-pid'),
  MS_SUBMITTER_OWNERSHIP: z
    .enum(['kafka', 'static'])
    .default('kafka')
    .describe(
      'kafka: keys owned through the submitter.work consumer group; static: this instance owns all',
    ),
  MS_SUBMITTER_WORK_TOPIC: z
    .string()
    .default('submitter.work')
    .describe('Control topic for ownership'),
  MS_SUBMITTER_WORK_PARTITIONS: posInt(12).describe(
    'Partitions of the control topic (key buckets)',
  ),
  MS_SUBMITTER_GROUP_ID: z
    .string()
    .min(1)
    .default('meterstream-submitter')
    .describe('Ownership group'),
  MS_SUBMITTER_SESSION_TIMEOUT_MS: posInt(10_000).describe(
    'Kafka session timeout of the ownership group',
  ),
  MS_SUBMITTER_HANDOVER_MS: nonNegInt(15_000).describe(
    'Wait after gaining a partition before sending its keys (> AWS timeout: the old owner drains)',
  ),
  MS_SMTP_HOST: z.string().default('').describe('SMTP host for notices; empty disables email'),
  MS_SMTP_PORT: port(587).describe('SMTP port'),
  MS_SMTP_SECURE: bool(false).describe('SMTP over TLS'),
  MS_SMTP_USER: z.string().default('').describe('SMTP user'),
  MS_SMTP_PASSWORD: z.string().default('').describe('SMTP password (secret)'),
  MS_SMTP_FROM: z.string().default('meterstream@localhost').describe('Sender address of notices'),
  MS_SLACK_ENABLED: bool(true).describe("Send Slack notices to the plans' webhooks"),
  MS_NOTIFY_ATTEMPTS: posInt(3).describe('Attempts per notification channel'),
  MS_NOTIFY_TIMEOUT_MS: posInt(5000).describe('Timeout of one notification attempt'),
  MS_SUBMITTER_OPS_PORT: port(9102).describe('Ops + control API port'),
  MS_SUBMITTER_OPS_HOST: z.string().default('127.0.0.1').describe('Ops bind address'),
  MS_NOTIFY_EXTRA_EMAILS: z
    .string()
    .default('')
    .describe('Comma-separated addresses copied on every notice'),
});

/** Parsed submitter configuration. */
export type SubmitterEnv = z.infer<typeof submitterEnvSchema>;

/** Parses an environment (tests), throwing CONFIG_INVALID naming every broken key. */
export function parseSubmitterEnv(env: Env): SubmitterEnv {
  return parseEnv(submitterEnvSchema, env);
}

/** Parses `process.env` at start, exiting 78 on bad config. */
export function loadSubmitterEnv(): SubmitterEnv {
  return loadEnvOrExit('submitter', submitterEnvSchema, process.env);
}
