import type { Counter, Metrics } from '@meterstream/observability';

/** The console's Prometheus metrics (prefix `meterstream_console_`). */
export interface ConsoleMetrics {
  /** The registry they live in (served on /metrics). */
  readonly metrics: Metrics;
  readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  readonly logins: Counter<'outcome'>;
  readonly submissions: Counter<'outcome'>;
  readonly submittedRecords: Counter;
  readonly csrfRejections: Counter;
}

/** Registers the console's metrics in `metrics` (once per registry). */
export function consoleMetrics(metrics: Metrics): ConsoleMetrics {
  return {
    metrics,
    httpRequests: metrics.counter('http_requests_total', 'HTTP requests by route and status', [
      'route',
      'method',
      'status',
    ]),
    logins: metrics.counter('logins_total', 'Sign-in attempts by outcome', ['outcome']),
    submissions: metrics.counter('submissions_total', 'Confirmed manual submissions by outcome', [
      'outcome',
    ]),
    submittedRecords: metrics.counter(
      'submitted_records_total',
      'Usage lines sent by manual submissions',
    ),
    csrfRejections: metrics.counter(
      'csrf_rejections_total',
      'State changes refused for a missing or wrong CSRF token',
    ),
  };
}
