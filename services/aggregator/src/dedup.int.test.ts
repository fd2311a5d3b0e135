import { afterEach, describe, expect, it } from 'vitest';
import { testLogger } from '@meterstream/testing';
import { startAggregator, type Aggregator } from './start.js';
import {
  duplicateWindows,
  makeLoad,
  produce,
  setupCase,
  sortedEntries,
  testConfig,
  waitAllFrozen,
  windowTotals,
  type Case,
} from './testing/harness.js';

let c: Case | undefined;
let agg: Aggregator | undefined;
afterEach(async () => {
  await agg?.close();
  await c?.close();
  agg = undefined;
  c = undefined;
});

describe('aggregator: exactly-once windows', () => {
  it('100 000 events with 5 % re-sent ids in shuffled order give exact window totals', async () => {
    c = await setupCase('aggdedup', 3);
    const load = makeLoad(c, 100_000, 0.05);
    await produce(c, load.messages);
    agg = await startAggregator(testConfig(c), { logger: testLogger('agg') });
    await waitAllFrozen(c.db.ch, c.db.name, load.uniqueEvents);
    expect(sortedEntries(await windowTotals(c.db.ch, c.db.name))).toEqual(
      sortedEntries(load.expected),
    );
    expect(await duplicateWindows(c.db.ch, c.db.name)).toBe(0);
    const metrics = await agg.metrics.metrics.text();
    expect(metrics).toMatch(/meterstream_aggregator_dedup_hits_total 5000/);
  }, 180_000);
});
