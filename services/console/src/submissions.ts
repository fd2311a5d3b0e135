/** The manual submission flow: preview (validate only), confirm (record, then send once), status. */
import type { Logger } from '@meterstream/observability';
import type { PlanCatalog } from '@meterstream/plans';
import { formatMicros } from '@meterstream/runtime';
import { loadContracts } from './contracts.js';
import type { ConsoleMetrics } from './metrics.js';
import {
  FINAL_STATUSES,
  lineKey,
  recordKey,
  type ConsoleData,
  type Submission,
  type SubmissionGateway,
  type SubmissionLine,
  type SubmissionStatus,
} from './model.js';
import { hourOf, validateLines, type LineError, type PreviewLine } from './validate.js';

/** What {@link SubmissionService} works with. */
export interface SubmissionDeps {
  catalog: PlanCatalog;
  data: ConsoleData;
  gateway: SubmissionGateway;
  metrics: ConsoleMetrics;
  log: Logger;
  now: () => Date;
}

/** Problems with a submission's lines: nothing was recorded or sent. */
export interface Invalid {
  errors: LineError[];
}

/** A confirmed submission's statuses; `created` when this call recorded and sent it. */
export interface Confirmed {
  status: SubmissionStatus;
  created: boolean;
}

/** A preview line as the confirmation dialog shows it (exact decimals as strings). */
export function previewJson(l: PreviewLine) {
  return {
    customer: l.customer,
    buyerName: l.buyerName,
    dimension: l.dimension,
    quantity: l.quantity,
    entitlement: l.entitlementMicros === undefined ? null : formatMicros(l.entitlementMicros),
    used: formatMicros(l.usedMicros),
    overage: formatMicros(l.overageMicros),
  };
}

/** A submission status as the API answers it. */
export function statusJson(s: SubmissionStatus) {
  return { ...s, hour: s.hour.toISOString() };
}

/** Only what is sent of a preview line. */
function submissionLine(l: PreviewLine): SubmissionLine {
  const { customer, customerKind, licenseArn, dimension, quantity, quantityMicros, eventId } = l;
  return { customer, customerKind, licenseArn, dimension, quantity, quantityMicros, eventId };
}

/**
 * Validates, records and sends manual submissions. Confirming is idempotent per submission id:
 * concurrent confirms of one id share one send (a double click sends once), and a confirm of an
 * id already sent by this process only reads its status.
 */
export class SubmissionService {
  private readonly inflight = new Map<string, Promise<Confirmed | Invalid>>();
  /** Submission ids whose send completed in this process. */
  private readonly sent = new Set<string>();

  constructor(private readonly d: SubmissionDeps) {}

  /** Validates lines against the current contracts, plan and ledger (nothing is sent). */
  async prepare(
    productCode: string,
    lines: unknown,
    submissionId: string,
    at: Date,
  ): Promise<{ lines: PreviewLine[]; errors: LineError[] }> {
    const plan = this.d.catalog.resolveProduct(productCode);
    if (!plan) return { lines: [], errors: [{ index: -1, message: 'no such product listing' }] };
    const { subs, ents, usage } = await loadContracts(this.d.data, productCode, at);
    const result = validateLines(lines, {
      plan,
      catalog: this.d.catalog,
      now: at,
      subscriptions: subs,
      entitlements: ents,
      usage,
      eventId: (i) => `console:${submissionId}:${i}`,
    });
    if (result.errors.length > 0) return result;
    // AWS bills the first quantity of an hour; a second manual send in the same hour would be
    // carried to a later hour, so say so now instead of showing the old record's status.
    const hour = hourOf(at);
    const existing = await this.d.data.records(
      result.lines.map((l) => ({
        productCode,
        customer: l.customer,
        dimension: l.dimension,
        hour,
      })),
    );
    const errors: LineError[] = existing.map((r) => ({
      index: result.lines.findIndex(
        (l) => l.customer === r.customer && l.dimension === r.dimension,
      ),
      customer: r.customer,
      dimension: r.dimension,
      message: `already metered for the hour starting ${hour.toISOString().slice(11, 16)} UTC; send again after the hour`,
    }));
    return errors.length > 0 ? { lines: [], errors } : result;
  }

