import { afterEach, describe, expect, it } from 'vitest';
import { testLogger } from '@meterstream/testing';
import { startAggregator, type Aggregator } from './start.js';
import { HOUR_MS } from './hours.js';
import {
  duplicateWindows,
  makeLoad,
  produce,
  setupCase,
  sleep,
  sortedEntries,
  testConfig,
  waitAllFrozen,
  waitConsumed,
  windowTotals,
  type Case,
} from './testing/harness.js';

let c: Case | undefined;
const running: Aggregator[] = [];
afterEach(async () => {
  for (const a of running.splice(0)) await a.close();
  await c?.close();
  c = undefined;
});

describe('aggregator: two instances and rebalances', () => {
  it('loses and doubles nothing when a second instance joins and the first leaves mid-load', async () => {
    c = await setupCase('aggrebal', 4);
    const load = makeLoad(c, 100_000, 0.05);
    const third = Math.ceil(load.messages.length / 3);
    // Pauses between phases make partitions idle; the idle fallback may freeze up to the previous
    // hour and carry the next phase into the current hour. At the end the clock moves 2 h ahead
    // so the current hour freezes too and the windows are final.
    let shift = 0;
    const now = (): number => Date.now() + shift;
    const a = await startAggregator(testConfig(c), { logger: testLogger('agg-a'), now });
    running.push(a);
    await produce(c, load.messages.slice(0, third));
    await sleep(1500);
    // Second instance: forces a rebalance while A is consuming.
    const b = await startAggregator(testConfig(c), { logger: testLogger('agg-b'), now });
    running.push(b);
    await produce(c, load.messages.slice(third, 2 * third));
    await sleep(1500);
    // A leaves: another rebalance, B takes every partition (and fences before reading state).
    await a.close();
    running.splice(running.indexOf(a), 1);
    await produce(c, load.messages.slice(2 * third));
    await waitConsumed(c.db.ch, c.db.name, load.uniqueEvents);
    shift = 2 * HOUR_MS;
    await waitAllFrozen(c.db.ch, c.db.name, load.uniqueEvents);
    expect(sortedEntries(await windowTotals(c.db.ch, c.db.name))).toEqual(
      sortedEntries(load.expected),
    );
    expect(await duplicateWindows(c.db.ch, c.db.name)).toBe(0);
    const [owners] = await c.db.ch.query<{ n: string }>(
      `SELECT uniqExact(owner) AS n FROM ${c.db.name}.partition_owners`,
    );
    expect(Number(owners?.n)).toBeGreaterThanOrEqual(2);
  }, 240_000);
});
