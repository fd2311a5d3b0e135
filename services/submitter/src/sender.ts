import type { MarketplaceMeteringClient, UsageRecord } from '@aws-sdk/client-marketplace-metering';
import type { PlanCatalog } from '@meterstream/plans';
import type { Logger } from '@meterstream/observability';
import { backoffDelay, sleep as sleepFor } from '@meterstream/runtime';
import { batchMeterUsage, failureOf, type CallFailure, type CallOutcome } from './aws.js';
import {
  HELD_REASONS,
  PLANNER_HELD_REASONS,
  heldReason,
  heldReasonOf,
  recordKey,
  transition,
  type HeldReason,
  type LedgerRecord,
  type LedgerState,
  type VersionClock,
} from './ledger.js';
import { Backlog, forecastBacklog, publishForecast } from './forecast.js';
import { UNLIMITED, type CallLimiter } from './limiter.js';
import type { SubmitterMetrics } from './metrics.js';
import { planDimensionOf } from './planner.js';
import type { Ownership } from './ownership.js';
import type { Store, Subscription } from './store.js';

/** Settings of the sender. */
export interface SenderConfig {
  batchSize: number;
  waveSize: number;
  concurrency: number;
  maxAttemptsPerRun: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  deadlineAlertMs: number;
}

/** Everything the sender needs. */
export interface SenderContext {
  config: SenderConfig;
  store: Store;
  client: MarketplaceMeteringClient;
  plans: PlanCatalog;
  ownership: Ownership;
  clock: VersionClock;
  metrics: SubmitterMetrics;
  logger: Logger;
  runId: string;
  instanceId: string;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** True once the process is shutting down: no new wave or call starts. */
  stopping?: () => boolean;
  /** The request quota every BatchMeterUsage call passes (ADR 0008); none when absent. */
  limiter?: CallLimiter;
}

const limiterOf = (ctx: SenderContext): CallLimiter => ctx.limiter ?? UNLIMITED;

/** One ledger change the sender decided. */
type Outcome = { to: LedgerState; changes: Partial<LedgerRecord> };

/** Our clock may run ahead of AWS's: only expire locally well past the deadline. */
const LOCAL_EXPIRY_GRACE_MS = 15 * 60_000;

function toUsageRecord(r: LedgerRecord): UsageRecord {
  return {
    Timestamp: new Date(r.hour),
    Dimension: r.dimension,
    Quantity: r.quantity,
    ...(r.customerKind === 'account'
      ? { CustomerAWSAccountId: r.customer, ...(r.licenseArn ? { LicenseArn: r.licenseArn } : {}) }
      : { CustomerIdentifier: r.customer }),
  };
}

const matchKey = (
  customer: string | undefined,
  dimension: string | undefined,
  ts: Date | undefined,
): string => `${customer ?? ''}|${dimension ?? ''}|${ts ? new Date(ts).getTime() : 0}`;

/** Revenue of a record at the plan's price (an estimate for alerts). */
export function revenueOf(r: LedgerRecord): number {
  const p = Number(r.pricePerUnit);
  return Number.isFinite(p) ? p * r.quantity : 0;
}

/**
 * Sends every open record of the owned buckets: oldest deadline first, batches of ≤ 25 of one
 * product. A wave of records is marked `sending` in one insert before its calls go out; results
 * are written after. A record is always sent exactly as frozen (quantity, hour start as
 * Timestamp), so a crash anywhere only leads to an identical resend, which AWS answers with
 * Success for the first quantity.
 */
export async function sendOpen(
  ctx: SenderContext,
  open: LedgerRecord[],
  nowMs: number,
): Promise<LedgerRecord[]> {
  const { config, metrics } = ctx;
  const final: LedgerRecord[] = [];
  const subs = new Map<string, Subscription>();
  if (open.some((r) => r.customerKind === 'account')) {
    for (const s of await ctx.store.subscriptions()) subs.set(`${s.productCode}|${s.customer}`, s);
  }
  const { local, toSend } = triage(ctx, open, subs, nowMs);
  if (local.length > 0) {
    await ctx.store.writeLedger(local);
    final.push(...local);
    // Counted like the results of a call, so the alerts on records_total see local endings too.
    for (const r of local) metrics.records.inc({ state: r.state });
  }
  watchDeadlines(ctx, toSend, nowMs);
  toSend.sort((a, b) => a.deadline - b.deadline || a.hour - b.hour);
  // The forecast of the unsent backlog at this instance's share of the quota, after every wave.
  const backlog = new Backlog(toSend);
  const forecast = (at: number): void => {
    const share = limiterOf(ctx).share();
    metrics.quotaShare.set(share);
    publishForecast(metrics, forecastBacklog(backlog.groups(), at, share, config.batchSize));
  };
  forecast(nowMs);
  for (let i = 0; i < toSend.length; i += config.waveSize) {
    if (ctx.stopping?.()) break;
    const slice = toSend.slice(i, i + config.waveSize);
    const wave = slice.filter((r) => ctx.ownership.maySend(r.workPartition));
    if (wave.length > 0) final.push(...(await sendWave(ctx, wave)));
    backlog.remove(slice);
    forecast(ctx.clock.nowMs());
  }
  setHeldGauge(metrics, open, final);
  return final;
}

