// Types of expect.mjs, for the TypeScript tests.
import type { DemoCustomer, DemoPlan } from './customers.mjs';
import type { DemoOptions } from './options.mjs';

export interface DemoEvent {
  id: string;
  productCode: string;
  customerIdentifier?: string;
  customerAwsAccountId?: string;
  dimension: string;
  quantity: string;
}
export interface RowSpec {
  c: DemoCustomer;
  d: string;
  k: string;
  usage: bigint;
  ent: bigint | undefined;
  expectedBilled: bigint;
}
export interface TableRow {
  product: string;
  customer: string;
  dimension: string;
  events: number;
  duplicates: number;
  late: number;
  uniqueQuantity: string;
  entitlement: string | null;
  windows: number;
  windowQuantity: string;
  recordsSent: number;
  recordsOpen: number;
  expectedBilled: number;
  ledgerQuantity: number;
  billed: number;
  cloudTrailRecords: number;
  cloudTrailQuantity: number;
  findings: string[];
  matched: boolean;
}
export interface Stores {
  l?: { qty?: string | number; recs?: string | number; open?: string | number };
  w?: { n?: string | number; micros?: string | number };
  ct?: { qty?: string | number; recs?: string | number };
  f?: { kinds: string[] };
  b: { recs: number; qty: bigint };
  stat: { events: number; dupes: number; late: number };
  lates?: string | number;
}
export declare function expectedRows(input: {
  sent: Map<string, DemoEvent>;
  customers: DemoCustomer[];
  entitlement: Map<string, number>;
  dimsAt: (plan: DemoPlan, ms: number) => string[];
  firstHour: number;
  lastHour: number;
}): RowSpec[];
export declare function customerList(customers: DemoCustomer[]): string;
export declare function tableRow(s: RowSpec, stores: Stores): TableRow;
export declare function collect(
  o: DemoOptions,
  input: unknown,
): Promise<{ rows: TableRow[]; allFindings: { kind: string; n: string }[] }>;
export declare function progressLine(rows: TableRow[]): string;
export declare function settle(
  o: DemoOptions,
  procs: unknown,
  input: unknown,
): Promise<{ rows: TableRow[]; allFindings: { kind: string; n: string }[] }>;
