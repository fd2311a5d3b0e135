import { AwsError } from '../aws-error.js';
import type { EmulatorContext } from '../context.js';
import type { Registry } from '../registry.js';
import type { AgreementStatus, ContractTerm, Subscription } from '../state.js';
import { lifecycleEvents, type EventSender, type LifecycleChange } from './events.js';

/** An amendment: new end of the activation period and/or new contract terms. */
export interface Amendment {
  endTime?: string | undefined;
  terms?: ContractTerm[] | undefined;
}

/** The end of an agreement: its status and when (default now); its license is deprovisioned too. */
export interface Ending {
  status?: Extract<AgreementStatus, 'CANCELLED' | 'EXPIRED' | 'TERMINATED'> | undefined;
  /** ISO-8601; default now. */
  at?: string | undefined;
}

/**
 * The buyer lifecycle as the admin API drives it: a license is created (Purchase Agreement Created,
 * License Updated), amended (Purchase Agreement Amended, License Updated), ended (Purchase Agreement
 * Ended, then License Deprovisioned) or deprovisioned (License Deprovisioned). Each change edits
 * the subscription and emits its EventBridge events to the configured target.
 */
export class Lifecycle {
  constructor(
    private readonly ctx: EmulatorContext,
    private readonly registry: Registry,
    private readonly events: EventSender,
  ) {}

  /** Registers a subscription (a new agreement); a replaced one with a buyer account is ended. */
  subscribe(s: Subscription): Subscription {
    const sub: Subscription = { ...s, acceptedAt: s.acceptedAt ?? this.isoNow() };
    const replaced = this.registry.addSubscription(sub);
    for (const old of replaced) this.emit('ended', { ...old, agreementStatus: 'REPLACED' });
    this.emit('created', sub);
    return sub;
  }

  amend(licenseArn: string, a: Amendment): Subscription {
    const sub = this.license(licenseArn);
    if (a.endTime !== undefined) sub.endTime = a.endTime;
    if (a.terms !== undefined) sub.terms = a.terms;
    sub.updatedAt = this.isoNow();
    this.ctx.touch();
    this.emit('amended', sub);
    return sub;
  }

  end(licenseArn: string, e: Ending): Subscription {
    const sub = this.license(licenseArn);
    const at = e.at ?? this.isoNow();
    sub.agreementStatus = e.status ?? 'CANCELLED';
    sub.endTime = at;
    sub.updatedAt = this.isoNow();
    this.ctx.touch();
    this.emit('ended', sub);
    return this.deprovision(licenseArn, at);
  }

  deprovision(licenseArn: string, at?: string): Subscription {
    const sub = this.license(licenseArn);
    sub.deprovisionedAt = at ?? this.isoNow();
    sub.updatedAt = this.isoNow();
    this.ctx.touch();
    this.emit('deprovisioned', sub);
    return sub;
  }

  private license(licenseArn: string): Subscription {
    const sub = this.registry.license(licenseArn);
    if (!sub) throw new AwsError('NotFound', `license ${licenseArn} is not registered`, 404);
    return sub;
  }

  private emit(change: LifecycleChange, sub: Subscription): void {
    if (!this.events.enabled) return;
    this.events.send(
      lifecycleEvents(change, sub, {
        seed: this.ctx.settings.seed,
        sellerAccountId: this.ctx.settings.accountId,
        now: this.ctx.now(),
      }),
    );
  }

  private isoNow(): string {
    return new Date(this.ctx.now()).toISOString();
  }
}
