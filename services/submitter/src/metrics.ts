import {
  LATENCY_BUCKETS,
  type Counter,
  type Gauge,
  type Histogram,
  type Metrics,
} from '@meterstream/observability';

/** The submitter's metrics (prefix `meterstream_submitter_`). */
export interface SubmitterMetrics {
  records: Counter<'state'>;
  awsLatency: Histogram<'operation' | 'outcome'>;
  awsErrors: Counter<'operation' | 'error'>;
  oldestUnsentHourAge: Gauge;
  revenueAtRisk: Gauge;
  heldRecords: Gauge<'reason'>;
  notifications: Counter<'channel' | 'outcome'>;
  runs: Counter<'outcome'>;
  runDuration: Histogram;
  planReloads: Counter<'outcome'>;
  plansInvalid: Gauge;
  entitlementSyncs: Counter<'outcome'>;
  quotaShare: Gauge;
  quotaCalls: Counter;
  quotaDelayed: Counter;
  quotaWait: Histogram;
  backlogRecords: Gauge<'deadline'>;
  backlogSendSeconds: Gauge<'deadline'>;
  backlogDeadlineSeconds: Gauge<'deadline'>;
}

/** Registers the submitter's metrics on the process registry. */
export function submitterMetrics(m: Metrics): SubmitterMetrics {
  return {
    records: m.counter('records_total', 'Ledger transitions written, by the state reached', [
      'state',
    ]),
    awsLatency: m.histogram(
      'aws_call_seconds',
      'AWS call latency',
      ['operation', 'outcome'],
      LATENCY_BUCKETS,
    ),
    awsErrors: m.counter('aws_errors_total', 'AWS call errors and unprocessed records', [
      'operation',
      'error',
    ]),
    oldestUnsentHourAge: m.gauge(
      'oldest_unsent_hour_age_seconds',
      'Age of the oldest hour frozen but not yet answered by AWS',
    ),
    revenueAtRisk: m.gauge(
      'revenue_at_risk',
      'Quantity × price of unsent records near their AWS deadline',
    ),
    heldRecords: m.gauge(
      'held_records',
      'Records of the owned buckets held for a reason the seller can fix, by reason',
      ['reason'],
    ),
    notifications: m.counter('notifications_total', 'Notices by channel and outcome', [
      'channel',
      'outcome',
    ]),
    runs: m.counter('runs_total', 'Submission runs by outcome', ['outcome']),
    runDuration: m.histogram('run_seconds', 'Duration of a submission run', [], LATENCY_BUCKETS),
    planReloads: m.counter(
      'plan_reloads_total',
      'Changes of MS_PLANS_DIR seen by a run: loaded, or invalid (the previous plans stay in use)',
      ['outcome'],
    ),
    plansInvalid: m.gauge(
      'plans_invalid',
      '1 while MS_PLANS_DIR holds invalid plans and the previous ones are in use, else 0',
    ),
    entitlementSyncs: m.counter(
      'entitlement_syncs_total',
      'GetEntitlements syncs the submitter started for usage held for a missing entitlement, by outcome',
      ['outcome'],
    ),
    ...quotaMetrics(m),
  };
}

/** The request quota (ADR 0008) and the forecast of the unsent backlog against its deadlines. */
function quotaMetrics(
  m: Metrics,
): Pick<
  SubmitterMetrics,
  | 'quotaShare'
  | 'quotaCalls'
  | 'quotaDelayed'
  | 'quotaWait'
  | 'backlogRecords'
  | 'backlogSendSeconds'
  | 'backlogDeadlineSeconds'
> {
  const perDeadline = ['deadline'] as const;
  return {
    quotaShare: m.gauge(
      'quota_share_calls_per_second',
      "This instance's share of the account's BatchMeterUsage quota (MS_SUBMITTER_AWS_RPS × sendable buckets ÷ buckets); +Inf without a limit",
    ),
    quotaCalls: m.counter(
      'quota_calls_total',
      'BatchMeterUsage calls the quota limiter admitted (their rate is the quota used)',
    ),
    quotaDelayed: m.counter(
      'quota_delayed_calls_total',
      'Calls the quota limiter made wait for a token of a later second',
    ),
    quotaWait: m.histogram(
      'quota_wait_seconds',
      'Time a call waited for a quota token',
      [],
      LATENCY_BUCKETS,
    ),
    backlogRecords: m.gauge(
      'backlog_records',
      'Unsent records of the owned buckets (frozen, sending, held but sendable), by deadline kind (hour: 24 h after the hour; month_end: 06:00 UTC on the 1st)',
      perDeadline,
    ),
    backlogSendSeconds: m.gauge(
      'backlog_send_seconds',
      "Seconds needed at this instance's quota share to send every record due by the tightest deadline of the kind (oldest deadline first)",
      perDeadline,
    ),
    backlogDeadlineSeconds: m.gauge(
      'backlog_deadline_seconds',
      'Seconds from now to that tightest deadline; below backlog_send_seconds, the backlog misses it',
      perDeadline,
    ),
  };
}
