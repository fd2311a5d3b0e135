/** Types shared by the console's pages, its data access and its submission path. */
import type { CustomerKind, Entitlement, LedgerRecord, Subscription } from '@meterstream/contracts';

// The tables' row types are the other services' contracts; the console only reads them.
export type { CustomerKind, Entitlement, Subscription } from '@meterstream/contracts';

/** What a signed-in user may do: viewers read, operators also submit, admins also see users. */
export type Role = 'viewer' | 'operator' | 'admin';

/** Roles allowed to send metering information. */
export const SUBMIT_ROLES: readonly Role[] = ['operator', 'admin'];

/** Whether `role` may submit metering information. */
export function canSubmit(role: Role): boolean {
  return SUBMIT_ROLES.includes(role);
}

/** A configured console user (from the users file). */
export interface User {
  username: string;
  role: Role;
  /** bcrypt hash. */
  passwordHash: string;
}

/** Status of one metering record as the console shows it. */
export type RecordStatus =
  'pending' | 'held' | 'accepted' | 'duplicate' | 'not_subscribed' | 'rejected' | 'expired';

/** Statuses after which a record no longer changes. */
export const FINAL_STATUSES: readonly RecordStatus[] = [
  'accepted',
  'duplicate',
  'not_subscribed',
  'rejected',
  'expired',
];

/** Maps a ledger state (ADR 0001) to what the console shows. */
export function statusOfLedgerState(state: string): RecordStatus {
  switch (state) {
    // Held (ADR 0006): not sent yet for a reason the seller can fix; shown apart from pending so
    // the seller sees that something is waiting on them, and not final.
    case 'held':
    case 'accepted':
    case 'duplicate':
    case 'not_subscribed':
    case 'rejected':
    case 'expired':
      return state;
    default:
      // frozen and sending (and anything newer this console does not know yet) are in flight.
      return 'pending';
  }
}

/**
 * One (product, customer, dimension, hour) of the ledger as the console shows it: the fields of
 * the ledger's record (table contract in @meterstream/contracts) it needs, its times as dates, and
 * the status the console gives its state.
 */
export type LedgerEntry = Pick<
  LedgerRecord,
  | 'productCode'
  | 'customer'
  | 'customerKind'
  | 'dimension'
  | 'state'
  | 'quantity'
  | 'reason'
  | 'meteringRecordId'
  | 'attempts'
> & { hour: Date; updatedAt: Date; status: RecordStatus };

/** The console's view of a ledger record. */
export function ledgerEntry(r: LedgerRecord): LedgerEntry {
  return {
    productCode: r.productCode,
    customer: r.customer,
    customerKind: r.customerKind,
    dimension: r.dimension,
    state: r.state,
    quantity: r.quantity,
    reason: r.reason,
    meteringRecordId: r.meteringRecordId,
    attempts: r.attempts,
    hour: new Date(r.hour),
    updatedAt: new Date(r.updatedAt),
    status: statusOfLedgerState(r.state),
  };
}

/** Filters of the metering history. */
export interface LedgerFilter {
  productCode?: string | undefined;
  customer?: string | undefined;
  dimension?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  limit: number;
}

/** The identity of one metering record. */
export interface RecordKey {
  productCode: string;
  customer: string;
  dimension: string;
  hour: Date;
}

/** One finding of the auditor (table `audit_findings`), shown as it is. */
export interface AuditFinding {
  detectedAt: Date;
  kind: string;
  /** The auditor's state of the finding (e.g. open, resolved). */
  status: string;
  productCode: string;
  customer: string;
  dimension: string;
  hour: Date | undefined;
  detail: string;
}

/** One line of a manual submission: usage of one dimension for one contract. */
export interface SubmissionLine {
  customer: string;
  customerKind: CustomerKind;
  licenseArn: string;
  dimension: string;
  /** Canonical decimal string (≤ 6 places). */
  quantity: string;
  quantityMicros: bigint;
  /** Idempotency key of the usage event this line becomes. */
  eventId: string;
}

/** A validated, confirmed manual submission. */
export interface Submission {
  id: string;
  actor: string;
  productCode: string;
  /** Start of the hour the usage is metered in. */
  hour: Date;
  /** When the usage events are timestamped (within `hour`). */
  at: Date;
  lines: SubmissionLine[];
}

/** Latest known state of a submission's records. */
export interface SubmissionStatus {
  submissionId: string;
  productCode: string;
  actor: string;
  hour: Date;
  records: {
    customer: string;
    dimension: string;
    quantity: string;
    status: RecordStatus;
    billedQuantity: number | undefined;
    reason: string;
  }[];
  done: boolean;
}

/** Read access to what the other services wrote, plus the console's own submission log. */
export interface ConsoleData {
  subscriptions(productCode?: string): Promise<Subscription[]>;
  entitlements(productCode: string): Promise<Entitlement[]>;
  /** Metered usage (micros) per `customer|dimension` within each given contract period. */
  usageMicros(
    productCode: string,
    periods: readonly { customer: string; from: Date; to: Date }[],
  ): Promise<Map<string, bigint>>;
  /** Latest status per product (`productCode`) or per customer of one product (`customer`). */
  lastStatuses(productCode?: string): Promise<Map<string, RecordStatus>>;
  ledger(filter: LedgerFilter): Promise<LedgerEntry[]>;
  records(keys: readonly RecordKey[]): Promise<LedgerEntry[]>;
  /** Findings of the auditor, or `undefined` when the auditor has not created its table. */
  auditFindings(limit: number): Promise<AuditFinding[] | undefined>;
  /** A recorded manual submission by id. */
  findSubmission(id: string): Promise<Submission | undefined>;
  /** Records a manual submission (before anything is sent). */
  recordSubmission(submission: Submission): Promise<void>;
  /** Recent manual submissions (newest first), for the history page's "manual" marks. */
  manualKeys(productCode?: string): Promise<Map<string, string>>;
  ping(): Promise<boolean>;
}

/**
 * The path a confirmed manual submission takes: usage events (source `console`, actor = the
 * user) to Kafka, then a FreezeCommand for those keys' hour, then an immediate submitter run.
 * The ledger then tells the statuses (read through {@link ConsoleData.records}).
 */
export interface SubmissionGateway {
  send(submission: Submission): Promise<void>;
  ready(): Promise<boolean>;
  close(): Promise<void>;
}

/** `customer|dimension`, the key of per-contract maps. */
export function cdKey(customer: string, dimension: string): string {
  return `${customer}|${dimension}`;
}

/** `product|customer|dimension|hourMillis`, the key of a ledger record. */
export function recordKey(k: RecordKey): string {
  return `${k.productCode}|${k.customer}|${k.dimension}|${k.hour.getTime()}`;
}

/** The ledger record a line of a submission meters. */
export function lineKey(s: Pick<Submission, 'productCode' | 'hour'>, l: SubmissionLine): RecordKey {
  return { productCode: s.productCode, customer: l.customer, dimension: l.dimension, hour: s.hour };
}
