import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCloudTrailEvent, parseTimestamp } from './parse.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8');

describe('parseCloudTrailEvent', () => {
  it('reads the documented AWS example (customerIdentifier, Java-style timestamps)', () => {
    const p = parseCloudTrailEvent(fixture('batch-identifier-doc-style'));
    expect(p.kind).toBe('metering');
    if (p.kind !== 'metering') return;
    expect(p.eventId).toBe('cEXAMPLE-e6c2-465d-b47f-150EXAMPLEa2');
    expect(p.eventTimeMs).toBe(Date.UTC(2018, 3, 19, 16, 32, 51));
    expect(p.records).toHaveLength(1);
    expect(p.records[0]).toMatchObject({
      productCode: 'EXAMPLE_proCode',
      customer: 'EXAMPLE_customerID',
      customerKind: 'identifier',
      dimension: 'Dimension1',
      hourMs: Date.UTC(2018, 3, 19, 16),
      quantity: 1,
      requestQuantity: 1,
      status: 'Success',
      meteringRecordId: 'bEXAMPLE-98f0-4e90-8bd2-bf0EXAMPLE1e',
    });
  });

  it('reads CustomerAWSAccountId, LicenseArn and allocations', () => {
    const p = parseCloudTrailEvent(fixture('batch-account-license-allocations'));
    if (p.kind !== 'metering') throw new Error(p.kind);
    expect(p.records[0]).toMatchObject({
      productCode: 'prod-new-2026',
      customer: '444455556666',
      customerKind: 'account',
      licenseArn: 'arn:aws:license-manager::444455556666:license:l-0123456789abcdef',
      quantity: 120,
      allocations: [
        { quantity: 100, tags: { team: 'alpha' } },
        { quantity: 20, tags: { team: 'beta' } },
      ],
    });
  });

  it('keeps each per-record result, unprocessed records and defaults an omitted quantity to 0', () => {
    const p = parseCloudTrailEvent(fixture('batch-mixed-results'));
    if (p.kind !== 'metering') throw new Error(p.kind);
    expect(p.records.map((r) => [r.customer, r.status, r.quantity, r.recordIndex])).toEqual([
      ['cust-a', 'Success', 5, 0],
      ['cust-b', 'DuplicateRecord', 9, 1],
      ['cust-c', 'CustomerNotSubscribed', 3, 2],
      ['cust-d', 'Unprocessed', 0, 3],
    ]);
    expect(p.records[0]?.timestampMs).toBe(1_795_683_600_000);
  });

  it('marks every record of a failed call as Error with its code', () => {
    const p = parseCloudTrailEvent(fixture('batch-throttled'));
    if (p.kind !== 'metering') throw new Error(p.kind);
    expect(p.records).toHaveLength(1);
    expect(p.records[0]).toMatchObject({ status: 'Error', errorCode: 'ThrottlingException' });
  });

  it('reads MeterUsage as a record of the calling account', () => {
    const p = parseCloudTrailEvent(fixture('meter-usage'));
    if (p.kind !== 'metering') throw new Error(p.kind);
    expect(p.records[0]).toMatchObject({
      productCode: 'prod-ami',
      customer: '777788889999',
      customerKind: 'caller',
      dimension: 'hosts',
      quantity: 2,
      status: 'Success',
    });
  });

  it('keeps the result quantity apart from the requested one', () => {
    const e = JSON.parse(fixture('batch-identifier-doc-style')) as {
      responseElements: { results: { usageRecord: { quantity: number } }[] };
    };
    e.responseElements.results[0]!.usageRecord.quantity = 2;
    const p = parseCloudTrailEvent(JSON.stringify(e));
    if (p.kind !== 'metering') throw new Error(p.kind);
    expect(p.records[0]).toMatchObject({ quantity: 2, requestQuantity: 1 });
  });

  it('turns unknown shapes into unparseable events with the raw text, never throwing', () => {
    const raw = fixture('unparseable-missing-dimension');
    const p = parseCloudTrailEvent(raw);
    expect(p).toMatchObject({ kind: 'unparseable', eventId: 'ev-bad-0005', raw });
    if (p.kind === 'unparseable') expect(p.reason).toMatch(/dimension/);
    const notJson = parseCloudTrailEvent('{"eventID": ', { eventId: 'ev-x', eventTimeMs: 5 });
    expect(notJson).toMatchObject({
      kind: 'unparseable',
      eventId: 'ev-x',
      eventTimeMs: 5,
      reason: 'not JSON',
    });
    const both = JSON.parse(fixture('batch-mixed-results')) as {
      requestParameters: { usageRecords: Record<string, unknown>[] };
    };
    both.requestParameters.usageRecords[0]!.customerAWSAccountId = '111122223333';
    expect(parseCloudTrailEvent(JSON.stringify(both)).kind).toBe('unparseable');
    for (const weird of ['null', '[]', '42', '{}', '{"eventTime":"x"}']) {
      expect(parseCloudTrailEvent(weird).kind).toBe('unparseable');
    }
    // Without an eventID the synthetic id is stable, so the finding is still reported once.
    expect(parseCloudTrailEvent('garbage').eventId).toBe(parseCloudTrailEvent('garbage').eventId);
  });

  it('ignores other events of the metering source', () => {
    const e = JSON.parse(fixture('meter-usage')) as Record<string, unknown>;
    e.eventName = 'ResolveCustomer';
    expect(parseCloudTrailEvent(JSON.stringify(e)).kind).toBe('ignored');
  });
});

describe('parseTimestamp', () => {
  it('accepts ISO, epoch seconds, epoch millis and the Java style; rejects the rest', () => {
    expect(parseTimestamp('2026-11-26T09:00:00Z')).toBe(Date.UTC(2026, 10, 26, 9));
    expect(parseTimestamp(1_795_683_600)).toBe(1_795_683_600_000);
    expect(parseTimestamp(1_795_683_600_000)).toBe(1_795_683_600_000);
    expect(parseTimestamp('Dec 1, 2026 12:05:00 AM')).toBe(Date.UTC(2026, 11, 1, 0, 5));
    expect(parseTimestamp('Dec 1, 2026 12:05:00 PM')).toBe(Date.UTC(2026, 11, 1, 12, 5));
    expect(() => parseTimestamp('yesterday')).toThrow();
  });
});
