import { AwsError } from './aws-error.js';
import { Rng } from './clock.js';
import type { Faults, TrailEvent } from './state.js';

type Json = Record<string, unknown>;

/** Which fault knobs a call draws from before it is applied. */
export type FaultKind = 'metering' | 'entitlement' | 'lookup';

/**
 * The seeded fault injector: every fault is a draw from one deterministic random stream whose
 * position is part of the persisted state, so a run replays exactly after a restart. A knob at 0
 * draws nothing, so turning one fault off changes no other draw.
 */
export class FaultInjector {
  private rng: Rng;

  constructor(
    position: number,
    private readonly config: () => Faults,
  ) {
    this.rng = new Rng(position);
  }

  /** The stream's position, persisted as `state.rngState`. */
  get position(): number {
    return this.rng.state;
  }

  /** Restarts the stream at `position`. */
  reseed(position: number): void {
    this.rng = new Rng(position);
  }

  /** Throttling / InternalServiceError faults, drawn before the call is applied. */
  preCall(kind: FaultKind): void {
    const f = this.config();
    if (kind === 'lookup') {
      if (this.rng.chance(f.lookupThrottlingRate))
        throw new AwsError('ThrottlingException', 'Rate exceeded');
      return;
    }
    if (this.rng.chance(f.throttlingRate))
      throw new AwsError('ThrottlingException', 'Rate exceeded');
    if (this.rng.chance(f.internalErrorRate)) {
      throw new AwsError('InternalServiceErrorException', 'An internal error occurred', 500);
    }
  }

  /** Whether BatchMeterUsage leaves this record unprocessed (drawn per record). */
  unprocessed(): boolean {
    return this.rng.chance(this.config().unprocessedRate);
  }

  /** Whether an applied metering call's response is lost on the way back. */
  dropResponse(): boolean {
    return this.rng.chance(this.config().dropResponseRate);
  }

  /**
   * CloudTrail tamper faults, what the auditor must catch: the events to store for one logged
   * call (none when the trail lost it). Only calls with successful results are tampered.
   */
  tamper(event: TrailEvent, nextId: (prefix: string) => string): TrailEvent[] {
    const ct = this.config().cloudTrail;
    const results =
      ((event.record.responseElements as Json | null)?.results as Json[] | undefined) ?? [];
    const billed = results.filter((r) => r.status === 'Success');
    if (billed.length > 0 && this.rng.chance(ct.dropRate)) return []; // AWS billed it; the trail lost it.
    const out = [event];
    if (billed.length === 0) return out;
    const first = billed[0] as Json;
    if (this.rng.chance(ct.alterQuantityRate)) {
      const ur = first.usageRecord as Json;
      ur.quantity = typeof ur.quantity === 'number' ? ur.quantity + 1 : 1;
      event.tampered = 'alterQuantity';
    }
    if (this.rng.chance(ct.duplicateOtherQuantityRate)) out.push(duplicateOther(event, nextId));
    if (this.rng.chance(ct.injectForeignRate)) out.push(injectForeign(event, first, nextId));
    return out;
  }
}

/** A copy of `event` under a new id. */
function copyOf(event: TrailEvent, nextId: (prefix: string) => string): TrailEvent {
  const copy = JSON.parse(JSON.stringify(event)) as TrailEvent;
  copy.eventId = nextId('ev');
  copy.record.eventID = copy.eventId;
  return copy;
}

/** The same call logged again with another quantity for its first billed record. */
function duplicateOther(event: TrailEvent, nextId: (prefix: string) => string): TrailEvent {
  const copy = copyOf(event, nextId);
  const res = ((copy.record.responseElements as Json).results as Json[]).find(
    (r) => r.status === 'Success',
  );
  const ur = res?.usageRecord as Json | undefined;
  if (ur) ur.quantity = (typeof ur.quantity === 'number' ? ur.quantity : 0) + 7;
  copy.tampered = 'duplicateOtherQuantity';
  return copy;
}

/** A billed record of a customer the seller never metered, in the same hour. */
function injectForeign(
  event: TrailEvent,
  first: Json,
  nextId: (prefix: string) => string,
): TrailEvent {
  const copy = copyOf(event, nextId);
  const foreign = {
    timestamp: (first.usageRecord as Json).timestamp,
    customerIdentifier: 'foreign-customer',
    dimension: 'foreign',
    quantity: 42,
  };
  copy.record.requestParameters = {
    productCode: (event.record.requestParameters as Json).productCode,
    usageRecords: [foreign],
  };
  copy.record.responseElements = {
    results: [{ usageRecord: foreign, meteringRecordId: nextId('mr'), status: 'Success' }],
    unprocessedRecords: [],
  };
  copy.tampered = 'injectForeign';
  return copy;
}