  /** The statuses of a submission's records, as the ledger has them now. */
  async statusOf(s: Submission): Promise<SubmissionStatus> {
    const found = await this.d.data.records(s.lines.map((l) => lineKey(s, l)));
    const byKey = new Map(found.map((r) => [recordKey(r), r]));
    const records = s.lines.map((l) => {
      const r = byKey.get(recordKey(lineKey(s, l)));
      return {
        customer: l.customer,
        dimension: l.dimension,
        quantity: l.quantity,
        status: r?.status ?? ('pending' as const),
        // Only an accepted record is billed with this quantity (a duplicate was billed earlier).
        billedQuantity: r && r.status === 'accepted' ? r.quantity : undefined,
        reason: r?.reason ?? '',
      };
    });
    return {
      submissionId: s.id,
      productCode: s.productCode,
      actor: s.actor,
      hour: s.hour,
      records,
      done: records.every((r) => FINAL_STATUSES.includes(r.status)),
    };
  }

  /**
   * Confirms submission `id` once: a confirm that joins one in flight shares its outcome, with
   * `created` false (so only one caller hears "created").
   */
  async confirmOnce(
    id: string,
    productCode: string,
    actor: string,
    lines: unknown,
  ): Promise<Confirmed | Invalid> {
    const running = this.inflight.get(id);
    if (running) {
      this.d.metrics.submissions.inc({ outcome: 'duplicate' });
      const r = await running;
      return 'errors' in r ? r : { ...r, created: false };
    }
    const pending = this.confirm(id, productCode, actor, lines);
    this.inflight.set(id, pending);
    void pending.then(
      () => this.inflight.delete(id),
      () => this.inflight.delete(id),
    );
    return pending;
  }

  private async confirm(
    id: string,
    productCode: string,
    actor: string,
    lines: unknown,
  ): Promise<Confirmed | Invalid> {
    const existing = await this.d.data.findSubmission(id);
    if (existing) return this.confirmAgain(existing, productCode, actor);
    const at = this.d.now();
    const result = await this.prepare(productCode, lines, id, at);
    if (result.errors.length > 0) {
      this.d.metrics.submissions.inc({ outcome: 'invalid' });
      return { errors: result.errors };
    }
    const submission: Submission = {
      id,
      actor,
      productCode,
      hour: hourOf(at),
      at,
      lines: result.lines.map(submissionLine),
    };
    // Recorded (with its actor) before anything is sent, so every manual send is attributable.
    await this.d.data.recordSubmission(submission);
    await this.d.gateway.send(submission);
    this.sent.add(id);
    this.d.metrics.submissions.inc({ outcome: 'sent' });
    this.d.metrics.submittedRecords.inc(submission.lines.length);
    this.d.log.info(
      { submissionId: id, actor, productCode, lines: submission.lines.length },
      'manual submission sent',
    );
    return { status: await this.statusOf(submission), created: true };
  }

  /** A confirm of a recorded submission: re-sent only when its earlier send did not complete. */
  private async confirmAgain(
    existing: Submission,
    productCode: string,
    actor: string,
  ): Promise<Confirmed | Invalid> {
    if (existing.productCode !== productCode || existing.actor !== actor) {
      return {
        errors: [{ index: -1, message: 'this submission id belongs to another submission' }],
      };
    }
    this.d.metrics.submissions.inc({ outcome: 'duplicate' });
    // Re-sending is safe (same event ids, same freeze); only needed when an earlier send failed.
    if (!this.sent.has(existing.id)) {
      await this.d.gateway.send(existing);
      this.sent.add(existing.id);
    }
    return { status: await this.statusOf(existing), created: false };
  }
}
