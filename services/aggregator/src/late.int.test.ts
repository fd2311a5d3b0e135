import { afterEach, describe, expect, it } from 'vitest';
import { testLogger, waitFor } from '@meterstream/testing';
import { startAggregator, type Aggregator } from './start.js';
import { produceFreezeCommand } from './freeze-command.js';
import { HOUR_MS, hourOf } from './hours.js';
import { message, setupCase, testConfig, usageEvent, type Case } from './testing/harness.js';

let c: Case | undefined;
let agg: Aggregator | undefined;
afterEach(async () => {
  await agg?.close();
  await c?.close();
  agg = undefined;
  c = undefined;
});

const s = (ms: number): number => Math.floor(ms / 1000);

describe('aggregator: late usage', () => {
  it('carries usage of a frozen hour into the next open hour, records its origin, flags too-old usage', async () => {
    c = await setupCase('agglate', 1);
    const db = c.db.name;
    const H = hourOf(Date.now()) - 4 * HOUR_MS;
    const key = { productCode: 'prodL', customerIdentifier: 'cust-late', dimension: 'requests' };
    const onTime = [
      usageEvent({ ...key, id: 'a', quantity: '1', timestamp: H + 10 * 60_000 }),
      usageEvent({ ...key, id: 'b', quantity: '2.5', timestamp: H + 20 * 60_000 }),
    ];
    // Moves the watermark past H+1h+grace: H and H+1 are frozen before `late` arrives.
    const ahead = usageEvent({
      ...key,
      id: 'c',
      quantity: '4',
      timestamp: H + 2 * HOUR_MS + 10 * 60_000,
    });
    const late = usageEvent({ ...key, id: 'd', quantity: '8', timestamp: H + 30 * 60_000 });
    const tooOld = usageEvent({
      ...key,
      id: 'old',
      quantity: '16',
      timestamp: Date.now() - 30 * HOUR_MS,
    });
    await c.producer.send(
      c.topic.topic,
      [...onTime, ahead].map((e) => message(c as Case, e)),
    );
    agg = await startAggregator(testConfig(c, { idleMs: 60_000 }), { logger: testLogger('agg') });
    await waitFor('H frozen', async () => {
      const r = await c?.db.ch.query<{ n: string }>(
        `SELECT count() AS n FROM ${db}.window_freezes WHERE hour = toDateTime(${s(H + HOUR_MS)})`,
      );
      return Number(r?.[0]?.n) > 0 ? true : undefined;
    });
    await c.producer.send(
      c.topic.topic,
      [late, tooOld].map((e) => message(c as Case, e)),
    );
    const rows = await waitFor('late rows', async () => {
      const r = await c?.db.ch.query<{ id: string; eh: number; bh: number; too_old: number }>(
        `SELECT id, toUInt32(event_hour) AS eh, toUInt32(billing_hour) AS bh, too_old FROM ${db}.usage_events WHERE id IN ('d', 'old') ORDER BY id`,
      );
      return r?.length === 2 ? r : undefined;
    });
    expect(rows[0]).toMatchObject({ id: 'd', eh: s(H), bh: s(H + 2 * HOUR_MS), too_old: 0 });
    expect(rows[1]).toMatchObject({ id: 'old', too_old: 1 });
    expect(Number(rows[1]?.bh)).toBeGreaterThanOrEqual(s(hourOf(Date.now()) - HOUR_MS));

    const text = await agg.metrics.metrics.text();
    expect(text).toMatch(/late_events_total\{kind="too_old"\} 1/);
    expect(text).toMatch(/late_events_total\{kind="carried"\} 1/);

    // Freeze the rest by processing time: restart with a short idle time.
    await agg.close();
    agg = await startAggregator(testConfig(c, { idleMs: 500 }), { logger: testLogger('agg2') });
    const windows = await waitFor('window of H+2', async () => {
      const r = await c?.db.ch.query<{
        h: number;
        q: string;
        late: string;
        lc: string;
        n: string;
        kind: string;
        first: number;
      }>(
        `SELECT toUInt32(hour) AS h, toString(quantity_micros) AS q, toString(late_quantity_micros) AS late,
           toString(late_event_count) AS lc, toString(event_count) AS n, freeze_kind AS kind,
           toUInt32(first_event_at) AS first
         FROM ${db}.usage_windows WHERE product_code = 'prodL' ORDER BY h`,
      );
      return r && r.some((w) => Number(w.h) === s(H + 2 * HOUR_MS)) ? r : undefined;
    });
    // first_event_at is the earliest counted event's own time: for H+2 the late event's, in H.
    // The submitter takes the origin of carried usage from it (ADR 0006, issue 13 item 6).
    expect(windows.map((w) => ({ ...w, first: Number(w.first) }))).toEqual([
      {
        h: s(H),
        q: '3500000',
        late: '0',
        lc: '0',
        n: '2',
        kind: 'watermark',
        first: s(H + 10 * 60_000),
      },
      {
        h: s(H + 2 * HOUR_MS),
        q: '12000000',
        late: '8000000',
        lc: '1',
        n: '2',
        kind: 'watermark',
        first: s(H + 30 * 60_000),
      },
    ]);
    const lateView = await c.db.ch.query<{ id: string; hours_late: number }>(
      `SELECT id, hours_late FROM ${db}.late_usage WHERE id = 'd'`,
    );
    expect(lateView).toEqual([{ id: 'd', hours_late: 2 }]);
    // The freeze marker of H+2 follows its window (windows first, then the marker): wait for it.
    const freezes = await waitFor('freeze marker of H+2', async () => {
      const r = await c?.db.ch.query<{ h: number }>(
        `SELECT DISTINCT toUInt32(hour) AS h FROM ${db}.window_freezes WHERE hour <= toDateTime(${s(H + 2 * HOUR_MS)}) ORDER BY h`,
      );
      return r?.some((f) => Number(f.h) === s(H + 2 * HOUR_MS)) ? r : undefined;
    });
    expect(freezes.map((f) => Number(f.h))).toEqual([s(H), s(H + HOUR_MS), s(H + 2 * HOUR_MS)]);
  }, 120_000);

  it('freezes one key early on a FreezeCommand and carries its later usage of that hour', async () => {
    c = await setupCase('aggearly', 1);
    const db = c.db.name;
    const Hc = hourOf(Date.now());
    const k1 = { productCode: 'prodE', customerIdentifier: 'cust-1' };
    const k2 = { productCode: 'prodE', customerIdentifier: 'cust-2' };
    const t = Date.now() - 1000;
    await c.producer.send(
      c.topic.topic,
      [
        usageEvent({ ...k1, id: 'k1a', quantity: '1', timestamp: t }),
        usageEvent({ ...k1, id: 'k1b', quantity: '2', dimension: 'storage', timestamp: t }),
        usageEvent({ ...k2, id: 'k2a', quantity: '7', timestamp: t }),
      ].map((e) => message(c as Case, e)),
    );
    await produceFreezeCommand(
      c.producer,
      c.registry,
      {
        requestId: 'req-1',
        productCode: 'prodE',
        customer: 'cust-1',
        customerKind: 'identifier',
        dimensions: [],
        hour: Hc,
        requestedBy: 'seller@example.com',
        requestedAt: Date.now(),
      },
      c.topic.topic,
    );
    await c.producer.send(
      c.topic.topic,
      [usageEvent({ ...k1, id: 'k1c', quantity: '5', timestamp: t })].map((e) =>
        message(c as Case, e),
      ),
    );
    agg = await startAggregator(testConfig(c, { idleMs: 60_000 }), { logger: testLogger('agg') });
    const rows = await waitFor('4 rows', async () => {
      const r = await c?.db.ch.query<{ id: string; bh: number }>(
        `SELECT id, toUInt32(billing_hour) AS bh FROM ${db}.usage_events ORDER BY id`,
      );
      return r?.length === 4 ? r : undefined;
    });
    expect(rows).toEqual([
      { id: 'k1a', bh: s(Hc) },
      { id: 'k1b', bh: s(Hc) },
      { id: 'k1c', bh: s(Hc + HOUR_MS) },
      { id: 'k2a', bh: s(Hc) },
    ]);
    const windows = await c.db.ch.query<{
      customer: string;
      dimension: string;
      q: string;
      kind: string;
      request_id: string;
    }>(
      `SELECT customer, dimension, toString(quantity_micros) AS q, freeze_kind AS kind, request_id FROM ${db}.usage_windows ORDER BY customer, dimension`,
    );
    expect(windows).toEqual([
      {
        customer: 'cust-1',
        dimension: 'requests',
        q: '1000000',
        kind: 'early',
        request_id: 'req-1',
      },
      {
        customer: 'cust-1',
        dimension: 'storage',
        q: '2000000',
        kind: 'early',
        request_id: 'req-1',
      },
    ]);

    // After a restart the early freeze still holds (rebuilt from usage_windows).
    await agg.close();
    agg = await startAggregator(testConfig(c, { idleMs: 60_000 }), { logger: testLogger('agg2') });
    await c.producer.send(
      c.topic.topic,
      [usageEvent({ ...k1, id: 'k1d', quantity: '1', dimension: 'seats', timestamp: t })].map((e) =>
        message(c as Case, e),
      ),
    );
    const d = await waitFor('k1d', async () => {
      const r = await c?.db.ch.query<{ bh: number }>(
        `SELECT toUInt32(billing_hour) AS bh FROM ${db}.usage_events WHERE id = 'k1d'`,
      );
      return r?.[0];
    });
    expect(Number(d.bh)).toBe(s(Hc + HOUR_MS));
  }, 120_000);
});
