import type { Event } from '@aws-sdk/client-cloudtrail';
import type { ClickHouse, Topology } from '@meterstream/clickhouse';
import { FINDING_KINDS } from '@meterstream/contracts';
import { toMeterstreamError } from '@meterstream/errors';
import type { Logger } from '@meterstream/observability';
import { DAY_MS, HOUR_MS, hourStart, sleep } from '@meterstream/runtime';
import { CONSERVATION_KINDS, unexplainedUnits, type Conservation } from './conservation.js';
import { notifyPending, persistFindings, type StoredFinding } from './findings.js';
import { RateLimiter } from './limiter.js';
import type { AuditorMetrics } from './metrics.js';
import type { Notifier } from './notify.js';
import { parseCloudTrailEvent, type CloudTrailRecord } from './parse.js';
import { readCloudTrail, type LookupBy, type LookupEventsApi, type ReadResult } from './reader.js';
import { unparseableFinding, type Finding, type Reconciliation } from './reconcile.js';
import {
  AuditStore,
  conserveRange,
  reconcileRange,
  type ConservationRangeOptions,
} from './store.js';

/** LookupEvents keeps 90 days. */
const CLOUDTRAIL_RETENTION_MS = 90 * DAY_MS;

/** What the audit loop needs to know (from env.ts in production, literal in tests). */
export interface AuditorConfig {
  database: string;
  topology: Topology;
  /** How long CloudTrail may take to deliver an event; also the overlap of consecutive reads. */
  deliveryGraceMs: number;
  /** How far back the very first read starts (no checkpoint yet). */
  initialLookbackMs: number;
  /** Hours reconciled on every run (AWS takes records up to 24 h late; keep some margin). */
  reconcileLookbackMs: number;
  intervalMs: number;
  pageSize: number;
  lookupBy: LookupBy;
  lookupRatePerSecond: number;
  maxRetries: number;
  backoffMs?: number;
  /** Name of the checkpoint row (one per account/region being audited). */
  checkpointName: string;
  /**
   * Every so often re-read the whole reconciled range, so an event CloudTrail delivered later
   * than the grace is still found (and its `missing_in_cloudtrail` resolves). 0 disables.
   */
  rescanEveryMs?: number;
  /**
   * The conservation audit (ADR 0007): events → windows → ledger over the reconciled hours.
   * Unset disables it (tests that write a ledger without usage columns).
   */
  conservation?: Omit<ConservationRangeOptions, 'nowMs' | 'productCode'>;
}

/** Collaborators, injected so tests use fresh databases and an emulator. */
export interface AuditorDeps {
  ch: ClickHouse;
  cloudTrail: LookupEventsApi;
  logger: Logger;
  metrics?: AuditorMetrics;
  notifiers?: Notifier[];
  limiter?: RateLimiter;
  now?: () => number;
  signal?: AbortSignal;
}

/** What one pass over CloudTrail read and stored. */
export interface ReadPass {
  /** Whether this run re-read the whole reconciled range. */
  rescan: boolean;
  readFromMs: number;
  readUntilMs: number;
  read: ReadResult;
  newEvents: number;
  duplicateEvents: number;
  unparseableEvents: number;
}

/** What one run did. */
export interface AuditRunResult extends ReadPass {
  reconciliation: Reconciliation;
  /** The conservation audit of the same hours, when configured. */
  conservation?: Conservation;
  newFindings: Finding[];
  openFindings: StoredFinding[];
}

const limiters = new WeakMap<AuditorDeps, RateLimiter>();

/**
 * Where this pass reads: from the checkpoint minus the delivery grace (so late deliveries are
 * caught) to now; from further back on the very first pass and on a rescan; never beyond what
 * LookupEvents keeps.
 */
function readRange(
  config: AuditorConfig,
  started: number,
  checkpoint: number | undefined,
  rescan: boolean,
): number {
  return Math.max(
    started - CLOUDTRAIL_RETENTION_MS,
    checkpoint === undefined
      ? started - config.initialLookbackMs
      : rescan
        ? Math.min(checkpoint - config.deliveryGraceMs, started - config.reconcileLookbackMs)
        : checkpoint - config.deliveryGraceMs,
  );
}

/**
 * Stores one page of CloudTrail events: each event id once (pages of overlapping windows repeat
 * events), an unparseable one also as a finding. Counts into `pass`.
 */
