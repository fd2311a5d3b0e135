/**
 * What ingest needs from the metering plans: the subset of `PlanCatalog` from
 * `@meterstream/plans` it calls, so tests can pass a small in-memory catalog.
 */
export interface PlanLookup {
  /** The plan of a product code or license ARN alias. */
  resolveProduct(ref: string):
    | {
        productCode: string;
        licenseArn?: string | undefined;
        customerIdStyle: 'customerIdentifier' | 'customerAwsAccountId';
      }
    | undefined;
  /** Whether the product's plan version in force at `at` has the dimension. */
  hasDimension(productCode: string, dimension: string, at: Date): boolean;
}
