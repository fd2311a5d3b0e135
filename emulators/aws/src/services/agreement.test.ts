import { beforeEach, describe, expect, it } from 'vitest';
import { AwsError } from '../aws-error.js';
import { EmulatorCore } from '../core.js';
import { MODELS } from '../model/shapes.js';
import { validateShape } from '../model/validator.js';
import { emptyState } from '../state.js';

// ResolveCustomer, the Agreement API and the license lifecycle, through the core.

type Json = Record<string, unknown>;
const MIN = 60_000;
const ACCT = '123456789012';
const L1 = 'arn:aws:license-manager::123456789012:license:l-1';
const L2 = 'arn:aws:license-manager::123456789012:license:l-2';
const T0 = Date.parse('2026-11-26T10:00:00Z');

let now: number;
let core: EmulatorCore;
const awsError = (fn: () => unknown): AwsError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof AwsError) return err;
    throw err;
  }
  throw new Error('expected an AwsError');
};
/** An Agreement API call whose answer must validate against the model. */
const agreement = (
  op: 'SearchAgreements' | 'DescribeAgreement' | 'GetAgreementTerms' | 'GetAgreementEntitlements',
  input: Json,
): Json => {
  const out = core.agreement(op, input);
  const m = MODELS['marketplace-agreement'];
  const shape = m.operations[op]?.output ?? '';
  expect(validateShape(m.shapes, shape, out, { strictMembers: true })).toEqual([]);
  return out;
};
const search = (...filters: [string, string][]): Json[] =>
  agreement('SearchAgreements', {
    filters: [['AgreementType', 'PurchaseAgreement'], ...filters].map(([name, v]) => ({
      name,
      values: [v],
    })),
  }).agreementViewSummaries as Json[];

beforeEach(() => {
  now = T0;
  core = new EmulatorCore(
    emptyState(1),
    { now: () => now },
    { accountId: '111122223333', cloudTrailDelayMs: 0, seed: 1 },
    () => {},
  );
  core.putProduct({ productCode: 'prod-a', dimensions: ['api', 'seats'], licenseArn: false });
  core.putProduct({
    productCode: 'prod-new',
    dimensions: ['api'],
    licenseArn: true,
    newIntegration: true,
  });
  core.addSubscription({
    productCode: 'prod-a',
    customerAwsAccountId: ACCT,
    customerIdentifier: 'cust-1',
    licenseArn: L1,
  });
  core.addSubscription({
    productCode: 'prod-new',
    customerAwsAccountId: ACCT,
    licenseArn: L2,
    endTime: '2027-11-26T10:00:00.000Z',
    terms: [{ dimension: 'api', quantity: 1000 }],
  });
});

describe('ResolveCustomer', () => {
  it('resolves a minted token to the buyer; no CustomerIdentifier for a new integration', () => {
    const legacy = core.mintRegistrationToken({ licenseArn: L1 });
    const out = core.resolveCustomer({ RegistrationToken: legacy.token });
    const agreementId = (search(['LicenseArn', L1])[0] as Json).agreementId;
    expect(out).toEqual({
      CustomerIdentifier: 'cust-1',
      ProductCode: 'prod-a',
      CustomerAWSAccountId: ACCT,
      LicenseArn: L1,
      Metadata: { AgreementId: agreementId },
    });
    const m = MODELS.meteringmarketplace;
    expect(validateShape(m.shapes, 'ResolveCustomerResult', out, { strictMembers: true })).toEqual(
      [],
    );
    const fresh = core.mintRegistrationToken({
      productCode: 'prod-new',
      customerAwsAccountId: ACCT,
    });
    expect(core.resolveCustomer({ RegistrationToken: fresh.token })).not.toHaveProperty(
      'CustomerIdentifier',
    );
  });

  it('answers InvalidTokenException for an unknown token, ExpiredTokenException after 30 minutes', () => {
    const t = core.mintRegistrationToken({ licenseArn: L1 });
    expect(awsError(() => core.resolveCustomer({ RegistrationToken: 'nope' })).type).toBe(
      'InvalidTokenException',
    );
    now = T0 + 30 * MIN - 1;
    expect(core.resolveCustomer({ RegistrationToken: t.token }).LicenseArn).toBe(L1);
    now = T0 + 30 * MIN;
    expect(awsError(() => core.resolveCustomer({ RegistrationToken: t.token })).type).toBe(
      'ExpiredTokenException',
    );
    expect(awsError(() => core.resolveCustomer({})).type).toBe('ValidationException');
    expect(() => core.mintRegistrationToken({ licenseArn: `${L1}9` })).toThrow(
      expect.objectContaining({ status: 404 }),
    );
  });
});

