import type { Entitlement } from '../state.js';
import { offsetPage, queryHash, str, validate, type Json } from '../wire.js';

/** A filter value list passes when absent, or when it holds the entitlement's value. */
function passes(values: string[] | undefined, v: string | undefined): boolean {
  return values === undefined || (v !== undefined && values.includes(v));
}

/** An entitlement as GetEntitlements returns it. */
function entitlementView(e: Entitlement): Json {
  return {
    ProductCode: e.productCode,
    Dimension: e.dimension,
    ...(e.customerIdentifier ? { CustomerIdentifier: e.customerIdentifier } : {}),
    ...(e.customerAwsAccountId ? { CustomerAWSAccountId: e.customerAwsAccountId } : {}),
    ...(e.licenseArn ? { LicenseArn: e.licenseArn } : {}),
    Value: e.value,
    ...(e.expirationDate ? { ExpirationDate: Date.parse(e.expirationDate) / 1000 } : {}),
  };
}

/**
 * The Entitlement Service's GetEntitlements over the registered entitlements: the product's
 * unexpired entitlements that pass every filter, in pages of `MaxResults` (default 25).
 */
export function getEntitlements(entitlements: Entitlement[], now: number, input: Json): Json {
  validate('marketplace-entitlement', 'GetEntitlementsRequest', input);
  const productCode = str(input.ProductCode) ?? '';
  const filter = (input.Filter as Record<string, string[]> | undefined) ?? {};
  const all = entitlements.filter(
    (e) =>
      e.productCode === productCode &&
      (!e.expirationDate || Date.parse(e.expirationDate) > now) &&
      passes(filter.CUSTOMER_IDENTIFIER, e.customerIdentifier) &&
      passes(filter.CUSTOMER_AWS_ACCOUNT_ID, e.customerAwsAccountId) &&
      passes(filter.DIMENSION, e.dimension) &&
      passes(filter.LICENSE_ARN, e.licenseArn),
  );
  const { page, next } = offsetPage(all, {
    maxResults: typeof input.MaxResults === 'number' ? input.MaxResults : 25,
    token: input.NextToken,
    query: queryHash([productCode, filter]),
    errorType: 'InvalidParameterException',
  });
  return { Entitlements: page.map(entitlementView), ...(next ? { NextToken: next } : {}) };
}
