import { FINDING_KINDS } from '@meterstream/contracts';
import {
  LATENCY_BUCKETS,
  type Counter,
  type Gauge,
  type Histogram,
  type Metrics,
} from '@meterstream/observability';
import { CHAIN_STAGES } from './conservation.js';

/** The auditor's metrics (prefix `meterstream_auditor_`). */
export interface AuditorMetrics {
  lastSuccess: Gauge;
  runs: Counter<'outcome'>;
  runDuration: Histogram;
  findingsNew: Counter<'kind'>;
  findingsOpen: Gauge<'kind'>;
  cloudTrailLag: Gauge;
  deliveryDelay: Histogram;
  events: Counter<'result'>;
  lookups: Counter<'outcome'>;
  keys: Gauge<'outcome'>;
  /** Units of usage no bucket explains, per stage of the chain (last run). */
  unexplainedUnits: Gauge<'stage'>;
  /** Runs whose conservation check failed (the CloudTrail audit went on). */
  conservationFailures: Counter;
  notifications: Counter<'channel' | 'outcome'>;
  /** CloudTrail is read completely up to here (drives the lag gauge at scrape time). */
  progress: { readUntilMs?: number };
}

/** Registers the auditor's metrics on the process registry. */
export function auditorMetrics(m: Metrics): AuditorMetrics {
  const findingsOpen = m.gauge('findings_open', 'Open (unexplained) findings by kind', ['kind']);
  for (const k of FINDING_KINDS) findingsOpen.set({ kind: k }, 0);
  const progress: { readUntilMs?: number } = {};
  const unexplainedUnits = m.gauge(
    'unexplained_units',
    'Units of usage the last audit run could not account for or that ended unbilled, by stage (events_windows, windows_ledger, ledger_unbilled, ledger_cloudtrail)',
    ['stage'],
  );
  for (const stage of CHAIN_STAGES) unexplainedUnits.set({ stage }, 0);
  return {
    progress,
    lastSuccess: m.gauge(
      'last_success_timestamp_seconds',
      'Unix time the last audit run completed',
    ),
    runs: m.counter('runs_total', 'Audit runs by outcome', ['outcome']),
    runDuration: m.histogram(
      'run_duration_seconds',
      'Duration of an audit run',
      [],
      LATENCY_BUCKETS,
    ),
    findingsNew: m.counter('findings_total', 'New findings by kind', ['kind']),
    findingsOpen,
    cloudTrailLag: m.gauge(
      'cloudtrail_lag_seconds',
      'How far behind now CloudTrail is read completely (checkpoint age)',
      [],
      function collect() {
        if (progress.readUntilMs !== undefined)
          this.set(Math.max(0, (Date.now() - progress.readUntilMs) / 1000));
      },
    ),
    deliveryDelay: m.histogram(
      'cloudtrail_delivery_delay_seconds',
      'Time from a CloudTrail event to the auditor first reading it',
      [],
      [1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600],
    ),
    events: m.counter('cloudtrail_events_total', 'CloudTrail events read, by result', ['result']),
    lookups: m.counter('lookup_requests_total', 'LookupEvents requests by outcome', ['outcome']),
    keys: m.gauge('keys', 'Keys of the last reconciliation by outcome', ['outcome']),
    unexplainedUnits,
    conservationFailures: m.counter(
      'conservation_failures_total',
      'Audit runs whose conservation check (events, windows, ledger) failed',
    ),
    notifications: m.counter(
      'notifications_total',
      'Finding notifications by channel and outcome',
      ['channel', 'outcome'],
    ),
  };
}