function pageStorer(
  store: AuditStore,
  deps: AuditorDeps,
  now: () => number,
  pass: ReadPass,
): (events: Event[]) => Promise<void> {
  return async (events) => {
    const parsed = events.map((e) =>
      parseCloudTrailEvent(e.CloudTrailEvent ?? '', {
        ...(e.EventId ? { eventId: e.EventId } : {}),
        ...(e.EventTime ? { eventTimeMs: e.EventTime.getTime() } : {}),
      }),
    );
    const known = await store.knownEventIds(parsed.map((p) => p.eventId));
    const seen = new Set<string>();
    const fresh = parsed.filter((p) => {
      if (known.has(p.eventId) || seen.has(p.eventId)) return false;
      seen.add(p.eventId);
      return true;
    });
    pass.duplicateEvents += parsed.length - fresh.length;
    deps.metrics?.events.inc({ result: 'duplicate' }, parsed.length - fresh.length);
    const unparseable: Finding[] = [];
    const rows = fresh.map((p) => {
      const records: CloudTrailRecord[] = p.kind === 'metering' ? p.records : [];
      if (p.kind === 'unparseable') {
        pass.unparseableEvents += 1;
        deps.logger.warn({ eventId: p.eventId, reason: p.reason }, 'unparseable CloudTrail event');
        unparseable.push(unparseableFinding(p.eventId, p.eventTimeMs, p.reason, p.raw));
      }
      deps.metrics?.events.inc({ result: p.kind === 'metering' ? 'new' : p.kind });
      deps.metrics?.deliveryDelay.observe(Math.max(0, (now() - p.eventTimeMs) / 1000));
      return {
        eventId: p.eventId,
        eventName: p.kind === 'unparseable' ? '' : p.eventName,
        eventTimeMs: p.eventTimeMs,
        parseStatus: p.kind,
        records,
      };
    });
    pass.newEvents += rows.length;
    if (unparseable.length > 0) await persistFindings(store, unparseable, now(), deps, []);
    await store.storeEvents(rows, now());
  };
}

/**
 * Reads CloudTrail from the checkpoint to now, stores new events once, and advances the
 * checkpoint (only after a complete read).
 */
async function readPass(
  config: AuditorConfig,
  deps: AuditorDeps,
  store: AuditStore,
  limiter: RateLimiter,
): Promise<ReadPass> {
  const now = deps.now ?? Date.now;
  const started = now();
  const checkpoint = await store.checkpoint(config.checkpointName);
  const rescanName = `${config.checkpointName}:rescan`;
  const lastRescan = await store.checkpoint(rescanName);
  const rescanEvery = config.rescanEveryMs ?? 0;
  const rescan =
    rescanEvery > 0 && checkpoint !== undefined && started - (lastRescan ?? 0) >= rescanEvery;
  const pass: ReadPass = {
    rescan,
    readFromMs: readRange(config, started, checkpoint, rescan),
    readUntilMs: started,
    read: { pages: 0, events: 0, requests: 0, throttled: 0 },
    newEvents: 0,
    duplicateEvents: 0,
    unparseableEvents: 0,
  };
  pass.read = await readCloudTrail({
    api: deps.cloudTrail,
    limiter,
    startMs: pass.readFromMs,
    endMs: pass.readUntilMs,
    pageSize: config.pageSize,
    lookupBy: config.lookupBy,
    maxRetries: config.maxRetries,
    ...(config.backoffMs !== undefined ? { backoffMs: config.backoffMs } : {}),
    ...(deps.signal ? { signal: deps.signal } : {}),
    onPage: pageStorer(store, deps, now, pass),
    onRequest: (outcome) => deps.metrics?.lookups.inc({ outcome }),
  });
  await store.saveCheckpoint(config.checkpointName, pass.readUntilMs, now());
  if (rescan || (rescanEvery > 0 && lastRescan === undefined)) {
    await store.saveCheckpoint(rescanName, started, now());
  }
  return pass;
}

/**
 * The conservation audit of [fromMs, toMs), when configured. One that cannot run (the
 * aggregator's tables not there yet, a slow query) must not stop the CloudTrail audit; it is
 * logged and counted (`failed`), and its findings stay as they are.
 */
async function tryConserve(
  config: AuditorConfig,
  deps: AuditorDeps,
  store: AuditStore,
  [fromMs, toMs]: [number, number],
): Promise<{ conservation?: Conservation; failed: boolean }> {
  if (!config.conservation) return { failed: false };
  try {
    const nowMs = (deps.now ?? Date.now)();
    const conservation = await conserveRange(store, fromMs, toMs, {
      ...config.conservation,
      nowMs,
    });
    return { conservation, failed: false };
  } catch (err) {
    const e = toMeterstreamError(err);
    if (e.code === 'SHUTTING_DOWN') throw e;
    deps.metrics?.conservationFailures.inc();
    deps.logger.warn({ err: e }, 'conservation audit failed; retrying next run');
    return { failed: true };
  }
}

/** The gauges of a finished run. */
async function recordRunMetrics(
  m: AuditorMetrics,
  store: AuditStore,
  run: { reconciliation: Reconciliation; conservation?: Conservation; conservationFailed: boolean },
  readUntilMs: number,
  nowMs: number,
): Promise<void> {
  const counts = await store.openCounts();
  for (const k of FINDING_KINDS) m.findingsOpen.set({ kind: k }, counts.get(k) ?? 0);
  for (const [o, n] of Object.entries(run.reconciliation.outcomes)) m.keys.set({ outcome: o }, n);
  m.keys.set({ outcome: 'finding' }, run.reconciliation.findings.length);
  const units = unexplainedUnits(run.reconciliation, run.conservation);
  for (const [stage, n] of Object.entries(units)) {
    // A failed conservation check leaves its stages as the last run saw them.
    if (run.conservationFailed && stage !== 'ledger_cloudtrail') continue;
    m.unexplainedUnits.set({ stage }, n);
  }
  m.lastSuccess.set(nowMs / 1000);
  m.progress.readUntilMs = readUntilMs;
}

