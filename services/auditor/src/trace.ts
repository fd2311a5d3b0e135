import { HOUR_MS } from '@meterstream/runtime';
import type { StoredFinding } from './findings.js';
import type { AuditStore } from './store.js';

/** The lineage of one usage event, link by link (invariant 6). */
export interface Trace {
  eventId: string;
  usageEvent: Record<string, unknown> | null;
  kafka: { partition: number; offset: string } | null;
  window: Record<string, unknown> | null;
  ledger: { latest: Record<string, unknown>; history: Record<string, unknown>[] } | null;
  awsResult: { meteringRecordId: string; status: string } | null;
  cloudTrail: {
    eventId: string;
    eventTime: string;
    status: string;
    quantity: number;
    meteringRecordId: string;
  }[];
  findings: Pick<StoredFinding, 'id' | 'kind' | 'status' | 'detail'>[];
  /** Links that could not be followed, in chain order. */
  missing: string[];
  complete: boolean;
}

/** Follows one usage event: Kafka offset → window → ledger record → AWS result → CloudTrail. */
export async function traceEvent(store: AuditStore, eventId: string): Promise<Trace> {
  const t: Trace = {
    eventId,
    usageEvent: null,
    kafka: null,
    window: null,
    ledger: null,
    awsResult: null,
    cloudTrail: [],
    findings: [],
    missing: [],
    complete: false,
  };
  const ev = await store.usageEvent(eventId);
  if (!ev) {
    t.missing.push('usage_event');
    return t;
  }
  t.usageEvent = ev;
  t.kafka = { partition: Number(ev.kafka_partition), offset: String(ev.kafka_offset) };
  const key = {
    productCode: String(ev.product_code),
    customer: String(ev.customer),
    dimension: String(ev.dimension),
    // Late usage is billed in a later open hour (invariant 4): follow the billing hour.
    hourMs: Number(ev.billing_hour_s) * 1000,
  };
  t.window = (await store.usageWindow(key)) ?? null;
  if (!t.window) t.missing.push('window');
  const history = await store.ledgerHistory(key);
  const latest = history[history.length - 1];
  if (latest) {
    t.ledger = { latest, history };
    if (latest.metering_record_id || latest.aws_status) {
      t.awsResult = {
        meteringRecordId: String(latest.metering_record_id),
        status: String(latest.aws_status),
      };
    } else t.missing.push('aws_result');
  } else {
    t.missing.push('ledger', 'aws_result');
  }
  const records = await store.cloudTrailRecords(key.hourMs, key.hourMs + HOUR_MS, key);
  t.cloudTrail = records.map((r) => ({
    eventId: r.eventId,
    eventTime: new Date(r.eventTimeMs).toISOString(),
    status: r.status,
    quantity: r.quantity,
    meteringRecordId: r.meteringRecordId,
  }));
  if (
    !records.some(
      (r) =>
        r.status === 'Success' ||
        r.status === 'DuplicateRecord' ||
        r.status === 'CustomerNotSubscribed',
    )
  ) {
    t.missing.push('cloudtrail_event');
  }
  t.findings = (await store.findings({ key })).map((f) => ({
    id: f.id,
    kind: f.kind,
    status: f.status,
    detail: f.detail,
  }));
  t.complete = t.missing.length === 0;
  return t;
}

/** A readable rendering of a trace. */
export function formatTrace(t: Trace): string {
  const lines = [`usage event ${t.eventId}`];
  const ok = (b: unknown): string => (b ? '✓' : '✗');
  if (t.usageEvent) {
    const e = t.usageEvent;
    lines.push(
      `  ${ok(t.kafka)} kafka        partition ${t.kafka?.partition} offset ${t.kafka?.offset}`,
      `      key          ${String(e.product_code)} / ${String(e.customer)} / ${String(e.dimension)}, billed in hour ${new Date(Number(e.billing_hour_s) * 1000).toISOString()}`,
    );
  } else lines.push('  ✗ not in usage_events');
  lines.push(
    `  ${ok(t.window)} window       ${t.window ? `quantity_micros ${String(t.window.quantity_micros)}, ${String(t.window.event_count)} events, ${String(t.window.freeze_kind)} freeze` : 'missing'}`,
  );
  lines.push(
    `  ${ok(t.ledger)} ledger       ${t.ledger ? `state ${String(t.ledger.latest.state)}, quantity ${String(t.ledger.latest.quantity)}, ${t.ledger.history.length} version(s)` : 'missing'}`,
  );
  lines.push(
    `  ${ok(t.awsResult)} aws result   ${t.awsResult ? `${t.awsResult.status} ${t.awsResult.meteringRecordId}` : 'missing'}`,
  );
  if (t.cloudTrail.length === 0) lines.push('  ✗ cloudtrail   missing');
  for (const c of t.cloudTrail) {
    lines.push(
      `  ✓ cloudtrail   ${c.eventId} at ${c.eventTime}: ${c.status} quantity ${c.quantity} ${c.meteringRecordId}`,
    );
  }
  for (const f of t.findings) lines.push(`  ! finding      ${f.kind} (${f.status}): ${f.detail}`);
  lines.push(t.complete ? 'chain complete' : `chain incomplete: missing ${t.missing.join(', ')}`);
  return lines.join('\n');
}
