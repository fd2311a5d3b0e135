import { createHash } from 'node:crypto';
import type { Clock } from './clock.js';
import type { EmulatorContext, EmulatorSettings } from './context.js';
import { FaultInjector, type FaultKind } from './faults.js';
import { Registry } from './registry.js';
import { CloudTrail } from './services/cloudtrail.js';
import { getEntitlements } from './services/entitlement.js';
import { Metering, type AppliedCall } from './services/metering.js';
import {
  emptyState,
  faultsSchema,
  type Entitlement,
  type Faults,
  type Product,
  type State,
  type Subscription,
} from './state.js';
import type { CallContext, Json } from './wire.js';

export type { CallContext } from './wire.js';
export type { AppliedCall } from './services/metering.js';

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

  constructor(
    state: State,
    private readonly baseClock: Clock,
    private readonly options: EmulatorSettings,
    private readonly changed: () => void,
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
    this.touch();
  }

  // ---- admin ----------------------------------------------------------------------------------

  putProduct(p: Product): Product {
    return this.registry.putProduct(p);
  }

  addSubscription(s: Subscription): Subscription {
    return this.registry.addSubscription(s);
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

  /** CloudTrail LookupEvents. */
  lookupEvents(input: Json): Json {
    return this.trail.lookupEvents(input);
  }

  /** Entitlement Service GetEntitlements. */
  getEntitlements(input: Json): Json {
    return getEntitlements(this.state.entitlements, this.now(), input);
  }
}