/**
 * Sorts the open records: `local` are the changes decided without AWS (expired past the deadline,
 * held for what we know locally), `toSend` the records to send now.
 */
function triage(
  ctx: SenderContext,
  open: readonly LedgerRecord[],
  subs: ReadonlyMap<string, Subscription>,
  nowMs: number,
): { local: LedgerRecord[]; toSend: LedgerRecord[] } {
  const local: LedgerRecord[] = [];
  const toSend: LedgerRecord[] = [];
  for (const r of open) {
    if (nowMs >= r.deadline + LOCAL_EXPIRY_GRACE_MS) {
      const held = r.state === 'held' ? `; it was held: ${r.reason}` : '';
      const reason = `past the AWS deadline ${new Date(r.deadline).toISOString()}${held}`;
      local.push(transition(r, 'expired', { reason }, ctx.clock));
      continue;
    }
    // Only a record that never left us may be held for what we know locally: one that was sent
    // (attempts > 0) may be billed already, and invariant 3 says every retry sends it again,
    // identically, whatever changed in the plans or the registry since.
    const block = r.attempts === 0 ? blockedBy(r, ctx.plans, subs) : undefined;
    if (block) {
      // Unchanged holds write nothing: a held record is re-evaluated every run, and a new version
      // per run would only grow the ledger.
      if (r.state !== 'held' || heldReasonOf(r.reason) !== block.code) {
        local.push(
          transition(r, 'held', { reason: heldReason(block.code, block.message) }, ctx.clock),
        );
      }
      continue;
    }
    // AWS refused this license; until the registry has another one, a call would only be refused
    // again. It stays held (until its deadline) and goes the run after a subscription sync.
    const registry = subs.get(`${r.productCode}|${r.customer}`)?.licenseArn;
    if (
      r.state === 'held' &&
      heldReasonOf(r.reason) === 'aws_invalid_license' &&
      (registry === undefined || registry === r.licenseArn)
    )
      continue;
    toSend.push(withCurrentLicense(r, subs));
  }
  return { local, toSend };
}

/** Near-deadline alerts, revenue at risk and the age of the oldest unsent hour. */
function watchDeadlines(ctx: SenderContext, toSend: readonly LedgerRecord[], nowMs: number): void {
  let atRisk = 0;
  let oldest = 0;
  for (const r of toSend) {
    oldest = Math.max(oldest, nowMs - r.hour);
    if (r.deadline - nowMs <= ctx.config.deadlineAlertMs) {
      atRisk += revenueOf(r);
      ctx.logger.warn(
        {
          product: r.productCode,
          dimension: r.dimension,
          hour: new Date(r.hour).toISOString(),
          deadline: new Date(r.deadline).toISOString(),
          quantity: r.quantity,
        },
        'record near its AWS deadline',
      );
    }
  }
  ctx.metrics.revenueAtRisk.set(atRisk);
  ctx.metrics.oldestUnsentHourAge.set(oldest / 1000);
}

