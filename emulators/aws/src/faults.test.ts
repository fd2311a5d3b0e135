import { describe, expect, it } from 'vitest';
import { AwsError } from './aws-error.js';
import { FaultInjector } from './faults.js';
import { faultsSchema, type Faults, type TrailEvent } from './state.js';

const faults = (over: Record<string, unknown> = {}): Faults => faultsSchema.parse(over);

function event(status = 'Success'): TrailEvent {
  return {
    eventId: 'ev-0',
    eventName: 'BatchMeterUsage',
    eventSource: 'metering-marketplace.amazonaws.com',
    eventTime: 0,
    deliverAt: 0,
    username: 'meterstream',
    accessKeyId: 'AKID',
    readOnly: false,
    record: {
      eventID: 'ev-0',
      requestParameters: { productCode: 'prod-a', usageRecords: [] },
      responseElements: {
        results: [{ usageRecord: { timestamp: 't', quantity: 5 }, status }],
        unprocessedRecords: [],
      },
    },
  };
}

function ids(): (prefix: string) => string {
  let n = 0;
  return (prefix) => `${prefix}-${++n}`;
}

const quantityOf = (e: TrailEvent | undefined): unknown =>
  (e?.record.responseElements as { results: { usageRecord: { quantity: unknown } }[] }).results[0]
    ?.usageRecord.quantity;

describe('FaultInjector', () => {
  it('draws nothing while every knob is 0', () => {
    const f = new FaultInjector(42, () => faults());
    f.preCall('metering');
    f.preCall('lookup');
    expect([f.unprocessed(), f.dropResponse()]).toEqual([false, false]);
    expect(f.tamper(event(), ids())).toHaveLength(1);
    expect(f.position).toBe(42);
  });

  it('throws the pre-call fault of the kind: lookups only throttle', () => {
    const on = faults({ throttlingRate: 1, internalErrorRate: 1, lookupThrottlingRate: 0 });
    const f = new FaultInjector(1, () => on);
    expect(() => f.preCall('metering')).toThrow(AwsError);
    expect(() => f.preCall('lookup')).not.toThrow();
    const err = new FaultInjector(1, () => faults({ internalErrorRate: 1 }));
    expect(() => err.preCall('entitlement')).toThrow(
      expect.objectContaining({ type: 'InternalServiceErrorException', status: 500 }),
    );
  });

  it('replays the same draws from the same position', () => {
    const cfg = faults({ unprocessedRate: 0.5 });
    const a = new FaultInjector(7, () => cfg);
    const b = new FaultInjector(1, () => cfg);
    b.reseed(7);
    const draws = (f: FaultInjector): boolean[] =>
      Array.from({ length: 20 }, () => f.unprocessed());
    expect(draws(a)).toEqual(draws(b));
    expect(a.position).toBe(b.position);
  });

  it('loses a billed event, but never an event without billed results', () => {
    const f = new FaultInjector(1, () => faults({ cloudTrail: { dropRate: 1 } }));
    expect(f.tamper(event(), ids())).toEqual([]);
    expect(f.tamper(event('DuplicateRecord'), ids())).toHaveLength(1);
  });

  it('alters, duplicates with another quantity and injects a foreign record, each under a new id', () => {
    const f = new FaultInjector(1, () =>
      faults({
        cloudTrail: { alterQuantityRate: 1, duplicateOtherQuantityRate: 1, injectForeignRate: 1 },
      }),
    );
    const [own, dup, foreign] = f.tamper(event(), ids());
    expect(own?.tampered).toBe('alterQuantity');
    expect(quantityOf(own)).toBe(6);
    expect(dup).toMatchObject({ eventId: 'ev-1', tampered: 'duplicateOtherQuantity' });
    expect(dup?.record.eventID).toBe('ev-1');
    expect(quantityOf(dup)).toBe(13);
    expect(foreign).toMatchObject({ eventId: 'ev-2', tampered: 'injectForeign' });
    expect(foreign?.record.responseElements).toMatchObject({
      results: [
        {
          usageRecord: { customerIdentifier: 'foreign-customer', quantity: 42, timestamp: 't' },
          meteringRecordId: 'mr-3',
          status: 'Success',
        },
      ],
    });
  });
});
