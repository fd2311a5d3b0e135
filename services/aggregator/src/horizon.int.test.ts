import { afterEach, describe, expect, it } from 'vitest';
import { testClock, testLogger, waitFor } from '@meterstream/testing';
import { startAggregator, type Aggregator } from './start.js';
import { HOUR_MS, hourOf } from './hours.js';
import { message, setupCase, testConfig, usageEvent, type Case } from './testing/harness.js';

// Events the aggregator must never count: a re-sent id older than the dedup horizon (its first
// count lies before the horizon's scan) and an event far in the future (its hour would never
// freeze). Both go to usage_rejects with their reason and bytes; the partition goes on.
// Time comes from a test clock (12:00 UTC on the 15th) that the test moves, never the wall clock.

let c: Case | undefined;
let agg: Aggregator | undefined;
afterEach(async () => {
  await agg?.close();
  await c?.close();
  agg = undefined;
  c = undefined;
});

const s = (ms: number): number => Math.floor(ms / 1000);

interface Reject {
  off: number;
  reason: string;
  value: string;
}

async function rejects(cs: Case): Promise<Reject[]> {
  const r = await cs.db.ch.query<Reject>(
    `SELECT kafka_offset AS off, reason, value_base64 AS value FROM ${cs.db.name}.usage_rejects ORDER BY off`,
  );
  return r.map((x) => ({ ...x, off: Number(x.off) }));
}

/** Hours (s) and quantities (micros) of the windows of one customer, in hour order. */
async function windows(cs: Case, customer: string): Promise<{ h: number; q: string }[]> {
  const r = await cs.db.ch.query<{ h: number; q: string }>(
    `SELECT toUInt32(hour) AS h, toString(quantity_micros) AS q FROM ${cs.db.name}.usage_windows
     WHERE customer = '${customer}' ORDER BY h`,
  );
  return r.map((w) => ({ h: Number(w.h), q: w.q }));
}

describe('aggregator: dedup horizon and far-future events', () => {
  it('never counts an id re-sent after the dedup horizon; a too-old event within it is still carried', async () => {
    c = await setupCase('agghorizon', 1);
    const cs = c;
    const clock = testClock();
    let shift = 0;
    const now = (): number => clock.now() + shift;
    const T = clock.hoursAgo(3) + 10 * 60_000;
    const key = { productCode: 'prodH', customerIdentifier: 'cust-h', dimension: 'requests' };
    const first = message(cs, usageEvent({ ...key, id: 'x', quantity: '5', timestamp: T }));
    await cs.producer.send(cs.topic.topic, [first]);
    agg = await startAggregator(testConfig(cs, { idleMs: 500 }), {
      logger: testLogger('agg'),
      now,
    });
    await waitFor('the window of x', async () =>
      (await windows(cs, 'cust-h')).length > 0 ? true : undefined,
    );

    // 200 hours later (horizon 168 h) the producer sends x again, with its original timestamp,
    // and a never-seen event 30 hours old (too old for AWS, within the horizon).
    shift = 200 * HOUR_MS;
    const resentAt = hourOf(now());
    const old = usageEvent({
      productCode: 'prodH',
      customerIdentifier: 'cust-old',
      dimension: 'requests',
      id: 'y',
      quantity: '2',
      timestamp: now() - 30 * HOUR_MS,
    });
    await cs.producer.send(cs.topic.topic, [first, message(cs, old)]);
    await waitFor('both messages handled', async () => {
      const [e] = await cs.db.ch.query<{ n: string }>(
        `SELECT count() AS n FROM ${cs.db.name}.usage_events`,
      );
      return Number(e?.n) + (await rejects(cs)).length >= 3 ? true : undefined;
    });
    // Move on until the hour the re-send would be billed in is frozen.
    shift = 203 * HOUR_MS;
    await waitFor(
      'the re-send hour frozen',
      async () => {
        const [f] = await cs.db.ch.query<{ h: number }>(
          `SELECT toUInt32(max(hour)) AS h FROM ${cs.db.name}.window_freezes`,
        );
        return Number(f?.h) >= s(resentAt) ? true : undefined;
      },
      { timeoutMs: 120_000 },
    );

    expect(await windows(cs, 'cust-h')).toEqual([{ h: s(hourOf(T)), q: '5000000' }]);
    const r = await rejects(cs);
    expect(r).toEqual([
      { off: 1, reason: 'beyond_dedup_horizon', value: first.value?.toString('base64') },
    ]);
    // The too-old event within the horizon is carried to the current hour and counted once.
    expect(await windows(cs, 'cust-old')).toEqual([{ h: s(resentAt), q: '2000000' }]);
    expect(await agg.metrics.metrics.text()).toMatch(
      /rejected_messages_total\{reason="beyond_dedup_horizon"\} 1/,
    );
  }, 180_000);

  it('rejects far-future timestamps (2100, and 2200 past the u32 DateTime) and goes on with the partition', async () => {
    c = await setupCase('aggfuture', 1);
    const cs = c;
    const clock = testClock();
    const key = { productCode: 'prodF', dimension: 'requests' };
    const y2100 = message(
      cs,
      usageEvent({
        ...key,
        customerIdentifier: 'cust-f',
        id: 'f2100',
        quantity: '3',
        timestamp: Date.UTC(2100, 0, 1, 0, 30),
      }),
    );
    const y2200 = message(
      cs,
      usageEvent({
        ...key,
        customerIdentifier: 'cust-f',
        id: 'f2200',
        quantity: '4',
        timestamp: Date.UTC(2200, 0, 1, 0, 30),
      }),
    );
    const T = clock.hoursAgo(2) + 10 * 60_000;
    const normal = message(
      cs,
      usageEvent({ ...key, customerIdentifier: 'cust-n', id: 'n', quantity: '1', timestamp: T }),
    );
    await cs.producer.send(cs.topic.topic, [y2100, y2200, normal]);
    agg = await startAggregator(testConfig(cs, { idleMs: 500 }), {
      logger: testLogger('agg'),
      now: clock.now,
    });
    // Rejects are written before the rows that follow them, so once the later event's window
    // exists, the rejects are there too.
    await waitFor('the window of the event after them', async () =>
      (await windows(cs, 'cust-n')).length > 0 ? true : undefined,
    );
    expect(await windows(cs, 'cust-n')).toEqual([{ h: s(hourOf(T)), q: '1000000' }]);
    expect(await rejects(cs)).toEqual([
      { off: 0, reason: 'timestamp_in_future', value: y2100.value?.toString('base64') },
      { off: 1, reason: 'timestamp_in_future', value: y2200.value?.toString('base64') },
    ]);
    const rows = await cs.db.ch.query<{ id: string }>(
      `SELECT id FROM ${cs.db.name}.usage_events ORDER BY id`,
    );
    expect(rows).toEqual([{ id: 'n' }]);
    expect(await windows(cs, 'cust-f')).toEqual([]);
  }, 120_000);
});
