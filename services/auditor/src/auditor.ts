import type { Event } from '@aws-sdk/client-cloudtrail';
import { migrate, type ClickHouse, type Topology } from '@meterstream/clickhouse';
import { toMeterstreamError } from '@meterstream/errors';
import type { Logger } from '@meterstream/observability';
import { RateLimiter, sleep } from './limiter.js';
import type { AuditorMetrics } from './metrics.js';
import { LogNotifier, type Notifier } from './notify.js';
import { parseCloudTrailEvent, type CloudTrailRecord } from './parse.js';
import { readCloudTrail, type LookupBy, type LookupEventsApi, type ReadResult } from './reader.js';
import {
  FINDING_KINDS,
  unparseableFinding,
  type Finding,
  type Reconciliation,
} from './reconcile.js';
import { AUDITOR_MIGRATIONS } from './migrations.js';
import { CONSERVATION_KINDS, unexplainedUnits, type Conservation } from './conservation.js';
import {
  AuditStore,
  conserveRange,
  reconcileRange,
  type ConservationRangeOptions,
  type StoredFinding,
} from './store.js';

const HOUR = 3_600_000;
/** LookupEvents keeps 90 days. */
const CLOUDTRAIL_RETENTION_MS = 90 * 24 * HOUR;

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

/** What one run did. */
export interface AuditRunResult {
  /** Whether this run re-read the whole reconciled range. */
  rescan: boolean;
  readFromMs: number;
  readUntilMs: number;
  read: ReadResult;
  newEvents: number;
  duplicateEvents: number;
  unparseableEvents: number;
  reconciliation: Reconciliation;
  /** The conservation audit of the same hours, when configured. */
  conservation?: Conservation;
  newFindings: Finding[];
  openFindings: StoredFinding[];
}

/** Creates or upgrades the auditor's tables. */
export async function migrateAuditor(
  ch: ClickHouse,
  database: string,
  topology: Topology,
  logger?: Logger,
): Promise<void> {
  await migrate(ch, 'auditor', AUDITOR_MIGRATIONS, { database, topology }, logger);
}

