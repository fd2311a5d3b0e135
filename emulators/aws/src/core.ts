import { createHash } from 'node:crypto';
import type { Clock } from './clock.js';
import type { EmulatorContext, EmulatorSettings } from './context.js';
import { FaultInjector, type FaultKind } from './faults.js';
import { Registry } from './registry.js';
import { Agreements } from './services/agreement.js';
import { CloudTrail } from './services/cloudtrail.js';
import { getEntitlements } from './services/entitlement.js';
import { EventSender } from './services/events.js';
import { Lifecycle, type Amendment, type Ending } from './services/lifecycle.js';
import { Metering, callerAccount, type AppliedCall } from './services/metering.js';
import { Quota } from './services/quota.js';
import { Registration, type TokenRequest } from './services/registration.js';
import {
  emptyState,
  faultsSchema,
  type Entitlement,
  type Faults,
  type Product,
  type RegistrationToken,
  type State,
  type Subscription,
} from './state.js';
import type { CallContext, Json } from './wire.js';

export type { CallContext } from './wire.js';
export type { AppliedCall } from './services/metering.js';

/** What the core is given besides its state and clock. */
export interface CoreDeps {
  /** Lifecycle events go here (default: nowhere until an admin sets a target). */
  events?: EventSender | undefined;
}

/** The Agreement Service operations the emulator serves. */
export type AgreementOperation =
  'SearchAgreements' | 'DescribeAgreement' | 'GetAgreementTerms' | 'GetAgreementEntitlements';

const AGREEMENT_METHODS = {
  SearchAgreements: 'searchAgreements',
  DescribeAgreement: 'describeAgreement',
  GetAgreementTerms: 'getAgreementTerms',
  GetAgreementEntitlements: 'getAgreementEntitlements',
} as const satisfies Record<AgreementOperation, keyof Agreements>;

/**
 * The emulated services over one in-memory {@link State}: the shared state, clock and ids here,
 * each AWS service in `services/`, the seeded faults in `faults.ts`. Every mutation calls
 * `changed()` so the caller can persist. Faults are drawn from a seeded PRNG whose position is
 * part of the state.
 */
export class EmulatorCore {
  state: State;
  private readonly injector: FaultInjector;
  private readonly registry: Registry;
  private readonly trail: CloudTrail;
  private readonly metering: Metering;
  private readonly registration: Registration;
  private readonly agreements: Agreements;
  private readonly lifecycle: Lifecycle;
  /** The metering request quota and its per-second counts. */
  readonly quota: Quota;
  /** Where lifecycle events are posted. */
  readonly events: EventSender;

  constructor(
    state: State,
    private readonly baseClock: Clock,
    private readonly options: EmulatorSettings,
    private readonly changed: () => void,
    deps: CoreDeps = {},
  ) {
    this.state = state;
    // A getter, because reset() replaces the state object.
    const current = (): State => this.state;
    const context: EmulatorContext = {
      get state() {
        return current();
      },
      settings: options,
      now: () => this.now(),
      nextId: (prefix) => this.nextId(prefix),
      touch: () => this.touch(),
    };
    this.injector = new FaultInjector(state.rngState, () => this.state.faults);
    this.registry = new Registry(context);
    this.trail = new CloudTrail(context, this.injector);
    this.metering = new Metering(context, this.registry, this.injector, this.trail);
    this.registration = new Registration(context, this.registry);
    this.agreements = new Agreements(context, this.registry, this.registration);
    this.events = deps.events ?? new EventSender(undefined);
    this.lifecycle = new Lifecycle(context, this.registry, this.events);
    this.quota = new Quota(() => this.meteringRps);
  }

  /** Metering requests a second per account, region and operation; 0 = no quota. */
  get meteringRps(): number {
    return this.state.meteringRps ?? this.options.meteringRps ?? 0;
  }

  setMeteringRps(ratePerSecond: number): void {
    this.state.meteringRps = ratePerSecond;
    this.touch();
  }

