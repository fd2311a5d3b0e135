import type { Metrics } from '@meterstream/observability';

/** The emulator's Prometheus metrics (prefix `aws_emulator_`). */
export interface EmulatorMetrics {
  /** AWS API requests by operation and outcome (`ok` or the error type). */
  requests: ReturnType<Metrics['counter']>;
  /** BatchMeterUsage records by result status (and `Unprocessed`). */
  records: ReturnType<Metrics['counter']>;
  /** Injected faults by kind. */
  faultsInjected: ReturnType<Metrics['counter']>;
  /** Metering calls answered ThrottlingException by the request quota, by operation. */
  quotaThrottled: ReturnType<Metrics['counter']>;
}

/** Registers the emulator's metrics in `metrics`. */
export function emulatorMetrics(metrics: Metrics): EmulatorMetrics {
  return {
    requests: metrics.counter('requests_total', 'AWS API requests by operation and outcome', [
      'operation',
      'outcome',
    ]),
    records: metrics.counter('records_total', 'BatchMeterUsage records by result status', [
      'status',
    ]),
    faultsInjected: metrics.counter('faults_total', 'Injected faults by kind', ['kind']),
    quotaThrottled: metrics.counter(
      'quota_throttled_total',
      'Metering calls over the request quota (ThrottlingException), by operation',
      ['operation'],
    ),
  };
}