const limiters = new WeakMap<AuditorDeps, RateLimiter>();

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
  const log = deps.logger;
  const store = new AuditStore(deps.ch, config.database);
  const limiter = deps.limiter ?? limiters.get(deps) ?? new RateLimiter(config.lookupRatePerSecond);
  limiters.set(deps, limiter);
  const started = now();
  const checkpoint = await store.checkpoint(config.checkpointName);
  const rescanName = `${config.checkpointName}:rescan`;
  const lastRescan = await store.checkpoint(rescanName);
  const rescanEvery = config.rescanEveryMs ?? 0;
  const rescan =
    rescanEvery > 0 && checkpoint !== undefined && started - (lastRescan ?? 0) >= rescanEvery;
  const readUntilMs = started;
  const readFromMs = Math.max(
    started - CLOUDTRAIL_RETENTION_MS,
    checkpoint === undefined
      ? started - config.initialLookbackMs
      : rescan
        ? Math.min(checkpoint - config.deliveryGraceMs, started - config.reconcileLookbackMs)
        : checkpoint - config.deliveryGraceMs,
  );
  let newEvents = 0;
  let duplicateEvents = 0;
  let unparseableEvents = 0;
  const unparseable: Finding[] = [];

  const onPage = async (events: Event[]): Promise<void> => {
    const parsed = events.map((e) =>
      parseCloudTrailEvent(e.CloudTrailEvent ?? '', {
        ...(e.EventId ? { eventId: e.EventId } : {}),
        ...(e.EventTime ? { eventTimeMs: e.EventTime.getTime() } : {}),
      }),
    );
    // Pages of overlapping windows repeat events; a repeated event id adds nothing.
    const known = await store.knownEventIds(parsed.map((p) => p.eventId));
    const seen = new Set<string>();
    const fresh = parsed.filter((p) => {
      if (known.has(p.eventId) || seen.has(p.eventId)) return false;
      seen.add(p.eventId);
      return true;
    });
    duplicateEvents += parsed.length - fresh.length;
    deps.metrics?.events.inc({ result: 'duplicate' }, parsed.length - fresh.length);
    const rows = fresh.map((p) => {
      const records: CloudTrailRecord[] = p.kind === 'metering' ? p.records : [];
      if (p.kind === 'unparseable') {
        unparseableEvents += 1;
        log.warn({ eventId: p.eventId, reason: p.reason }, 'unparseable CloudTrail event');
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
    newEvents += rows.length;
    if (unparseable.length > 0) await persistFindings(store, [...unparseable], now(), deps, []);
    unparseable.length = 0;
    await store.storeEvents(rows, now());
  };

  const read = await readCloudTrail({
    api: deps.cloudTrail,
    limiter,
    startMs: readFromMs,
    endMs: readUntilMs,
    pageSize: config.pageSize,
    lookupBy: config.lookupBy,
    maxRetries: config.maxRetries,
    ...(config.backoffMs !== undefined ? { backoffMs: config.backoffMs } : {}),
    ...(deps.signal ? { signal: deps.signal } : {}),
    onPage,
    onRequest: (outcome) => deps.metrics?.lookups.inc({ outcome }),
  });
  await store.saveCheckpoint(config.checkpointName, readUntilMs, now());
  if (rescan || (rescanEvery > 0 && lastRescan === undefined)) {
    await store.saveCheckpoint(rescanName, started, now());
  }

  const fromMs = Math.floor((readUntilMs - config.reconcileLookbackMs) / HOUR) * HOUR;
  const toMs = Math.floor(readUntilMs / HOUR) * HOUR + 2 * HOUR;
  const reconciliation = await reconcileRange(store, fromMs, toMs, {
    readUntilMs,
    graceMs: config.deliveryGraceMs,
  });
  // A conservation check that cannot run (the aggregator's tables not there yet, a slow query)
  // must not stop the CloudTrail audit; it is logged and counted, and its findings stay as they are.
  let conservation: Conservation | undefined;
  let conservationFailed = false;
  if (config.conservation) {
    try {
      conservation = await conserveRange(store, fromMs, toMs, {
        ...config.conservation,
        nowMs: now(),
      });
    } catch (err) {
      const e = toMeterstreamError(err);
      if (e.code === 'SHUTTING_DOWN') throw e;
      conservationFailed = true;
      deps.metrics?.conservationFailures.inc();
      log.warn({ err: e }, 'conservation audit failed; retrying next run');
    }
  }
  const newFindings = await persistFindings(
    store,
    [...reconciliation.findings, ...(conservation?.findings ?? [])],
    now(),
    deps,
    [fromMs, toMs],
    conservationFailed ? new Set<string>(CONSERVATION_KINDS) : new Set<string>(),
  );
  await notifyPending(store, deps, now());

  const open = await store.findings({ status: 'open' });
  if (deps.metrics) {
    const m = deps.metrics;
    const counts = await store.openCounts();
    for (const k of FINDING_KINDS) m.findingsOpen.set({ kind: k }, counts.get(k) ?? 0);
    for (const [o, n] of Object.entries(reconciliation.outcomes)) m.keys.set({ outcome: o }, n);
    m.keys.set({ outcome: 'finding' }, reconciliation.findings.length);
    const units = unexplainedUnits(reconciliation, conservation);
    for (const [stage, n] of Object.entries(units)) {
      // A failed conservation check leaves its stages as the last run saw them.
      if (conservationFailed && stage !== 'ledger_cloudtrail') continue;
      m.unexplainedUnits.set({ stage }, n);
    }
    m.lastSuccess.set(now() / 1000);
    m.progress.readUntilMs = readUntilMs;
  }
  log.info(
    {
      readFrom: new Date(readFromMs).toISOString(),
      readUntil: new Date(readUntilMs).toISOString(),
      requests: read.requests,
      throttled: read.throttled,
      newEvents,
      duplicateEvents,
      ...reconciliation.outcomes,
      findings: reconciliation.findings.length,
      ...(conservation ? { conservationFindings: conservation.findings.length } : {}),
      newFindings: newFindings.length,
    },
    'audit run done',
  );
  return {
    rescan,
    readFromMs,
    readUntilMs,
    read,
    newEvents,
    duplicateEvents,
    unparseableEvents,
    reconciliation,
    ...(conservation ? { conservation } : {}),
    newFindings,
    openFindings: open,
  };
}

/**
 * Stores findings not stored before (or reopened), and marks stored open findings of the
 * reconciled range that are no longer found as resolved. Returns the new ones.
 */
async function persistFindings(
  store: AuditStore,
  findings: readonly Finding[],
  nowMs: number,
  deps: AuditorDeps,
  range: [number, number] | [],
  /** Kinds this run did not check: their open findings are neither confirmed nor resolved. */
  unchecked: ReadonlySet<string> = new Set(),
): Promise<Finding[]> {
  const existing = new Map(
    (await store.findings({ ids: findings.map((f) => f.id) })).map((f) => [f.id, f]),
  );
  const writes: StoredFinding[] = [];
  const fresh: Finding[] = [];
  for (const f of findings) {
    const old = existing.get(f.id);
    if (old && old.status !== 'resolved') continue;
    if (!old) {
      fresh.push(f);
      deps.metrics?.findingsNew.inc({ kind: f.kind });
    }
    writes.push({
      ...f,
      status: 'open',
      note: old?.note ?? '',
      notified: old?.notified ?? false,
      notifiedChannels: old?.notifiedChannels ?? [],
      firstSeenMs: old?.firstSeenMs ?? nowMs,
      updatedMs: nowMs,
    });
  }
  if (range.length === 2) {
    const current = new Set(findings.map((f) => f.id));
    for (const old of await store.findings({ fromMs: range[0], toMs: range[1] })) {
      if (
        old.status === 'open' &&
        old.kind !== 'unparseable_event' &&
        !unchecked.has(old.kind) &&
        !current.has(old.id)
      ) {
        deps.logger.info(
          { findingId: old.id, kind: old.kind },
          'finding no longer holds; resolved',
        );
        writes.push({ ...old, status: 'resolved', updatedMs: nowMs });
      }
    }
  }
  await store.writeFindings(writes, nowMs);
  return fresh;
}

/**
 * Notifies every open finding not yet notified, as one digest per channel. Each channel takes a
 * finding once: a channel that failed is retried next run with only what it has not taken, and a
 * finding is `notified` once every configured channel took it.
 */
async function notifyPending(store: AuditStore, deps: AuditorDeps, nowMs: number): Promise<void> {
  const notifiers = deps.notifiers ?? [new LogNotifier(deps.logger)];
  const pending = await store.findings({ status: 'open', unnotified: true });
  if (pending.length === 0) return;
  const took = new Map(pending.map((f) => [f.id, new Set(f.notifiedChannels)]));
  for (const n of notifiers) {
    const due = pending.filter((f) => !took.get(f.id)?.has(n.name));
    if (due.length === 0) continue;
    try {
      await n.notify(due);
      for (const f of due) took.get(f.id)?.add(n.name);
      deps.metrics?.notifications.inc({ channel: n.name, outcome: 'ok' });
    } catch (err) {
      deps.metrics?.notifications.inc({ channel: n.name, outcome: 'failed' });
      deps.logger.warn(
        { err: toMeterstreamError(err), findings: due.length, channel: n.name },
        'notification failed; retrying next run',
      );
    }
  }
  const changed = pending.filter((f) => (took.get(f.id)?.size ?? 0) > f.notifiedChannels.length);
  await store.writeFindings(
    changed.map((f) => {
      const channels = [...(took.get(f.id) ?? [])].sort();
      return {
        ...f,
        notifiedChannels: channels,
        notified: notifiers.every((n) => channels.includes(n.name)),
      };
    }),
    nowMs,
  );
}

/** A running audit loop. */
export interface RunningAuditor {
  /** Resolves when the loop has stopped; idempotent. */
  close(): Promise<void>;
  /** True once a run has completed successfully. */
  ready(): boolean;
}

/**
 * Runs {@link runAuditOnce} every `intervalMs` until closed. A failed run is logged and counted
 * and retried at the next tick; nothing a run does is lost by a crash (events are deduplicated
 * by id and the checkpoint only advances after a complete read).
 */
export function startAuditor(config: AuditorConfig, deps: AuditorDeps): RunningAuditor {
  const abort = new AbortController();
  const signal = deps.signal ? AbortSignal.any([deps.signal, abort.signal]) : abort.signal;
  const runDeps: AuditorDeps = {
    ...deps,
    signal,
    limiter: deps.limiter ?? new RateLimiter(config.lookupRatePerSecond),
  };
  let succeeded = false;
  const loop = (async () => {
    while (!signal.aborted) {
      const end = deps.metrics?.runDuration.startTimer();
      try {
        await runAuditOnce(config, runDeps);
        succeeded = true;
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
    ready: () => succeeded,
    close: () =>
      (closing ??= (async () => {
        abort.abort();
        await loop;
      })()),
  };
}