  /** The emulated "now": the injected clock plus the admin offset. */
  now(): number {
    return this.baseClock.now() + this.state.clockOffsetMs;
  }

  private touch(): void {
    this.state.rngState = this.injector.position;
    this.changed();
  }

  private nextId(prefix: string): string {
    this.state.sequence += 1;
    const h = createHash('sha256')
      .update(`${this.options.seed}:${prefix}:${this.state.sequence}`)
      .digest('hex');
    // UUID-shaped, like AWS's MeteringRecordIds and CloudTrail eventIDs.
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }

  // ---- faults, clock, reset -------------------------------------------------------------------

  get faults(): Faults {
    return this.state.faults;
  }

  /** Throttling / InternalServiceError faults, drawn before the call is applied. */
  preCallFaults(kind: FaultKind): void {
    try {
      this.injector.preCall(kind);
    } catch (err) {
      this.touch();
      throw err;
    }
  }

  setFaults(input: unknown): Faults {
    const faults = faultsSchema.parse(input);
    this.state.faults = faults;
    if (faults.seed !== undefined) this.injector.reseed(faults.seed >>> 0);
    this.touch();
    return faults;
  }

  setClockOffset(offsetMs: number): void {
    this.state.clockOffsetMs = offsetMs;
    this.touch();
  }

  reset(): void {
    this.state = emptyState(this.options.seed);
    this.injector.reseed(this.state.rngState);
    this.trail.reset();
    this.quota.reset();
    this.touch();
  }

  // ---- admin ----------------------------------------------------------------------------------

  putProduct(p: Product): Product {
    return this.registry.putProduct(p);
  }

  /** Registers a subscription (license); emits its lifecycle events. */
  addSubscription(s: Subscription): Subscription {
    return this.lifecycle.subscribe(s);
  }

  amendLicense(licenseArn: string, a: Amendment): Subscription {
    return this.lifecycle.amend(licenseArn, a);
  }

  endLicense(licenseArn: string, e: Ending): Subscription {
    return this.lifecycle.end(licenseArn, e);
  }

  deprovisionLicense(licenseArn: string, at?: string): Subscription {
    return this.lifecycle.deprovision(licenseArn, at);
  }

  /** A registration token for a subscription (what the fulfillment redirect would carry). */
  mintRegistrationToken(req: TokenRequest): RegistrationToken {
    return this.registration.mint(req);
  }

  addEntitlement(e: Entitlement): Entitlement {
    return this.registry.addEntitlement(e);
  }

  // ---- the AWS APIs ---------------------------------------------------------------------------

  /** BatchMeterUsage. Faults were drawn by the caller; validation errors are logged to CloudTrail. */
  batchMeterUsage(input: Json, ctx: CallContext): AppliedCall<Json> {
    return this.metering.batchMeterUsage(input, ctx);
  }

  /** MeterUsage: one record for the calling account (AMI/container products); 6-hour window. */
  meterUsage(input: Json, ctx: CallContext): AppliedCall<Json> {
    return this.metering.meterUsage(input, ctx);
  }

  /**
   * Counts a metering call against the quota of its account and region; ThrottlingException
   * beyond it (nothing is applied or logged).
   */
  admitMetering(operation: string, ctx: CallContext): void {
    this.quota.admit(operation, callerAccount(ctx, this.options.accountId), ctx.region, this.now());
  }

  /** Metering Service ResolveCustomer. */
  resolveCustomer(input: Json): Json {
    return this.registration.resolveCustomer(input);
  }

  /** The Agreement Service's operations the seller uses. */
  agreement(operation: AgreementOperation, input: Json): Json {
    return this.agreements[AGREEMENT_METHODS[operation]](input);
  }

  /** CloudTrail LookupEvents. */
  lookupEvents(input: Json): Json {
    return this.trail.lookupEvents(input);
  }

  /** Entitlement Service GetEntitlements. */
  getEntitlements(input: Json): Json {
    return getEntitlements(this.state.entitlements, this.now(), input);
  }
}