/**
 * One audit pass: read CloudTrail from the checkpoint (minus the delivery grace, so late
 * deliveries are caught) to now, store new events once, advance the checkpoint, reconcile the
 * recent hours against the ledger, store new findings and notify each once.
 */
export async function runAuditOnce(
  config: AuditorConfig,
  deps: AuditorDeps,
): Promise<AuditRunResult> {
  const now = deps.now ?? Date.now;
  const store = new AuditStore(deps.ch, config.database);
  const limiter = deps.limiter ?? limiters.get(deps) ?? new RateLimiter(config.lookupRatePerSecond);
  limiters.set(deps, limiter);
  const pass = await readPass(config, deps, store, limiter);
  const { readUntilMs } = pass;
  const range: [number, number] = [
    hourStart(readUntilMs - config.reconcileLookbackMs),
    hourStart(readUntilMs) + 2 * HOUR_MS,
  ];
  const reconciliation = await reconcileRange(store, range[0], range[1], {
    readUntilMs,
    graceMs: config.deliveryGraceMs,
  });
  const { conservation, failed: conservationFailed } = await tryConserve(
    config,
    deps,
    store,
    range,
  );
  const newFindings = await persistFindings(
    store,
    [...reconciliation.findings, ...(conservation?.findings ?? [])],
    now(),
    deps,
    range,
    conservationFailed ? new Set<string>(CONSERVATION_KINDS) : new Set<string>(),
  );
  await notifyPending(store, deps, now());
  const open = await store.findings({ status: 'open' });
  if (deps.metrics) {
    const run = { reconciliation, conservationFailed, ...(conservation ? { conservation } : {}) };
    await recordRunMetrics(deps.metrics, store, run, readUntilMs, now());
  }
  deps.logger.info(
    {
      readFrom: new Date(pass.readFromMs).toISOString(),
      readUntil: new Date(readUntilMs).toISOString(),
      requests: pass.read.requests,
      throttled: pass.read.throttled,
      newEvents: pass.newEvents,
      duplicateEvents: pass.duplicateEvents,
      ...reconciliation.outcomes,
      findings: reconciliation.findings.length,
      ...(conservation ? { conservationFindings: conservation.findings.length } : {}),
      newFindings: newFindings.length,
    },
    'audit run done',
  );
  return {
    ...pass,
    reconciliation,
    ...(conservation ? { conservation } : {}),
    newFindings,
    openFindings: open,
  };
}

/** A running audit loop. */
export interface AuditLoop {
  /** Resolves when the loop has stopped; idempotent. */
  close(): Promise<void>;
  /** True once a run has completed successfully. */
  succeeded(): boolean;
  /** Resolves when the first run has completed successfully. */
  firstSuccess: Promise<void>;
}

/**
 * Runs {@link runAuditOnce} every `intervalMs` until closed. A failed run is logged and counted
 * and retried at the next tick; nothing a run does is lost by a crash (events are deduplicated
 * by id and the checkpoint only advances after a complete read).
 */
export function runAuditLoop(config: AuditorConfig, deps: AuditorDeps): AuditLoop {
  const abort = new AbortController();
  const signal = deps.signal ? AbortSignal.any([deps.signal, abort.signal]) : abort.signal;
  const runDeps: AuditorDeps = {
    ...deps,
    signal,
    limiter: deps.limiter ?? new RateLimiter(config.lookupRatePerSecond),
  };
  let succeeded = false;
  let onSuccess: () => void = () => undefined;
  const firstSuccess = new Promise<void>((resolve) => (onSuccess = resolve));
  const loop = (async () => {
    while (!signal.aborted) {
      const end = deps.metrics?.runDuration.startTimer();
      try {
        await runAuditOnce(config, runDeps);
        succeeded = true;
        onSuccess();
        deps.metrics?.runs.inc({ outcome: 'ok' });
      } catch (err) {
        const e = toMeterstreamError(err);
        if (signal.aborted && e.code === 'SHUTTING_DOWN') break;
        deps.metrics?.runs.inc({ outcome: 'failed' });
        deps.logger.error({ err: e }, 'audit run failed; retrying at the next tick');
      } finally {
        end?.();
      }
      await sleep(config.intervalMs, signal);
    }
  })();
  let closing: Promise<void> | undefined;
  return {
    succeeded: () => succeeded,
    firstSuccess,
    close: () =>
      (closing ??= (async () => {
        abort.abort();
        await loop;
      })()),
  };
}
