import type { CustomerKind, LedgerState } from '@meterstream/contracts';
import {
  lineKey,
  recordKey,
  statusOfLedgerState,
  type AuditFinding,
  type ConsoleData,
  type Entitlement,
  type LedgerFilter,
  type LedgerEntry,
  type RecordKey,
  type RecordStatus,
  type Submission,
  type SubmissionGateway,
  type Subscription,
} from './model.js';

/**
 * In-memory {@link ConsoleData} for unit tests and UI work without the stack. It holds what the
 * other services would have written; tests set it up directly.
 */
export class MemoryData implements ConsoleData {
  subs: Subscription[] = [];
  ents: Entitlement[] = [];
  ledgerRows: LedgerEntry[] = [];
  usage = new Map<string, bigint>();
  findings: AuditFinding[] | undefined = undefined;
  readonly submissions = new Map<string, Submission>();

  async subscriptions(productCode?: string): Promise<Subscription[]> {
    return this.subs.filter((s) => !productCode || s.productCode === productCode);
  }
  async entitlements(productCode: string): Promise<Entitlement[]> {
    return this.ents.filter((e) => e.productCode === productCode);
  }
  async usageMicros(productCode: string): Promise<Map<string, bigint>> {
    const out = new Map<string, bigint>();
    for (const [k, v] of this.usage)
      if (k.startsWith(`${productCode}|`)) out.set(k.slice(productCode.length + 1), v);
    return out;
  }
  async lastStatuses(productCode?: string): Promise<Map<string, RecordStatus>> {
    const out = new Map<string, RecordStatus>();
    const sorted = [...this.ledgerRows].sort((a, b) => a.hour.getTime() - b.hour.getTime());
    for (const r of sorted) {
      if (productCode && r.productCode !== productCode) continue;
      out.set(productCode ? r.customer : r.productCode, r.status);
    }
    return out;
  }
  async ledger(f: LedgerFilter): Promise<LedgerEntry[]> {
    return this.ledgerRows
      .filter(
        (r) =>
          (!f.productCode || r.productCode === f.productCode) &&
          (!f.customer || r.customer === f.customer) &&
          (!f.dimension || r.dimension === f.dimension) &&
          (!f.from || r.hour >= f.from) &&
          (!f.to || r.hour < f.to),
      )
      .sort((a, b) => b.hour.getTime() - a.hour.getTime())
      .slice(0, f.limit);
  }
  async records(keys: readonly RecordKey[]): Promise<LedgerEntry[]> {
    const want = new Set(keys.map(recordKey));
    return this.ledgerRows.filter((r) => want.has(recordKey(r)));
  }
  async auditFindings(): Promise<AuditFinding[] | undefined> {
    return this.findings;
  }
  async findSubmission(id: string): Promise<Submission | undefined> {
    return this.submissions.get(id);
  }
  async recordSubmission(s: Submission): Promise<void> {
    this.submissions.set(s.id, s);
  }
  async manualKeys(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const s of this.submissions.values()) {
      for (const l of s.lines) out.set(recordKey(lineKey(s, l)), s.actor);
    }
    return out;
  }
  async ping(): Promise<boolean> {
    return true;
  }

  /** Writes (or replaces) the latest state of a ledger record. */
  setLedger(
    k: RecordKey & {
      customerKind?: CustomerKind;
      state: LedgerState;
      quantity: number;
      reason?: string;
    },
  ): void {
    const row: LedgerEntry = {
      productCode: k.productCode,
      customer: k.customer,
      customerKind: k.customerKind ?? 'identifier',
      dimension: k.dimension,
      hour: k.hour,
      state: k.state,
      status: statusOfLedgerState(k.state),
      quantity: k.quantity,
      reason: k.reason ?? '',
      meteringRecordId: '',
      attempts: 1,
      updatedAt: new Date(),
    };
    this.ledgerRows = this.ledgerRows.filter((r) => recordKey(r) !== recordKey(row));
    this.ledgerRows.push(row);
  }
}

/**
 * A fake {@link SubmissionGateway}: remembers every send and, if given `settle`, lets the test
 * decide what the ledger says afterwards (e.g. mark the records accepted).
 */
export class FakeGateway implements SubmissionGateway {
  readonly sent: Submission[] = [];
  constructor(private readonly settle?: (s: Submission) => void | Promise<void>) {}
  async send(s: Submission): Promise<void> {
    this.sent.push(s);
    await this.settle?.(s);
  }
  async ready(): Promise<boolean> {
    return true;
  }
  async close(): Promise<void> {}
}
