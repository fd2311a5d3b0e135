import { AwsError } from '../aws-error.js';
import type { EmulatorContext } from '../context.js';
import type { Registry } from '../registry.js';
import type { Subscription } from '../state.js';
import { offsetPage, queryHash, validate, type Json, type PageRequest } from '../wire.js';
import {
  describeView,
  entitlementView,
  summaryView,
  termsView,
  type ViewContext,
} from './agreement-view.js';
import { agreementIdOf } from './licenses.js';
import type { Registration } from './registration.js';

/** The filters SearchAgreements documents, as predicates over an agreement's subscription. */
type Filter = (s: Subscription, value: string, v: ViewContext) => boolean;

const ms = (iso: string | undefined): number | undefined =>
  iso === undefined ? undefined : Date.parse(iso);
const before = (t: number | undefined, value: string): boolean =>
  t !== undefined && t < Date.parse(value);
const after = (t: number | undefined, value: string): boolean =>
  t !== undefined && t > Date.parse(value);
const startOf = (s: Subscription): number | undefined => ms(s.startTime ?? s.acceptedAt);
const updateOf = (s: Subscription): number | undefined => ms(s.updatedAt ?? s.acceptedAt);

const FILTERS: Record<string, Filter> = {
  AgreementType: (_s, value) => value === 'PurchaseAgreement',
  // The emulator's caller is the seller: the proposer of every agreement.
  PartyType: (_s, value) => value === 'Proposer',
  AcceptorAccountId: (s, value) => s.customerAwsAccountId === value,
  ResourceIdentifier: (s, value) => s.productCode === value,
  ResourceType: (_s, value) => value === 'SaaSProduct',
  Status: (s, value) => (s.agreementStatus ?? 'ACTIVE') === value,
  LicenseArn: (s, value) => s.licenseArn === value,
  OfferId: (s, value, v) => offerOf(s, v) === value,
  InitialAgreementId: (s, value, v) => agreementIdOf(v.seed, s) === value,
  BeforeEndTime: (s, value) => before(ms(s.endTime), value),
  AfterEndTime: (s, value) => after(ms(s.endTime), value),
  BeforeStartTime: (s, value) => before(startOf(s), value),
  AfterStartTime: (s, value) => after(startOf(s), value),
  BeforeLastUpdateTime: (s, value) => before(updateOf(s), value),
  AfterLastUpdateTime: (s, value) => after(updateOf(s), value),
};

function offerOf(s: Subscription, v: ViewContext): string {
  return String((summaryView(s, v).proposalSummary as Json).offerId);
}

const SORT_KEYS: Record<string, (s: Subscription) => number | undefined> = {
  EndTime: (s) => ms(s.endTime),
  StartTime: startOf,
  LastUpdateTime: updateOf,
};

/** Ascending by `key`; agreements without the time (pay-as-you-go: no end) last. */
function compareBy(
  key: (s: Subscription) => number | undefined,
  descending: boolean,
): (a: Subscription, b: Subscription) => number {
  return (a, b) => {
    const x = key(a) ?? Infinity;
    const y = key(b) ?? Infinity;
    return x === y ? 0 : (x < y ? -1 : 1) * (descending ? -1 : 1);
  };
}

/** Paging of the Agreement API: `maxResults` (default 50) and `nextToken` bound to the query. */
function agreementPage(input: Json, query: unknown[]): PageRequest {
  return {
    maxResults: typeof input.maxResults === 'number' ? input.maxResults : 50,
    token: input.nextToken,
    query: queryHash(query),
    errorType: 'ValidationException',
  };
}

/**
 * The Agreement Service (AWS JSON 1.0, `AWSMPCommerceService_v20200301`) as the seller sees it:
 * every subscription of a 12-digit buyer account is one purchase agreement, proposed by the
 * emulator's seller account, with its license as the agreement's entitlement.
 */
export class Agreements {
  constructor(
    private readonly ctx: EmulatorContext,
    private readonly registry: Registry,
    private readonly registration: Registration,
  ) {}

  searchAgreements(input: Json): Json {
    validate('marketplace-agreement', 'SearchAgreementsInput', input);
    const filters = (input.filters as { name: string; values: string[] }[] | undefined) ?? [];
    if (!filters.some((f) => f.name === 'AgreementType')) {
      throw new AwsError('ValidationException', 'The AgreementType filter is required');
    }
    for (const f of filters) {
      if (!FILTERS[f.name]) throw new AwsError('ValidationException', `Unknown filter ${f.name}`);
    }
    const sort = (input.sort as { sortBy?: string; sortOrder?: string } | undefined) ?? {};
    const sortKey = SORT_KEYS[sort.sortBy ?? 'EndTime'];
    if (!sortKey) throw new AwsError('ValidationException', `Cannot sort by ${sort.sortBy}`);
    const all = this.agreements()
      .filter((s) =>
        filters.every((f) => (FILTERS[f.name] as Filter)(s, f.values[0] ?? '', this.view(s))),
      )
      .sort(compareBy(sortKey, sort.sortOrder === 'DESCENDING'));
    const { page, next } = offsetPage(all, agreementPage(input, [filters, sort]));
    return {
      agreementViewSummaries: page.map((s) => summaryView(s, this.view(s))),
      ...(next ? { nextToken: next } : {}),
    };
  }

  describeAgreement(input: Json): Json {
    validate('marketplace-agreement', 'DescribeAgreementInput', input);
    const sub = this.agreement(input.agreementId);
    return describeView(sub, this.view(sub));
  }

  getAgreementTerms(input: Json): Json {
    validate('marketplace-agreement', 'GetAgreementTermsInput', input);
    const sub = this.agreement(input.agreementId);
    return this.page('acceptedTerms', termsView(sub, this.view(sub)), input);
  }

  getAgreementEntitlements(input: Json): Json {
    validate('marketplace-agreement', 'GetAgreementEntitlementsInput', input);
    const sub = this.agreement(input.agreementId);
    const items = sub.licenseArn
      ? [entitlementView(sub, this.view(sub), this.registration.tokenOf(sub))]
      : [];
    return this.page('agreementEntitlements', items, input);
  }

  /** One page of an agreement's `items` (its nextToken is bound to the agreement). */
  private page(member: string, items: Json[], input: Json): Json {
    const { page, next } = offsetPage(items, agreementPage(input, [member, input.agreementId]));
    return { [member]: page, ...(next ? { nextToken: next } : {}) };
  }

  /** Subscriptions that are agreements: those of a 12-digit buyer account. */
  private agreements(): Subscription[] {
    return this.ctx.state.subscriptions.filter((s) =>
      /^\d{12}$/.test(s.customerAwsAccountId ?? ''),
    );
  }

  private agreement(id: unknown): Subscription {
    const sub = this.agreements().find((s) => agreementIdOf(this.ctx.settings.seed, s) === id);
    if (!sub) {
      throw new AwsError('ResourceNotFoundException', `Agreement ${String(id)} not found`, 404);
    }
    return sub;
  }

  private view(sub: Subscription): ViewContext {
    return {
      seed: this.ctx.settings.seed,
      sellerAccountId: this.ctx.settings.accountId,
      now: this.ctx.now(),
      product: this.registry.product(sub.productCode),
    };
  }
}
