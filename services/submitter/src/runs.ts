import { randomBytes } from 'node:crypto';
import type { MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';
import { toMeterstreamError } from '@meterstream/errors';
import type { Logger } from '@meterstream/observability';
import type { PlanCatalog } from '@meterstream/plans';
import { HOUR_MS, MINUTE_MS, hourStart } from '@meterstream/runtime';
import type { SubmitterEnv } from './env.js';
import {
  OPEN_STATES,
  heldReasonOf,
  isTerminal,
  recordKey,
  type LedgerRecord,
  type VersionClock,
} from './ledger.js';
import type { SubmitterMetrics } from './metrics.js';
import type { CallLimiter } from './limiter.js';
import type { Notifier } from './notify.js';
import type { Ownership } from './ownership.js';
import { freeze, type FreezeResult } from './planner.js';
import { sendOpen } from './sender.js';
import type { Store } from './store.js';

/** A submission run as the control API reports it. */
export interface RunInfo {
  id: string;
  trigger: 'tick' | 'api';
  status: 'queued' | 'running' | 'done' | 'failed';
  startedAt?: string;
  finishedAt?: string;
  frozen?: number;
  deferred?: number;
  finished?: number;
  error?: string;
}

/** What a submission run works with. */
export interface RunContext {
  config: SubmitterEnv;
  store: Store;
  client: MarketplaceMeteringClient;
  ownership: Ownership;
  clock: VersionClock;
  metrics: SubmitterMetrics;
  logger: Logger;
  notifier: Notifier;
  instanceId: string;
  now: () => number;
  /** The plans in force now (re-read when their files change). */
  plans: () => Promise<PlanCatalog>;
  /** Syncs the entitlements of contract products with held usage; returns the terms written. */
  syncMissing: (products: readonly string[], runId: string) => Promise<number>;
  /** True once the submitter is closing. */
  stopping: () => boolean;
  /** The account's request quota (ADR 0008), shared by every run of this instance. */
  limiter?: CallLimiter;
}

/**
 * Freezes, then (after a sync that brought terms) freezes again so the same run plans what it
 * just held (ADR 0006); the records of both passes, the latest version of each.
 */
async function freezeAndSync(
  ctx: RunContext,
  runId: string,
  plans: PlanCatalog,
  owned: number[],
  at: number,
): Promise<FreezeResult> {
  const { config } = ctx;
  const freezeNow = (): Promise<FreezeResult> =>
    freeze(
      {
        store: ctx.store,
        plans,
        clock: ctx.clock,
        usagePartitions: config.MS_USAGE_TOPIC_PARTITIONS,
        workPartitions: config.MS_SUBMITTER_WORK_PARTITIONS,
        owned,
        lookbackHours: config.MS_SUBMITTER_LOOKBACK_HOURS,
        runId,
        instanceId: ctx.instanceId,
      },
      at,
    );
  const f = await freezeNow();
  if (f.missingEntitlements.length === 0) return f;
  if ((await ctx.syncMissing(f.missingEntitlements, runId)) === 0) return f;
  const g = await freezeNow();
  const latest = new Map<string, LedgerRecord>();
  for (const r of [...f.frozen, ...g.frozen]) latest.set(recordKey(r), r);
  return { ...g, frozen: [...latest.values()], deferred: g.deferred };
}

/** Sends every open record of the owned buckets; returns the records the sends changed. */
async function sendOwned(
  ctx: RunContext,
  runId: string,
  plans: PlanCatalog,
  owned: number[],
  at: number,
): Promise<{ open: LedgerRecord[]; finished: LedgerRecord[] }> {
  const { config } = ctx;
  const fromHour = hourStart(at) - config.MS_SUBMITTER_LOOKBACK_HOURS * HOUR_MS;
  const open = owned.length > 0 ? await ctx.store.ledgerByState(OPEN_STATES, fromHour, owned) : [];
  const finished = await sendOpen(
    {
      config: {
        batchSize: config.MS_SUBMITTER_BATCH_SIZE,
        waveSize: config.MS_SUBMITTER_WAVE_SIZE,
        concurrency: config.MS_SUBMITTER_CONCURRENCY,
        maxAttemptsPerRun: config.MS_SUBMITTER_MAX_ATTEMPTS_PER_RUN,
        backoffBaseMs: config.MS_SUBMITTER_BACKOFF_BASE_MS,
        backoffMaxMs: config.MS_SUBMITTER_BACKOFF_MAX_MS,
        deadlineAlertMs: config.MS_SUBMITTER_DEADLINE_ALERT_MINUTES * MINUTE_MS,
      },
      store: ctx.store,
      client: ctx.client,
      plans,
      ownership: ctx.ownership,
      clock: ctx.clock,
      metrics: ctx.metrics,
      logger: ctx.logger,
      runId,
      instanceId: ctx.instanceId,
      stopping: ctx.stopping,
      limiter: ctx.limiter,
    },
    open,
    at,
  );
  return { open, finished };
}

/**
 * The records to tell the seller about: those that ended, and those held now that were not held
 * for the same reason before. Held records are told once, when they become held (or held for
 * another reason): a record held by an account-level AWS error is sent and held again every run.
 */
function noticesOf(
  frozen: readonly LedgerRecord[],
  open: readonly LedgerRecord[],
  finished: readonly LedgerRecord[],
): { terminal: LedgerRecord[]; notices: LedgerRecord[] } {
  const terminal = finished.filter((r) => isTerminal(r.state));
  const heldBefore = new Map(
    open.filter((r) => r.state === 'held').map((r) => [recordKey(r), heldReasonOf(r.reason)]),
  );
  const newlyHeld = [
    ...frozen.filter((r) => r.state === 'held'),
    ...finished.filter(
      (r) => r.state === 'held' && heldBefore.get(recordKey(r)) !== heldReasonOf(r.reason),
    ),
  ];
  return { terminal, notices: [...terminal, ...newlyHeld] };
}

/** One submission run: freeze, send, notify. A failure is logged and counted, never thrown. */
export async function executeRun(ctx: RunContext, info: RunInfo): Promise<RunInfo> {
  const { metrics: m, logger } = ctx;
  const started = performance.now();
  info.status = 'running';
  info.startedAt = new Date(ctx.now()).toISOString();
  try {
    // A plan fix (a dimension added, a plan created) applies from this run on: held records
    // `no_plan` / `dimension_not_in_plan` are sent without a restart (ADR 0006).
    const plans = await ctx.plans();
    const owned = ctx.ownership.sendable();
    const at = ctx.now();
    const f = await freezeAndSync(ctx, info.id, plans, owned, at);
    m.records.inc({ state: 'frozen' }, f.frozen.length);
    logger.debug(
      {
        runId: info.id,
        frozen: f.frozen.length,
        freezeMs: Math.round(performance.now() - started),
      },
      'freeze done',
    );
    const { open, finished } = await sendOwned(ctx, info.id, plans, owned, at);
    const { terminal, notices } = noticesOf(f.frozen, open, finished);
    ctx.notifier.notify(info.id, notices, (code) => plans.resolveProduct(code));
    info.frozen = f.frozen.length;
    info.deferred = f.deferred;
    info.finished = terminal.length;
    info.status = 'done';
    m.runs.inc({ outcome: 'ok' });
    if (f.frozen.length > 0 || finished.length > 0) {
      const counts = { frozen: f.frozen.length, sent: finished.length, terminal: terminal.length };
      logger.info({ runId: info.id, ...counts }, 'run done');
    }
  } catch (err) {
    const e = toMeterstreamError(err);
    info.status = 'failed';
    info.error = e.message;
    m.runs.inc({ outcome: 'failed' });
    logger.error({ err: e.toJSON(), runId: info.id }, 'run failed');
  } finally {
    info.finishedAt = new Date(ctx.now()).toISOString();
    m.runDuration.observe((performance.now() - started) / 1000);
  }
  return info;
}

/**
 * Runs, one at a time in the order they were asked for (ticks and the control API), and the last
 * 500 of them for the control API to report.
 */
export class RunQueue {
  private readonly runs = new Map<string, RunInfo>();
  private seq = 0;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly instanceId: string,
    private readonly now: () => number,
    private readonly execute: (info: RunInfo) => Promise<RunInfo>,
  ) {}

  /** Queues a run; `done` resolves with its report. */
  schedule(trigger: RunInfo['trigger']): { info: RunInfo; done: Promise<RunInfo> } {
    const info: RunInfo = {
      id: `${this.instanceId}-${this.now().toString(36)}-${++this.seq}-${randomBytes(2).toString('hex')}`,
      trigger,
      status: 'queued',
    };
    this.runs.set(info.id, info);
    if (this.runs.size > 500) this.runs.delete(this.runs.keys().next().value as string);
    const done = this.chain.then(() => this.execute(info));
    this.chain = done.catch(() => undefined);
    return { info, done };
  }

  /** A run asked for recently, by id. */
  get(id: string): RunInfo | undefined {
    return this.runs.get(id);
  }

  /** Resolves when every run asked for so far has ended. */
  async idle(): Promise<void> {
    await this.chain;
  }
}
