import { z } from 'zod';
import {
  clickhouseEnv,
  clickhouseFromEnv,
  envReader,
  kafkaEnv,
  kafkaFromEnv,
  nonNegInt,
  observabilityEnv,
  port,
  posInt,
  type Env,
} from '@meterstream/config';
import type { AggregatorConfig } from './config.js';

/** Every setting of the aggregator, parsed once at start. */
export const aggregatorEnvSchema = z.object({
  ...kafkaEnv,
  ...clickhouseEnv,
  ...observabilityEnv,
  MS_AGGREGATOR_GROUP_ID: z
    .string()
    .min(1)
    .default('meterstream-aggregator')
    .describe('Kafka consumer group'),
  MS_AGGREGATOR_OPS_PORT: port(9101).describe('Port of /metrics, /healthz, /readyz'),
  MS_AGGREGATOR_GRACE_MS: nonNegInt(5 * 60_000).describe(
    'How long after an hour ends (in event time) it stays open for late events before it is frozen',
  ),
  MS_AGGREGATOR_IDLE_MS: posInt(30_000).describe(
    'A partition without messages for this long is frozen by processing time instead of event time',
  ),
  MS_AGGREGATOR_TICK_MS: posInt(5_000).describe(
    'How often idle partitions are checked for freezing',
  ),
  MS_AGGREGATOR_DEDUP_HORIZON_HOURS: posInt(168).describe(
    'How far back (in billing hours) a re-sent event id is still recognised as a duplicate',
  ),
  MS_AGGREGATOR_FENCE_MS: nonNegInt(35_000).describe(
    'Wait after taking over a partition before reading its state: longer than a lost owner takes to finish a ClickHouse write',
  ),
  MS_AGGREGATOR_CH_TIMEOUT_MS: posInt(30_000).describe(
    'ClickHouse request timeout (must be below MS_AGGREGATOR_FENCE_MS)',
  ),
  MS_AGGREGATOR_SESSION_TIMEOUT_MS: posInt(30_000).describe('Kafka consumer session timeout'),
  MS_AGGREGATOR_CLOCK_OFFSET_MS: z.coerce
    .number()
    .int()
    .default(0)
    .describe(
      'Shifts the processing-time clock (idle freezes, too-old checks); for tests and replays only',
    ),
  MS_AGGREGATOR_PLANS_DIR: z
    .string()
    .optional()
    .describe('Directory of plan YAML files, to map licenseArn to productCode'),
});

/** The parsed aggregator configuration. */
export type AggregatorEnv = z.infer<typeof aggregatorEnvSchema>;

const reader = envReader('aggregator', aggregatorEnvSchema);

/** Parses `env` (throws CONFIG_INVALID naming every broken key). */
export const parseAggregatorEnv = (env: Env): AggregatorEnv => reader.parse(env);

/** Reads the process environment; exits 78 on bad configuration. */
export const loadAggregatorEnv = (): AggregatorEnv => reader.load(process.env);

/** Builds the aggregator's configuration from its parsed environment. */
export function aggregatorConfigFromEnv(env: AggregatorEnv): AggregatorConfig {
  const { client, brokers, clientId } = kafkaFromEnv(env, 'aggregator');
  return {
    kafkaClient: client,
    brokers,
    clientId,
    topic: env.MS_USAGE_TOPIC,
    topicPartitions: env.MS_USAGE_TOPIC_PARTITIONS,
    topicReplication: env.MS_USAGE_TOPIC_REPLICATION,
    groupId: env.MS_AGGREGATOR_GROUP_ID,
    registryUrl: env.MS_SCHEMA_REGISTRY_URL,
    clickhouse: { ...clickhouseFromEnv(env), requestTimeoutMs: env.MS_AGGREGATOR_CH_TIMEOUT_MS },
    graceMs: env.MS_AGGREGATOR_GRACE_MS,
    idleMs: env.MS_AGGREGATOR_IDLE_MS,
    tickMs: env.MS_AGGREGATOR_TICK_MS,
    dedupHorizonHours: env.MS_AGGREGATOR_DEDUP_HORIZON_HOURS,
    fenceMs: env.MS_AGGREGATOR_FENCE_MS,
    sessionTimeoutMs: env.MS_AGGREGATOR_SESSION_TIMEOUT_MS,
    opsPort: env.MS_AGGREGATOR_OPS_PORT,
  };
}

/** The earlier name of {@link aggregatorConfigFromEnv}. */
export const configFromEnv = aggregatorConfigFromEnv;

/** The processing-time clock: the wall clock, shifted by MS_AGGREGATOR_CLOCK_OFFSET_MS if set. */
export function aggregatorClock(env: AggregatorEnv): (() => number) | undefined {
  const offset = env.MS_AGGREGATOR_CLOCK_OFFSET_MS;
  return offset === 0 ? undefined : () => Date.now() + offset;
}