describe('Agreement API', () => {
  it('lists one agreement per license, filtered, sorted by end time, paged', () => {
    expect(search().map((a) => (a.entitlements as Json[])[0])).toEqual([
      { licenseArn: L2 },
      { licenseArn: L1 },
    ]);
    expect(search(['ResourceIdentifier', 'prod-a']).map((a) => a.agreementId)).toEqual(
      search(['LicenseArn', L1]).map((a) => a.agreementId),
    );
    expect(search(['AcceptorAccountId', ACCT])).toHaveLength(2);
    expect(search(['AcceptorAccountId', '999999999999'])).toHaveLength(0);
    expect(search(['Status', 'ACTIVE'], ['AfterEndTime', '2027-01-01T00:00:00Z'])).toHaveLength(1);
    const page = agreement('SearchAgreements', {
      filters: [{ name: 'AgreementType', values: ['PurchaseAgreement'] }],
      sort: { sortBy: 'EndTime', sortOrder: 'DESCENDING' },
      maxResults: 1,
    });
    expect((page.agreementViewSummaries as Json[])[0]?.entitlements).toEqual([{ licenseArn: L1 }]);
    expect(page.nextToken).toEqual(expect.any(String));
    expect(awsError(() => core.agreement('SearchAgreements', {})).type).toBe('ValidationException');
    expect(
      awsError(() =>
        core.agreement('SearchAgreements', {
          filters: [
            { name: 'AgreementType', values: ['PurchaseAgreement'] },
            { name: 'Nope', values: ['x'] },
          ],
        }),
      ).type,
    ).toBe('ValidationException');
  });

  it('describes an agreement, its terms (contract units per dimension) and its license', () => {
    const id = (search(['LicenseArn', L2])[0] as Json).agreementId;
    expect(agreement('DescribeAgreement', { agreementId: id })).toMatchObject({
      agreementId: id,
      acceptor: { accountId: ACCT },
      proposer: { accountId: '111122223333' },
      agreementType: 'PurchaseAgreement',
      status: 'ACTIVE',
      startTime: T0 / 1000,
      endTime: Date.parse('2027-11-26T10:00:00Z') / 1000,
      proposalSummary: { resources: [{ id: 'prod-new', type: 'SaaSProduct' }] },
    });
    const terms = agreement('GetAgreementTerms', { agreementId: id }).acceptedTerms as Json[];
    expect(terms.map((t) => Object.keys(t)[0])).toEqual([
      'usageBasedPricingTerm',
      'configurableUpfrontPricingTerm',
      'validityTerm',
    ]);
    expect((terms[1]?.configurableUpfrontPricingTerm as Json).configuration).toMatchObject({
      dimensions: [{ dimensionKey: 'api', dimensionValue: 1000 }],
    });
    const token = core.mintRegistrationToken({ licenseArn: L2 }).token;
    expect(
      agreement('GetAgreementEntitlements', { agreementId: id }).agreementEntitlements,
    ).toEqual([
      {
        resource: { id: 'prod-new', type: 'SaaSProduct' },
        type: 'License',
        registrationToken: token,
        status: 'PROVISIONED',
        statusReasonCode: 'AGREEMENT_ACTIVE',
        licenseArn: L2,
      },
    ]);
    expect(
      awsError(() => core.agreement('DescribeAgreement', { agreementId: 'agmt-nope' })),
    ).toMatchObject({
      type: 'ResourceNotFoundException',
      status: 404,
    });
  });

  it('follows the lifecycle: amended terms, ended (CANCELLED), deprovisioned', () => {
    const id = (search(['LicenseArn', L1])[0] as Json).agreementId;
    now = T0 + 5 * MIN;
    core.amendLicense(L1, { terms: [{ dimension: 'seats', quantity: 10 }] });
    expect(
      search(['AfterLastUpdateTime', '2026-11-26T10:01:00Z']).map((a) => a.agreementId),
    ).toEqual([id]);
    now = T0 + 20 * MIN;
    core.endLicense(L1, {});
    expect(agreement('DescribeAgreement', { agreementId: id })).toMatchObject({
      status: 'CANCELLED',
      endTime: (T0 + 20 * MIN) / 1000,
    });
    expect(
      (
        agreement('GetAgreementEntitlements', { agreementId: id }).agreementEntitlements as Json[]
      )[0],
    ).toMatchObject({ status: 'DEPROVISIONED' });
    expect(search(['Status', 'CANCELLED'])).toHaveLength(1);
    expect(() => core.deprovisionLicense(`${L1}9`)).toThrow(
      expect.objectContaining({ status: 404 }),
    );
  });
});
