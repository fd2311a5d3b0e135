import type { Product, Subscription } from '../state.js';
import type { Json } from '../wire.js';
import { activationEnd, agreementIdOf } from './licenses.js';

/** What an agreement view is built from besides its subscription. */
export interface ViewContext {
  seed: number;
  /** The seller: the proposer of every agreement. */
  sellerAccountId: string;
  now: number;
  product: Product | undefined;
}

const sec = (iso: string | undefined): number | undefined =>
  iso === undefined ? undefined : Date.parse(iso) / 1000;

/** Only members that are set (the SDKs and the model have no nulls). */
function defined(o: Json): Json {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** The members DescribeAgreement and SearchAgreements share. */
function common(sub: Subscription, v: ViewContext): Json {
  const id = agreementIdOf(v.seed, sub);
  return defined({
    agreementId: id,
    acceptor: { accountId: sub.customerAwsAccountId },
    proposer: { accountId: v.sellerAccountId },
    startTime: sec(sub.startTime ?? sub.acceptedAt),
    endTime: sec(sub.endTime),
    acceptanceTime: sec(sub.acceptedAt),
    agreementType: 'PurchaseAgreement',
    proposalSummary: {
      resources: [{ id: sub.productCode, type: 'SaaSProduct' }],
      offerId: sub.offerId ?? `offer-${id.slice(5, 17)}`,
    },
    status: sub.agreementStatus ?? 'ACTIVE',
    initialAgreementId: id,
  });
}

/** The contract's price: 100 USD per unit bought (the emulator's rate card), 0 for pay-as-you-go. */
const UNIT_PRICE = 100;

/** The agreement as DescribeAgreement answers it. */
export function describeView(sub: Subscription, v: ViewContext): Json {
  const value = (sub.terms ?? []).reduce((n, t) => n + t.quantity * UNIT_PRICE, 0);
  return defined({
    ...common(sub, v),
    estimatedCharges: { currencyCode: 'USD', agreementValue: String(value) },
    endTimeBehavior: sub.endTime ? { type: 'EXPIRE', reasonCode: 'NO_RENEWAL_TERM' } : undefined,
  });
}

/** The agreement as SearchAgreements lists it. */
export function summaryView(sub: Subscription, v: ViewContext): Json {
  return defined({
    ...common(sub, v),
    lastUpdateTime: sec(sub.updatedAt ?? sub.acceptedAt),
    entitlements: sub.licenseArn ? [{ licenseArn: sub.licenseArn }] : [],
    endTimeBehaviorType: sub.endTime ? 'EXPIRE' : undefined,
    endTimeBehaviorReasonCode: sub.endTime ? 'NO_RENEWAL_TERM' : undefined,
  });
}

/**
 * The accepted terms: pay-as-you-go prices for every dimension of the product, the contract's units
 * per dimension (a configurable upfront term) when it has some, and the validity term.
 */
export function termsView(sub: Subscription, v: ViewContext): Json[] {
  const id = agreementIdOf(v.seed, sub).slice(5, 17);
  const dims = v.product?.dimensions ?? [];
  const terms: Json[] = [
    {
      usageBasedPricingTerm: {
        type: 'UsageBasedPricingTerm',
        id: `term-usage-${id}`,
        currencyCode: 'USD',
        rateCards: [{ rateCard: dims.map((d) => ({ dimensionKey: d, price: '0.01' })) }],
      },
    },
  ];
  if (sub.terms && sub.terms.length > 0) {
    terms.push({
      configurableUpfrontPricingTerm: {
        type: 'ConfigurableUpfrontPricingTerm',
        id: `term-contract-${id}`,
        currencyCode: 'USD',
        rateCards: [
          {
            selector: { type: 'Duration', value: 'P12M' },
            constraints: {
              multipleDimensionSelection: 'Allowed',
              quantityConfiguration: 'Allowed',
            },
            rateCard: sub.terms.map((t) => ({
              dimensionKey: t.dimension,
              price: String(UNIT_PRICE),
            })),
          },
        ],
        configuration: {
          selectorValue: 'P12M',
          dimensions: sub.terms.map((t) => ({
            dimensionKey: t.dimension,
            dimensionValue: t.quantity,
          })),
        },
      },
    });
  }
  terms.push({
    validityTerm: defined({
      type: 'ValidityTerm',
      id: `term-validity-${id}`,
      agreementStartDate: sec(sub.startTime ?? sub.acceptedAt),
      agreementEndDate: sec(sub.endTime),
    }),
  });
  return terms;
}

/** The license as GetAgreementEntitlements answers it. */
export function entitlementView(
  sub: Subscription,
  v: ViewContext,
  registrationToken: string | undefined,
): Json {
  const end = activationEnd(sub);
  const start = sub.startTime ? Date.parse(sub.startTime) : undefined;
  const [status, reason] =
    end !== undefined && end <= v.now
      ? ['DEPROVISIONED', 'AGREEMENT_INACTIVE']
      : start !== undefined && start > v.now
        ? ['SCHEDULED', 'FUTURE_START_DATE']
        : ['PROVISIONED', 'AGREEMENT_ACTIVE'];
  return defined({
    resource: { id: sub.productCode, type: 'SaaSProduct' },
    type: 'License',
    registrationToken,
    status,
    statusReasonCode: reason,
    licenseArn: sub.licenseArn,
  });
}
