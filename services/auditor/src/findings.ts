import { assertFindingTransition, type FindingStatus } from '@meterstream/contracts';
import { MeterstreamError, toMeterstreamError } from '@meterstream/errors';
import type { Logger } from '@meterstream/observability';
import type { AuditorMetrics } from './metrics.js';
import { LogNotifier, type Notifier } from './notify.js';
import type { Finding } from './reconcile.js';
import type { AuditStore } from './store.js';

/** A finding as stored (table `audit_findings`; its statuses and their transitions are its contract). */
export interface StoredFinding extends Finding {
  status: FindingStatus;
  note: string;
  notified: boolean;
  notifiedChannels: string[];
  firstSeenMs: number;
  updatedMs: number;
}

/**
 * The next version of a finding: `after`, once its status change from `before` (undefined for a
 * finding not stored yet) is checked against the findings' transition table (`FINDING_TRANSITIONS`).
 */
export function nextFinding(
  before: StoredFinding | undefined,
  after: StoredFinding,
): StoredFinding {
  if (before !== undefined && before.id !== after.id)
    throw new MeterstreamError('INTERNAL', 'a finding version must keep its id');
  assertFindingTransition(before?.status, after.status);
  return after;
}

/** What storing and notifying findings needs. */
export interface FindingDeps {
  logger: Logger;
  metrics?: AuditorMetrics | undefined;
  notifiers?: Notifier[] | undefined;
}

/**
 * Stores findings not stored before (or reopened), and marks stored open findings of the
 * reconciled range that are no longer found as resolved. Returns the new ones.
 */
export async function persistFindings(
  store: Pick<AuditStore, 'findings' | 'writeFindings'>,
  findings: readonly Finding[],
  nowMs: number,
  deps: FindingDeps,
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
    writes.push(
      nextFinding(old, {
        ...f,
        status: 'open',
        note: old?.note ?? '',
        notified: old?.notified ?? false,
        notifiedChannels: old?.notifiedChannels ?? [],
        firstSeenMs: old?.firstSeenMs ?? nowMs,
        updatedMs: nowMs,
      }),
    );
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
        writes.push(nextFinding(old, { ...old, status: 'resolved', updatedMs: nowMs }));
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
export async function notifyPending(
  store: Pick<AuditStore, 'findings' | 'writeFindings'>,
  deps: FindingDeps,
  nowMs: number,
): Promise<void> {
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
      const notified = notifiers.every((n) => channels.includes(n.name));
      return nextFinding(f, { ...f, notifiedChannels: channels, notified });
    }),
    nowMs,
  );
}
