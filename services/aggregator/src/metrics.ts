import {
  LATENCY_BUCKETS,
  Metrics,
  type Counter,
  type Gauge,
  type Histogram,
} from '@meterstream/observability';

/** The aggregator's metrics (prefix `meterstream_aggregator_`). */
export interface AggregatorMetrics {
  metrics: Metrics;
  events: Counter<string>;
  consumerLag: Gauge<'partition'>;
  dedupHits: Counter<string>;
  lateEvents: Counter<'kind'>;
  windowsFrozen: Counter<'kind'>;
  hoursFrozen: Counter<'reason'>;
  freezeCommands: Counter<string>;
  rejected: Counter<'reason'>;
  clickhouseInsertSeconds: Histogram<'table'>;
  clickhouseFailures: Counter<'op'>;
}

/** Creates the aggregator's metrics on `metrics` (one registry per process). */
export function createAggregatorMetrics(metrics: Metrics): AggregatorMetrics {
  return {
    metrics,
    events: metrics.counter(
      'events_total',
      'Usage events consumed and written to usage_events (replays count again)',
    ),
    consumerLag: metrics.gauge(
      'consumer_lag',
      'Messages between the last processed offset and the high watermark',
      ['partition'],
    ),
    dedupHits: metrics.counter(
      'dedup_hits_total',
      'Re-sent event ids (identities seen more than once) found when freezing windows',
    ),
    lateEvents: metrics.counter(
      'late_events_total',
      'Events billed after their own hour: carried, or too old for AWS',
      ['kind'],
    ),
    windowsFrozen: metrics.counter('windows_frozen_total', 'Windows written to usage_windows', [
      'kind',
    ]),
    hoursFrozen: metrics.counter(
      'hours_frozen_total',
      'Partition-hours recorded in window_freezes',
      ['reason'],
    ),
    freezeCommands: metrics.counter('freeze_commands_total', 'Early freeze commands applied'),
    rejected: metrics.counter(
      'rejected_messages_total',
      'Messages that could not be decoded, kept in usage_rejects',
      ['reason'],
    ),
    clickhouseInsertSeconds: metrics.histogram(
      'clickhouse_insert_seconds',
      'Latency of ClickHouse inserts',
      ['table'],
      LATENCY_BUCKETS,
    ),
    clickhouseFailures: metrics.counter(
      'clickhouse_failures_total',
      'Failed ClickHouse operations (retried)',
      ['op'],
    ),
  };
}