/** Why a record cannot be sent now, from what we know without asking AWS; undefined: send it. */
function blockedBy(
  r: LedgerRecord,
  plans: PlanCatalog,
  subs: ReadonlyMap<string, Subscription>,
): { code: HeldReason; message: string } | undefined {
  // Nothing can fix an oversized hour (ADR 0006); it stays held until its deadline. A record held
  // for a missing entitlement has no quantity yet: only the planner, once the contract term is
  // known, freezes it (held → frozen); the sender never sends it as it is.
  const planned = r.state === 'held' ? heldReasonOf(r.reason) : undefined;
  if (planned && PLANNER_HELD_REASONS.includes(planned)) {
    return { code: planned, message: r.reason.slice(r.reason.indexOf(':') + 2) };
  }
  if (!plans.resolveProduct(r.productCode)) {
    return {
      code: 'no_plan',
      message: `no metering plan for product ${r.productCode}; add one and the record is sent`,
    };
  }
  // Late usage carried into a later hour happened while the plan of its own hour was in force: a
  // dimension that version had is sendable, even when the version of the billing hour dropped it
  // (issue 13, item 6; ADR 0006). AWS meters the listing's dimension, the plan only prices it.
  if (!planDimensionOf(plans, r)) {
    const origin =
      r.usageFromHour < r.hour
        ? ` or at ${new Date(r.usageFromHour).toISOString()}, where its usage began`
        : '';
    return {
      code: 'dimension_not_in_plan',
      message: `dimension ${r.dimension} is not in the plan of ${r.productCode} in force at ${new Date(r.hour).toISOString()}${origin}`,
    };
  }
  // An account-style customer needs its license from the registry: sent without one, AWS answers
  // InvalidLicenseException and nothing could ever bill the hour (issue 13, item 4).
  if (r.customerKind === 'account' && !subs.has(`${r.productCode}|${r.customer}`)) {
    return {
      code: 'unknown_subscription',
      message: `AWS account ${r.customer} is not in the subscriptions of ${r.productCode}; sync or register it and the record is sent`,
    };
  }
  return undefined;
}

/**
 * The record with the license its subscription has now, when changing it cannot create a second
 * billed record: AWS de-duplicates per account + license + dimension + hour, so the license of a
 * record that may already have reached AWS stays as it was. Only records never sent (attempts 0,
 * e.g. held for an unknown subscription) take the new one.
 */
function withCurrentLicense(
  r: LedgerRecord,
  subs: ReadonlyMap<string, Subscription>,
): LedgerRecord {
  if (r.customerKind !== 'account') return r;
  const arn = subs.get(`${r.productCode}|${r.customer}`)?.licenseArn ?? '';
  if (!arn || arn === r.licenseArn) return r;
  if (r.attempts > 0 && !licenseRefusedOnFirstCall(r)) return r;
  return { ...r, licenseArn: arn };
}

/**
 * AWS answered InvalidLicenseException to the record's only call: nothing can be billed under a
 * license AWS does not know, so the record may take the registry's new license. After more calls
 * (an earlier one may have timed out after AWS applied it), it keeps its license.
 */
const licenseRefusedOnFirstCall = (r: LedgerRecord): boolean =>
  r.state === 'held' && heldReasonOf(r.reason) === 'aws_invalid_license' && r.attempts === 1;

/** Held reasons AWS gave about one record: it fails any call it is in, so it goes alone. */
const RECORD_SCOPED: ReadonlySet<HeldReason> = new Set([
  'aws_invalid_dimension',
  'aws_invalid_license',
]);

/** Held records of the owned buckets by reason, after this run's changes. */
function setHeldGauge(
  metrics: SubmitterMetrics,
  open: readonly LedgerRecord[],
  final: readonly LedgerRecord[],
): void {
  const latest = new Map<string, LedgerRecord>();
  for (const r of [...open, ...final]) latest.set(recordKey(r), r);
  const counts = new Map<HeldReason, number>(HELD_REASONS.map((x) => [x, 0]));
  for (const r of latest.values()) {
    if (r.state !== 'held') continue;
    const code = heldReasonOf(r.reason);
    if (code) counts.set(code, (counts.get(code) ?? 0) + 1);
  }
  for (const [reason, n] of counts) metrics.heldRecords.set({ reason }, n);
}

