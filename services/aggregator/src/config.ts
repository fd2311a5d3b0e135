import type { Topology } from '@meterstream/clickhouse';
import type { KafkaClientKind } from '@meterstream/kafka';

/** Everything the aggregator needs to run (built by `aggregatorConfigFromEnv`, directly in tests). */
export interface AggregatorConfig {
  /** The Kafka client library (`MS_KAFKA_CLIENT`); default `DEFAULT_KAFKA_CLIENT`. */
  kafkaClient?: KafkaClientKind;
  brokers: string[];
  clientId: string;
  topic: string;
  /** Partitions and replication used only when the aggregator has to create the topic. */
  topicPartitions: number;
  topicReplication: number;
  groupId: string;
  registryUrl: string;
  clickhouse: {
    url: string;
    user?: string;
    password?: string;
    database: string;
    topology: Topology;
    requestTimeoutMs: number;
  };
  /** Event-time grace after an hour ends before it is frozen. */
  graceMs: number;
  /** A partition without messages this long is frozen by processing time. */
  idleMs: number;
  tickMs: number;
  dedupHorizonHours: number;
  /** Wait after claiming a partition before reading its state (> ClickHouse request timeout). */
  fenceMs: number;
  sessionTimeoutMs: number;
  /** Partitions processed at once (overlaps decoding with ClickHouse writes). */
  concurrency?: number;
  /** Rows per raw-event insert (group commit across partitions). */
  insertRows?: number;
  /** Kafka fetch size per partition (bytes). */
  maxBytesPerPartition?: number;
  /** Ops server port; undefined: no ops server (tests). */
  opsPort?: number;
}

/** Maps a license ARN to its product (the plan catalog, when plans are configured). */
export interface ProductResolver {
  resolveProduct(ref: string): { productCode: string } | undefined;
}
