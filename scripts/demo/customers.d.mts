// Types of customers.mjs, for the TypeScript tests.
export interface DemoPlan {
  productCode: string;
}
export interface DemoCustomer {
  plan: DemoPlan;
  id: string;
  kind: 'identifier' | 'account';
  licenseArn?: string;
}
export declare const PARTITIONS: number;
export declare function partitionOf(key: string, n: number): number;
export declare function partitionOfCustomer(c: DemoCustomer): number;
export declare function pickCustomers(
  run: string,
  subPlan: DemoPlan,
  conPlan: DemoPlan,
): DemoCustomer[] | undefined;
export declare function contractEntitlements(customers: DemoCustomer[]): Map<string, number>;