async function sendWave(ctx: SenderContext, wave: LedgerRecord[]): Promise<LedgerRecord[]> {
  const { config } = ctx;
  // Group by product, keep deadline order, cut into batches.
  const byProduct = new Map<string, LedgerRecord[]>();
  for (const r of wave) {
    const list = byProduct.get(r.productCode) ?? [];
    list.push(r);
    byProduct.set(r.productCode, list);
  }
  const batches: LedgerRecord[][] = [];
  for (const list of byProduct.values()) {
    // A record AWS refused for its dimension goes alone: it fails the whole call until the listing
    // is fixed, and in a batch of others it would be found again by bisecting on every run.
    const alone = (r: LedgerRecord): boolean => {
      const code = r.state === 'held' ? heldReasonOf(r.reason) : undefined;
      return code !== undefined && RECORD_SCOPED.has(code);
    };
    for (const r of list.filter(alone)) batches.push([r]);
    const rest = list.filter((r) => !alone(r));
    for (let i = 0; i < rest.length; i += config.batchSize)
      batches.push(rest.slice(i, i + config.batchSize));
  }
  batches.sort((a, b) => (a[0]?.deadline ?? 0) - (b[0]?.deadline ?? 0));

  const sending: LedgerRecord[] = [];
  batches.forEach((batch, n) => {
    const batchId = `${ctx.runId}-${n}`;
    for (let j = 0; j < batch.length; j++) {
      const r = batch[j] as LedgerRecord;
      batch[j] = transition(
        r,
        'sending',
        { attempts: r.attempts + 1, batchId, runId: ctx.runId, instanceId: ctx.instanceId },
        ctx.clock,
      );
      sending.push(batch[j] as LedgerRecord);
    }
  });
  // Durable before the first byte goes to AWS: a crash after this resends the same records.
  const t0 = performance.now();
  await ctx.store.writeLedger(sending);
  const t1 = performance.now();
  ctx.metrics.records.inc({ state: 'sending' }, sending.length);

  const results: LedgerRecord[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batches.length && !ctx.stopping?.()) {
      const batch = batches[next++] as LedgerRecord[];
      const outcomes = await sendBatch(ctx, batch);
      for (const r of batch) {
        const o = outcomes.get(r);
        if (o) results.push(transition(r, o.to, o.changes, ctx.clock));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(config.concurrency, batches.length) }, worker));
  const t2 = performance.now();
  await ctx.store.writeLedger(results);
  ctx.logger.debug(
    {
      records: sending.length,
      batches: batches.length,
      markSendingMs: Math.round(t1 - t0),
      callsMs: Math.round(t2 - t1),
      writeResultsMs: Math.round(performance.now() - t2),
    },
    'wave done',
  );
  for (const r of results) {
    ctx.metrics.records.inc({ state: r.state });
    if (r.state === 'duplicate') {
      ctx.logger.error(
        {
          alert: 'duplicate_record',
          product: r.productCode,
          dimension: r.dimension,
          hour: new Date(r.hour).toISOString(),
          quantity: r.quantity,
        },
        'AWS holds another quantity for a key we froze: billing conflict',
      );
    }
  }
  return results;
}

/**
 * Sends one batch until every record has a result or the run's attempts are used up. Returns the
 * outcome per record; a record without one stays `sending` and is retried by the next run.
 */
async function sendBatch(
  ctx: SenderContext,
  batch: LedgerRecord[],
): Promise<Map<LedgerRecord, Outcome>> {
  const { config } = ctx;
  const wait = ctx.sleep ?? sleepFor;
  const outcomes = new Map<LedgerRecord, Outcome>();
  let pending = batch;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt >= config.maxAttemptsPerRun) {
      for (const r of pending) {
        outcomes.set(r, {
          to: 'sending',
          changes: {
            attempts: r.attempts + attempt - 1,
            reason: 'retries of this run used up; the next run resends',
          },
        });
      }
      break;
    }
    if (attempt > 0) {
      const backoff = { baseMs: config.backoffBaseMs, maxMs: config.backoffMaxMs, jitter: 1 };
      await wait(backoffDelay(attempt, ctx.random ? { ...backoff, random: ctx.random } : backoff));
    }
    // Shutting down: leave the rest `sending`; the next process resends them identically.
    if (ctx.stopping?.()) break;
    // Every call waits for a token of the account's quota (ADR 0008), unless the process stops or
    // the buckets are lost meanwhile.
    const owned = (): LedgerRecord[] =>
      pending.filter((r) => ctx.ownership.maySend(r.workPartition));
    const admitted = await limiterOf(ctx).acquire(
      () => ctx.stopping?.() === true || owned().length === 0,
    );
    // Ownership is checked before every call: a lost bucket stops here, the new owner resends.
    const stillOwned = owned();
    if (stillOwned.length < pending.length) pending = stillOwned;
    if (!admitted || pending.length === 0) break;
    pending = await callOnce(ctx, pending, attempt, outcomes);
  }
  return outcomes;
}

/**
 * One BatchMeterUsage call of `pending` (the `attempt`-th of this run): sets the outcome of every
 * record the call decided and returns the records to send again.
 */
