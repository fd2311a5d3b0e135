import { LATENCY_BUCKETS, SIZE_BUCKETS, type Metrics } from '@meterstream/observability';

/** The ingest service's metrics (prefix `meterstream_ingest_`). */
export type IngestMetrics = ReturnType<typeof createIngestMetrics>;

/** Creates the ingest metrics on `m` (one registry per process; see {@link ingestMetrics}). */
export function createIngestMetrics(m: Metrics) {
  return {
    accepted: m.counter('events_accepted_total', 'Events acknowledged by Kafka and answered 202'),
    rejected: m.counter('events_rejected_total', 'Events rejected, by reason', ['reason'] as const),
    requests: m.counter('requests_total', 'Requests to POST /v1/events by status', [
      'status',
    ] as const),
    requestEvents: m.histogram('request_events', 'Events per request', [], SIZE_BUCKETS),
    requestBytes: m.histogram(
      'request_bytes',
      'Body size of requests',
      [],
      [1e3, 1e4, 1e5, 2.5e5, 5e5, 1e6, 2.5e6, 5e6, 1e7],
    ),
    produceSeconds: m.histogram(
      'produce_seconds',
      'Duration of one Kafka produce call (acks=all)',
      ['outcome'] as const,
      LATENCY_BUCKETS,
    ),
    produceBatch: m.histogram(
      'produce_batch_events',
      'Events per Kafka produce call',
      [],
      SIZE_BUCKETS,
    ),
    ackSeconds: m.histogram(
      'ack_seconds',
      'From request received to Kafka acknowledged',
      [],
      LATENCY_BUCKETS,
    ),
    inFlight: m.gauge('inflight_events', 'Events waiting for a Kafka acknowledgement'),
    producerResets: m.counter('producer_resets_total', 'Producers replaced after a failed send'),
  };
}

const metricsOf = new WeakMap<Metrics, IngestMetrics>();

/** The ingest metrics in `m`, created once per registry (the server and the sink share them). */
export function ingestMetrics(m: Metrics): IngestMetrics {
  let v = metricsOf.get(m);
  if (!v) metricsOf.set(m, (v = createIngestMetrics(m)));
  return v;
}

/** Records produce-call metrics; pass to the sink's `onSend`. */
export function produceObserver(
  metrics: Metrics,
): (seconds: number, records: number, ok: boolean) => void {
  const m = ingestMetrics(metrics);
  return (seconds, records, ok) => {
    m.produceSeconds.observe({ outcome: ok ? 'ok' : 'error' }, seconds);
    m.produceBatch.observe(records);
  };
}
