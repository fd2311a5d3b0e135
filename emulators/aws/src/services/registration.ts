import { createHash } from 'node:crypto';
import { MINUTE_MS } from '@meterstream/runtime';
import { AwsError } from '../aws-error.js';
import type { EmulatorContext } from '../context.js';
import type { Registry } from '../registry.js';
import type { RegistrationToken, Subscription } from '../state.js';
import { str, validate, type Json } from '../wire.js';
import { agreementIdOf } from './licenses.js';

/** How long a registration token resolves (the Agreement API: "only valid for 30 minutes"). */
export const TOKEN_TTL_MS = 30 * MINUTE_MS;

/** Which subscription a token is minted for: its license, or its product and customer. */
export interface TokenRequest {
  productCode?: string | undefined;
  customerIdentifier?: string | undefined;
  customerAwsAccountId?: string | undefined;
  licenseArn?: string | undefined;
  ttlMs?: number | undefined;
}

/**
 * The SaaS fulfillment flow: the admin API mints the registration token that AWS's redirect to the
 * seller's fulfillment URL would carry (`x-amzn-marketplace-token`), and ResolveCustomer turns it
 * into the buyer's identity.
 */
export class Registration {
  constructor(
    private readonly ctx: EmulatorContext,
    private readonly registry: Registry,
  ) {}

  /** Mints a token for a registered subscription (404 when there is none). */
  mint(req: TokenRequest): RegistrationToken {
    const sub = this.subscriptionOf(req);
    const state = this.ctx.state;
    state.sequence += 1;
    const token = createHash('sha256')
      .update(`${this.ctx.settings.seed}:token:${state.sequence}`)
      .digest('base64url');
    const minted: RegistrationToken = {
      token,
      productCode: sub.productCode,
      customerIdentifier: sub.customerIdentifier,
      customerAwsAccountId: sub.customerAwsAccountId,
      licenseArn: sub.licenseArn,
      expiresAt: this.ctx.now() + (req.ttlMs ?? TOKEN_TTL_MS),
    };
    state.registrationTokens = [...(state.registrationTokens ?? []), minted];
    this.ctx.touch();
    return minted;
  }

  /** The newest unexpired token of a subscription (GetAgreementEntitlements shows it). */
  tokenOf(sub: Subscription): string | undefined {
    const now = this.ctx.now();
    return (this.ctx.state.registrationTokens ?? [])
      .filter((t) => t.expiresAt > now && sameSubscription(t, sub))
      .at(-1)?.token;
  }

  /**
   * ResolveCustomer: unknown token → InvalidTokenException, expired → ExpiredTokenException;
   * else the buyer's CustomerAWSAccountId, ProductCode, LicenseArn and the agreement id, and the
   * CustomerIdentifier only for legacy products (the model: "For new SaaS product integrations,
   * the CustomerIdentifier field is not populated").
   */
  resolveCustomer(input: Json): Json {
    validate('meteringmarketplace', 'ResolveCustomerRequest', input);
    const token = str(input.RegistrationToken) ?? '';
    const t = (this.ctx.state.registrationTokens ?? []).find((x) => x.token === token);
    if (!t) throw new AwsError('InvalidTokenException', 'Registration token is invalid');
    if (this.ctx.now() >= t.expiresAt) {
      throw new AwsError('ExpiredTokenException', 'The submitted registration token has expired');
    }
    const product = this.registry.product(t.productCode);
    const sub = this.ctx.state.subscriptions.find((s) => sameSubscription(t, s));
    return {
      ...(t.customerIdentifier && !product?.newIntegration
        ? { CustomerIdentifier: t.customerIdentifier }
        : {}),
      ProductCode: t.productCode,
      ...(t.customerAwsAccountId ? { CustomerAWSAccountId: t.customerAwsAccountId } : {}),
      ...(t.licenseArn ? { LicenseArn: t.licenseArn } : {}),
      ...(sub ? { Metadata: { AgreementId: agreementIdOf(this.ctx.settings.seed, sub) } } : {}),
    };
  }

  private subscriptionOf(req: TokenRequest): Subscription {
    const sub = req.licenseArn
      ? this.registry.license(req.licenseArn)
      : req.productCode
        ? this.registry.findSubscription(req.productCode, {
            CustomerIdentifier: req.customerIdentifier,
            CustomerAWSAccountId: req.customerAwsAccountId,
          })
        : undefined;
    if (!sub) throw new AwsError('NotFound', 'no such subscription or license', 404);
    return sub;
  }
}

/** Whether a token was minted for this subscription. */
function sameSubscription(t: RegistrationToken, s: Subscription): boolean {
  return (
    t.productCode === s.productCode &&
    t.licenseArn === s.licenseArn &&
    t.customerIdentifier === s.customerIdentifier &&
    t.customerAwsAccountId === s.customerAwsAccountId
  );
}