async function callOnce(
  ctx: SenderContext,
  pending: LedgerRecord[],
  attempt: number,
  outcomes: Map<LedgerRecord, Outcome>,
): Promise<LedgerRecord[]> {
  const { metrics } = ctx;
  const productCode = pending[0]?.productCode ?? '';
  const started = performance.now();
  const latency = (outcome: 'ok' | 'error'): void =>
    metrics.awsLatency.observe(
      { operation: 'BatchMeterUsage', outcome },
      (performance.now() - started) / 1000,
    );
  let out: CallOutcome;
  try {
    out = await batchMeterUsage(ctx.client, productCode, pending.map(toUsageRecord));
  } catch (err) {
    const f = failureOf(err);
    latency('error');
    metrics.awsErrors.inc({ operation: 'BatchMeterUsage', error: f.awsError });
    if (f.kind === 'retry') return pending;
    await settleFailure(ctx, pending, attempt, f, outcomes);
    return [];
  }
  latency('ok');
  const byKey = new Map(
    pending.map((r) => [matchKey(r.customer, r.dimension, new Date(r.hour)), r]),
  );
  for (const res of out.results) {
    const u = res.UsageRecord;
    const r = byKey.get(
      matchKey(u?.CustomerIdentifier ?? u?.CustomerAWSAccountId, u?.Dimension, u?.Timestamp),
    );
    if (!r) continue;
    byKey.delete(matchKey(r.customer, r.dimension, new Date(r.hour)));
    outcomes.set(r, resultOutcome(r, res.Status, res.MeteringRecordId, r.attempts + attempt));
  }
  if (out.unprocessed.length > 0)
    metrics.awsErrors.inc(
      { operation: 'BatchMeterUsage', error: 'UnprocessedRecords' },
      out.unprocessed.length,
    );
  // Records AWS did not answer for (UnprocessedRecords, or missing) go again.
  return [...byKey.values()];
}

/** The ledger change of AWS's result for one record. */
function resultOutcome(
  r: LedgerRecord,
  status: string | undefined,
  meteringRecordId: string | undefined,
  attempts: number,
): Outcome {
  if (status === 'Success') {
    return {
      to: 'accepted',
      changes: {
        awsStatus: 'Success',
        meteringRecordId: meteringRecordId ?? '',
        attempts,
        reason: '',
      },
    };
  }
  if (status === 'CustomerNotSubscribed') {
    return {
      to: 'not_subscribed',
      changes: {
        awsStatus: 'CustomerNotSubscribed',
        attempts,
        reason: 'AWS: the customer is not subscribed to the product',
      },
    };
  }
  // AWS answers an identical resend with Success; DuplicateRecord means it holds ANOTHER
  // quantity for this key. Ours is frozen and never changes, so this is a conflict.
  return {
    to: 'duplicate',
    changes: {
      awsStatus: String(status ?? 'DuplicateRecord'),
      attempts,
      reason: `AWS holds a different quantity for this key; our frozen quantity ${r.quantity} was not billed (sent ${attempts} time(s))`,
    },
  };
}

/**
 * The outcomes of a call that failed for good: every record held for an account-level cause; a
 * batch split in halves until the culprit of a batch-level rejection is alone; a lone record
 * expired, held or rejected.
 */
async function settleFailure(
  ctx: SenderContext,
  pending: LedgerRecord[],
  attempt: number,
  f: Exclude<CallFailure, { kind: 'retry' }>,
  outcomes: Map<LedgerRecord, Outcome>,
): Promise<void> {
  const message = `AWS ${f.awsError}: ${f.message}`;
  if (f.kind === 'held' && f.scope === 'account') {
    for (const r of pending) {
      outcomes.set(r, {
        to: 'held',
        changes: {
          awsStatus: f.awsError,
          reason: heldReason(f.reason, message),
          attempts: r.attempts + attempt,
        },
      });
    }
    return;
  }
  if (pending.length > 1) {
    // A batch-level rejection names no record: split until the culprit is alone.
    const mid = Math.ceil(pending.length / 2);
    const [left, right] = await Promise.all([
      sendBatch(ctx, pending.slice(0, mid)),
      sendBatch(ctx, pending.slice(mid)),
    ]);
    for (const [r, o] of [...left, ...right]) outcomes.set(r, o);
    return;
  }
  const r = pending[0] as LedgerRecord;
  outcomes.set(r, {
    to: f.kind === 'expired' ? 'expired' : f.kind === 'held' ? 'held' : 'rejected',
    changes: {
      awsStatus: f.awsError,
      reason: f.kind === 'held' ? heldReason(f.reason, message) : message,
      attempts: r.attempts + attempt,
    },
  });
}
