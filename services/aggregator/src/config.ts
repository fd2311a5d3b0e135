import type { AggregatorConfig } from './aggregator.js';
import type { AggregatorEnv } from './env.js';

/** Builds the aggregator's configuration from its parsed environment. */
export function configFromEnv(env: AggregatorEnv): AggregatorConfig {
  return {
    brokers: env.MS_KAFKA_BROKERS,
    clientId: `${env.MS_KAFKA_CLIENT_ID}-aggregator`,
    topic: env.MS_USAGE_TOPIC,
    topicPartitions: env.MS_USAGE_TOPIC_PARTITIONS,
    topicReplication: env.MS_USAGE_TOPIC_REPLICATION,
    groupId: env.MS_AGGREGATOR_GROUP_ID,
    registryUrl: env.MS_SCHEMA_REGISTRY_URL,
    clickhouse: {
      url: env.MS_CLICKHOUSE_URL,
      user: env.MS_CLICKHOUSE_USER,
      password: env.MS_CLICKHOUSE_PASSWORD,
      database: env.MS_CLICKHOUSE_DATABASE,
      topology:
        env.MS_CLICKHOUSE_TOPOLOGY === 'cluster'
          ? { kind: 'cluster', cluster: env.MS_CLICKHOUSE_CLUSTER }
          : { kind: 'single' },
      requestTimeoutMs: env.MS_AGGREGATOR_CH_TIMEOUT_MS,
    },
    graceMs: env.MS_AGGREGATOR_GRACE_MS,
    idleMs: env.MS_AGGREGATOR_IDLE_MS,
    tickMs: env.MS_AGGREGATOR_TICK_MS,
    dedupHorizonHours: env.MS_AGGREGATOR_DEDUP_HORIZON_HOURS,
    fenceMs: env.MS_AGGREGATOR_FENCE_MS,
    sessionTimeoutMs: env.MS_AGGREGATOR_SESSION_TIMEOUT_MS,
    opsPort: env.MS_AGGREGATOR_OPS_PORT,
  };
}
